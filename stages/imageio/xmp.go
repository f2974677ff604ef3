package imageio

import "bytes"

// XMP orientation. Editors that write XMP (Lightroom, darktable, exiftool) record the
// orientation as tiff:Orientation in the XMP packet too, and some files carry it there
// alone; it is read when no EXIF block (or TIFF tag) gives one.

// xmpFileOrientation returns the tiff:Orientation of the XMP packet of an image file, or 0.
func xmpFileOrientation(format string, data []byte) int {
	packet := ReadMetadata(format, data, false, true).XMP
	if packet == nil && format == "tiff" { // a BigTIFF, which ReadMetadata does not read
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
