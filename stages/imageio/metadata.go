package imageio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
)

// MaxMetadataSize bounds each metadata block (ICC profile, EXIF, XMP) read from a file, after
// decompression: a PNG's zlib-compressed profile of a few bytes must not expand into
// gigabytes. The largest profiles in common use (printer LUT profiles) are a few megabytes.
const MaxMetadataSize = 16 << 20

// Metadata is what an image file says about its pixels besides the pixels: the embedded ICC
// profile and the raw EXIF and XMP blocks. Every field is a copy of the file's bytes (the
// file's buffer goes back to a pool), or nil when the file has none or it is damaged: a
// damaged metadata block must not cost the image.
type Metadata struct {
	// ICC is the embedded ICC profile, whole: reassembled from a JPEG's APP2 ICC_PROFILE
	// segments in sequence order, inflated from a PNG's iCCP chunk, a WebP's ICCP chunk,
	// a TIFF's tag 34675.
	ICC []byte
	// EXIF is the EXIF block as a TIFF structure ("II*\0" or "MM\0*"), without the JPEG
	// "Exif\0\0" prefix: from a JPEG's APP1 segment, a PNG's eXIf chunk or a WebP's EXIF
	// chunk. A TIFF file's own tags are not copied.
	EXIF []byte
	// XMP is the XMP packet (UTF-8 XML): from a JPEG's APP1 segment, a PNG's iTXt chunk
	// with keyword XML:com.adobe.xmp, a WebP's "XMP " chunk, or a TIFF's tag 700.
	XMP []byte
}

// ReadMetadata returns the metadata of an image file held in data. format is a name from
// image.DecodeConfig ("jpeg", "png", "webp", "tiff"); other formats have none. With icc false
// the profile is not read, with rest false neither EXIF nor XMP. It reads only the bytes it
// needs and checks every length and offset against the data.
func ReadMetadata(format string, data []byte, icc, rest bool) Metadata {
	var m Metadata
	if !icc && !rest {
		return m
	}
	switch format {
	case "jpeg":
		m = jpegMetadata(data)
	case "png":
		m = pngMetadata(data, icc, rest)
	case "webp":
		m = webpMetadata(data)
	case "tiff":
		m = tiffMetadata(data)
	case "heif", "avif":
		if icc {
			m.ICC = heifICC(data)
		}
	}
	if !icc {
		m.ICC = nil
	}
	if !rest {
		m.EXIF, m.XMP = nil, nil
	}
	m.ICC, m.EXIF, m.XMP = clip(m.ICC), clip(m.EXIF), clip(m.XMP)
	return m
}

// clip copies b out of the file's buffer, or drops it when it is over MaxMetadataSize.
func clip(b []byte) []byte {
	if len(b) == 0 || len(b) > MaxMetadataSize {
		return nil
	}
	return bytes.Clone(b)
}

var (
	iccSignature = []byte("ICC_PROFILE\x00")
	xmpSignature = []byte("http://ns.adobe.com/xap/1.0/\x00")
)

// jpegMetadata walks a JPEG's marker segments from SOI to the first scan.
func jpegMetadata(data []byte) Metadata {
	var m Metadata
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return m
	}
	var chunks [256][]byte // ICC_PROFILE chunks by sequence number (1-based)
	count, total, bad := 0, 0, false
	p := 2
	for p+4 <= len(data) {
		if data[p] != 0xff {
			break
		}
		marker := data[p+1]
		switch {
		case marker == 0xff:
			p++
			continue
		case marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8):
			p += 2
			continue
		}
		if marker == 0xd9 || marker == 0xda {
			break
		}
		n := int(binary.BigEndian.Uint16(data[p+2:]))
		if n < 2 || p+2+n > len(data) {
			break
		}
		seg := data[p+4 : p+2+n]
		p += 2 + n
		switch {
		case marker == 0xe1 && bytes.HasPrefix(seg, exifHeader) && m.EXIF == nil:
			m.EXIF = seg[len(exifHeader):]
		case marker == 0xe1 && bytes.HasPrefix(seg, xmpSignature) && m.XMP == nil:
			m.XMP = seg[len(xmpSignature):]
		case marker == 0xe2 && bytes.HasPrefix(seg, iccSignature) && len(seg) >= len(iccSignature)+2:
			seq, cnt := int(seg[len(iccSignature)]), int(seg[len(iccSignature)+1])
			switch {
			case seq == 0 || cnt == 0 || seq > cnt || (count != 0 && cnt != count) || chunks[seq] != nil:
				bad = true // a chunk out of its sequence: the profile cannot be trusted
			default:
				count = cnt
				chunks[seq] = seg[len(iccSignature)+2:]
				total += len(chunks[seq])
			}
		}
	}
	if count > 0 && !bad && total <= MaxMetadataSize {
		icc := make([]byte, 0, total)
		for seq := 1; seq <= count; seq++ {
			if chunks[seq] == nil {
				return m // a missing chunk
			}
			icc = append(icc, chunks[seq]...)
		}
		m.ICC = icc
	}
	return m
}

// pngMetadata reads a PNG's iCCP, eXIf and XMP iTXt chunks, up to IEND.
func pngMetadata(data []byte, icc, rest bool) Metadata {
	var m Metadata
	const sig = "\x89PNG\r\n\x1a\n"
	if !bytes.HasPrefix(data, []byte(sig)) {
		return m
	}
	p := len(sig)
	for p+8 <= len(data) {
		n := int(binary.BigEndian.Uint32(data[p:]))
		typ := string(data[p+4 : p+8])
		if n < 0 || n > len(data)-p-12 {
			break
		}
		chunk := data[p+8 : p+8+n]
		p += 12 + n
		switch {
		case typ == "IEND":
			return m
		case typ == "iCCP" && icc && m.ICC == nil:
			// profile name (1-79 bytes), NUL, compression method 0 (zlib), the stream.
			if i := bytes.IndexByte(chunk, 0); i >= 1 && i+2 <= len(chunk) && chunk[i+1] == 0 {
				m.ICC = inflate(chunk[i+2:])
			}
		case typ == "eXIf" && rest && m.EXIF == nil:
			m.EXIF = chunk
		case typ == "iTXt" && rest && m.XMP == nil:
			m.XMP = pngXMP(chunk)
		}
	}
	return m
}

// pngXMP returns the text of an iTXt chunk whose keyword is XML:com.adobe.xmp, or nil. The
// chunk is keyword, NUL, compression flag, compression method, language tag, NUL,
// translated keyword, NUL, text.
func pngXMP(chunk []byte) []byte {
	const key = "XML:com.adobe.xmp\x00"
	if !bytes.HasPrefix(chunk, []byte(key)) || len(chunk) < len(key)+2 {
		return nil
	}
	compressed, method := chunk[len(key)], chunk[len(key)+1]
	rest := chunk[len(key)+2:]
	for range 2 { // language tag, translated keyword
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return nil
		}
		rest = rest[i+1:]
	}
	switch {
	case compressed == 0:
		return rest
	case method == 0:
		return inflate(rest)
	}
	return nil
}

// inflate decompresses a zlib stream, up to MaxMetadataSize bytes; nil when it is damaged or
// larger.
func inflate(b []byte) []byte {
	r, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, MaxMetadataSize+1))
	if err != nil || len(out) > MaxMetadataSize {
		return nil
	}
	return out
}

// webpMetadata reads a WebP's ICCP, EXIF and "XMP " chunks.
func webpMetadata(data []byte) Metadata {
	var m Metadata
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return m
	}
	p := 12
	for p+8 <= len(data) {
		n := int(binary.LittleEndian.Uint32(data[p+4:]))
		if n < 0 || n > len(data)-p-8 {
			break
		}
		chunk := data[p+8 : p+8+n]
		switch string(data[p : p+4]) {
		case "ICCP":
			m.ICC = chunk
		case "EXIF":
			m.EXIF = bytes.TrimPrefix(chunk, exifHeader)
		case "XMP ":
			m.XMP = chunk
		}
		p += 8 + n + n&1
	}
	return m
}

// tiffMetadata reads tags 34675 (ICC profile) and 700 (XMP) of a TIFF's first IFD.
func tiffMetadata(t []byte) Metadata {
	var m Metadata
	if len(t) < 8 {
		return m
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return m
	}
	ifd := int64(bo.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > int64(len(t)) {
		return m
	}
	count := int64(bo.Uint16(t[ifd:]))
	for i := range count {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(t)) {
			break
		}
		tag, typ, n := bo.Uint16(t[e:]), bo.Uint16(t[e+2:]), int64(bo.Uint32(t[e+4:]))
		if (tag != 34675 && tag != 700) || (typ != 1 && typ != 7) { // BYTE or UNDEFINED
			continue
		}
		var v []byte
		if n <= 4 {
			v = t[e+8 : e+8+n]
		} else if off := int64(bo.Uint32(t[e+8:])); off >= 0 && off <= int64(len(t)) && n <= int64(len(t))-off {
			v = t[off : off+n]
		}
		if tag == 34675 {
			m.ICC = v
		} else {
			m.XMP = v
		}
	}
	return m
}
