package imageio

import (
	"bytes"
	"encoding/binary"
)

// XMP orientation. Editors that write XMP (Lightroom, darktable, exiftool) record the
// orientation as tiff:Orientation in the XMP packet too, and some files carry it there
// alone; it is read when no EXIF block (or TIFF tag) gives one.

var xmpJPEGHeader = []byte("http://ns.adobe.com/xap/1.0/\x00")

// xmpOrientation returns the tiff:Orientation of the XMP packet of an image file, or 0.
func xmpOrientation(format string, data []byte) int {
	var packet []byte
	switch format {
	case "jpeg":
		packet = jpegSegment(data, 0xe1, xmpJPEGHeader)
	case "png":
		packet = pngXMP(data)
	case "webp":
		packet = webpChunk(data, "XMP ")
	case "tiff":
		if d, err := readTIFFDir(data); err == nil {
			packet = d.bytes[ttXMP]
		}
	}
	return xmpPacketOrientation(packet)
}

// xmpPacketOrientation finds tiff:Orientation, as an attribute or an element, in an XMP
// packet.
func xmpPacketOrientation(p []byte) int {
	const key = "tiff:Orientation"
	for {
		i := bytes.Index(p, []byte(key))
		if i < 0 {
			return 0
		}
		p = p[i+len(key):]
		// `="6"`, `='6'` or `>6<`, with space allowed around.
		v := bytes.TrimLeft(p, " \t\r\n")
		switch {
		case len(v) > 0 && v[0] == '=':
			v = bytes.TrimLeft(v[1:], " \t\r\n")
			if len(v) >= 3 && (v[0] == '"' || v[0] == '\'') && v[2] == v[0] && v[1] >= '1' && v[1] <= '8' {
				return int(v[1] - '0')
			}
		case len(v) > 0 && v[0] == '>':
			v = bytes.TrimLeft(v[1:], " \t\r\n")
			if len(v) >= 1 && v[0] >= '1' && v[0] <= '8' && (len(v) == 1 || v[1] == '<' || v[1] == ' ') {
				return int(v[0] - '0')
			}
		}
	}
}

// jpegSegment returns the payload, after prefix, of the first marker segment of a JPEG with
// that marker and prefix, or nil. It stops at the first scan.
func jpegSegment(data []byte, marker byte, prefix []byte) []byte {
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return nil
	}
	for p := 2; p+4 <= len(data); {
		if data[p] != 0xff {
			return nil
		}
		m := data[p+1]
		switch {
		case m == 0xff:
			p++
			continue
		case m == 0x01 || (m >= 0xd0 && m <= 0xd8):
			p += 2
			continue
		case m == 0xd9 || m == 0xda:
			return nil
		}
		n := int(binary.BigEndian.Uint16(data[p+2:]))
		if n < 2 || p+2+n > len(data) {
			return nil
		}
		if seg := data[p+4 : p+2+n]; m == marker && bytes.HasPrefix(seg, prefix) {
			return seg[len(prefix):]
		}
		p += 2 + n
	}
	return nil
}

// pngXMP returns the text of a PNG's uncompressed iTXt chunk "XML:com.adobe.xmp", or nil.
func pngXMP(data []byte) []byte {
	const sig = "\x89PNG\r\n\x1a\n"
	if !bytes.HasPrefix(data, []byte(sig)) {
		return nil
	}
	for p := len(sig); p+8 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[p:]))
		if n < 0 || n > len(data)-p-12 {
			return nil
		}
		typ, body := string(data[p+4:p+8]), data[p+8:p+8+n]
		if typ == "IEND" || typ == "IDAT" {
			return nil
		}
		// keyword \0, compression flag, method, language \0, translated keyword \0, text
		if k := []byte("XML:com.adobe.xmp\x00"); typ == "iTXt" && bytes.HasPrefix(body, k) && len(body) > len(k)+2 && body[len(k)] == 0 {
			rest := body[len(k)+2:]
			for range 2 {
				i := bytes.IndexByte(rest, 0)
				if i < 0 {
					return nil
				}
				rest = rest[i+1:]
			}
			return rest
		}
		p += 12 + n
	}
	return nil
}

// webpChunk returns the payload of a WebP's first chunk with the id, or nil.
func webpChunk(data []byte, id string) []byte {
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return nil
	}
	for p := 12; p+8 <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[p+4:]))
		if n < 0 || n > len(data)-p-8 {
			return nil
		}
		if string(data[p:p+4]) == id {
			return data[p+8 : p+8+n]
		}
		p += 8 + n + n&1
	}
	return nil
}
