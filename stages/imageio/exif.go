package imageio

import (
	"bytes"
	"encoding/binary"
)

// Orientation returns the EXIF orientation (1 to 8) recorded in an image file: in the APP1
// Exif segment of a JPEG, the eXIf chunk of a PNG, the EXIF chunk of a WebP, or the first
// IFD of a TIFF (or BigTIFF); failing those, the tiff:Orientation of its XMP packet. It
// returns 1 (stored as shown) when there is none or it cannot be read: a
// damaged EXIF block must not cost the image. format is a name from image.DecodeConfig.
//
// The parser reads only the bytes it needs and checks every offset against the data, so its
// cost is bounded by the number of segments or chunks before the EXIF block.
func Orientation(format string, data []byte) int {
	var tiff []byte
	switch format {
	case "jpeg":
		tiff = jpegExif(data)
	case "png":
		tiff = pngMetadata(data, false, true).EXIF
	case "webp":
		tiff = webpMetadata(data).EXIF
	case "tiff":
		tiff = data
	}
	if o := tiffOrientation(tiff); o >= 1 && o <= 8 {
		return o
	}
	if format == "tiff" { // a BigTIFF, which tiffOrientation does not read
		if d, err := readTIFFDir(data); err == nil {
			if o := d.first(ttOrientation, 0); o >= 1 && o <= 8 {
				return int(o)
			}
		}
	}
	if o := xmpFileOrientation(format, data); o != 0 {
		return o
	}
	return 1
}

var exifHeader = []byte("Exif\x00\x00")

// jpegExif returns the TIFF structure of a JPEG's Exif APP1 segment, or nil. It walks the
// marker segments from SOI and stops at the first scan, where metadata segments end.
func jpegExif(data []byte) []byte {
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return nil
	}
	p := 2
	for p+4 <= len(data) {
		if data[p] != 0xff {
			return nil
		}
		marker := data[p+1]
		switch {
		case marker == 0xff: // fill byte
			p++
			continue
		case marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8): // no length
			p += 2
			continue
		case marker == 0xd9 || marker == 0xda: // end of image, start of scan
			return nil
		}
		n := int(binary.BigEndian.Uint16(data[p+2:]))
		if n < 2 || p+2+n > len(data) {
			return nil
		}
		seg := data[p+4 : p+2+n]
		if marker == 0xe1 && bytes.HasPrefix(seg, exifHeader) {
			return seg[len(exifHeader):]
		}
		p += 2 + n
	}
	return nil
}

// tiffOrientation reads tag 0x0112 (Orientation) from the first IFD of a TIFF structure, or
// returns 0.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 0
	}
	ifd := int64(bo.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > int64(len(t)) {
		return 0
	}
	count := int64(bo.Uint16(t[ifd:]))
	for i := range count {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(t)) {
			return 0
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		typ, n := bo.Uint16(t[e+2:]), bo.Uint32(t[e+4:])
		if typ != 3 || n != 1 { // one SHORT, stored in the entry itself
			return 0
		}
		return int(bo.Uint16(t[e+8:]))
	}
	return 0
}
