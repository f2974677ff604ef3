package imageio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image/jpeg"
	"image/png"
	"strings"

	"golang.org/x/image/tiff"
)

// Unsupported versus corrupt. A valid file of a kind the decoders do not read (a TIFF with
// JPEG compression, a CMYK or floating-point TIFF, an animated WebP, an arithmetic-coded
// JPEG) is ErrUnsupported, named from its header where the header says it; a file that breaks
// its format's rules is ErrCorrupt. The decoders' own error types tell the rest apart:
// jpeg.UnsupportedError, png.UnsupportedError and tiff.UnsupportedError against their
// FormatErrors and the rest. (bmp.ErrUnsupported also stands for damaged headers, so BMPs are
// told apart from their header alone.)

// formatNames are the formats as people write them.
var formatNames = map[string]string{
	"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "bmp": "BMP", "tiff": "TIFF", "webp": "WebP",
	"heif": "HEIF", "avif": "AVIF",
}

func formatName(format string) string {
	if n, ok := formatNames[format]; ok {
		return n
	}
	return format
}

// decodeError is a decoder's failure on one file: ErrCorrupt or ErrUnsupported, the format,
// and the decoder's words without the format's name they often start with.
type decodeError struct {
	kind   error // ErrCorrupt or ErrUnsupported
	format string
	what   string // "header" when the header could not be read, or ""
	msg    string
	err    error // the decoder's error, for errors.Is and errors.As; may be nil
}

func (e *decodeError) Error() string {
	where := e.format
	if e.what != "" {
		where += " " + e.what
	}
	if e.kind == ErrUnsupported {
		return e.kind.Error() + ": " + e.msg
	}
	return e.kind.Error() + ": " + where + ": " + e.msg
}

func (e *decodeError) Unwrap() []error {
	if e.err == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.err}
}

// unsupported is ErrUnsupported for the feature named, such as "TIFF with JPEG compression".
func unsupported(format, feature string, err error) error {
	return &decodeError{kind: ErrUnsupported, format: format, msg: feature, err: err}
}

// classify turns a decoder's error on a file in format into ErrUnsupported or ErrCorrupt. A
// feature named from the file's header (see feature) describes an unsupported file better
// than the decoder's words.
func classify(format, what string, err error, feature string) error {
	if de := (*decodeError)(nil); errors.As(err, &de) {
		return err // classified where it arose
	}
	if isUnsupported(err) {
		if feature == "" {
			feature = formatName(format) + " (" + trimDecoderPrefix(format, err.Error()) + ")"
		}
		return unsupported(format, feature, err)
	}
	return &decodeError{kind: ErrCorrupt, format: format, what: what, msg: trimDecoderPrefix(format, eofToTruncated(err).Error()), err: err}
}

func isUnsupported(err error) bool {
	var ju jpeg.UnsupportedError
	var pu png.UnsupportedError
	var tu tiff.UnsupportedError
	return errors.As(err, &ju) || errors.As(err, &pu) || errors.As(err, &tu)
}

// trimDecoderPrefix removes the package names and words the decoders start their errors
// with, which the error around them already says: "png: invalid format: x" is "invalid
// format: x" in "corrupt image: png: ...".
func trimDecoderPrefix(format, msg string) string {
	for _, p := range []string{format + ": unsupported feature: ", "unsupported JPEG feature: ", format + ": "} {
		if strings.HasPrefix(msg, p) {
			return msg[len(p):]
		}
	}
	return msg
}

// feature names what makes a file of format one that Go's decoders do not read, from its
// header, or returns "" when the header shows nothing of the kind. JPEGs are named from the
// marker walk (jpegFeature), as libjpeg-turbo reads some of them.
func feature(format string, data []byte) string {
	switch format {
	case "tiff":
		return tiffFeature(data)
	case "bmp":
		return bmpFeature(data)
	}
	return ""
}

// TIFF tags and the values golang.org/x/image/tiff reads.
const (
	tagBitsPerSample = 258
	tagCompression   = 259
	tagPhotometric   = 262
	tagSampleFormat  = 339
)

var tiffCompressions = map[uint32]string{
	2: "CCITT RLE", 6: "old-style JPEG", 7: "JPEG", 9: "JBIG", 10: "JBIG", 32771: "NeXT",
	32809: "ThunderScan", 34661: "JBIG", 34676: "SGI LogLuv", 34677: "SGI LogLuv",
	34712: "JPEG 2000", 34887: "LERC", 34892: "lossy JPEG", 34925: "LZMA", 50000: "Zstandard",
	50001: "WebP", 52546: "JPEG XL",
}

// tiffFeature reads the first IFD of a TIFF for what x/image/tiff does not decode: a
// compression other than none, CCITT group 3 and 4, LZW, Deflate and PackBits; a colour space
// other than grey, RGB and palette; samples other than unsigned integers of 1, 8 or 16 bits.
func tiffFeature(t []byte) string {
	tags := tiffTags(t, tagBitsPerSample, tagCompression, tagPhotometric, tagSampleFormat)
	if c, ok := tags[tagCompression]; ok {
		switch c {
		case 1, 3, 4, 5, 8, 32946, 32773:
		default:
			if name, ok := tiffCompressions[c]; ok {
				return "TIFF with " + name + " compression"
			}
			return fmt.Sprintf("TIFF with compression %d", c)
		}
	}
	switch p := tags[tagPhotometric]; p {
	case 0, 1, 2, 3:
	case 4:
		return "transparency-mask TIFF"
	case 5:
		return "CMYK TIFF"
	case 6:
		return "YCbCr TIFF"
	case 8, 9, 10:
		return "CIELab TIFF"
	case 32844, 32845:
		return "LogLuv TIFF"
	default:
		return fmt.Sprintf("TIFF with photometric interpretation %d", p)
	}
	if f, ok := tags[tagSampleFormat]; ok {
		switch f {
		case 1:
		case 2:
			return "TIFF of signed integer samples"
		case 3:
			return "floating-point TIFF"
		default:
			return fmt.Sprintf("TIFF with sample format %d", f)
		}
	}
	if b, ok := tags[tagBitsPerSample]; ok && b != 1 && b != 8 && b != 16 {
		return fmt.Sprintf("TIFF with %d bits per sample", b)
	}
	return ""
}

// tiffTags returns the first value of each of the tags wanted that the first IFD of a TIFF
// holds as SHORTs or LONGs. Every offset is checked against the data.
func tiffTags(t []byte, wanted ...uint16) map[uint16]uint32 {
	out := map[uint16]uint32{}
	if len(t) < 8 {
		return out
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return out
	}
	ifd := int64(bo.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > int64(len(t)) {
		return out
	}
	count := int64(bo.Uint16(t[ifd:]))
	for i := range count {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(t)) {
			break
		}
		tag := bo.Uint16(t[e:])
		want := false
		for _, w := range wanted {
			want = want || w == tag
		}
		if !want || bo.Uint32(t[e+4:]) == 0 {
			continue
		}
		typ, n := bo.Uint16(t[e+2:]), int64(bo.Uint32(t[e+4:]))
		at := e + 8 // the value itself, when it fits in four bytes
		switch {
		case typ == 3 && n > 2, typ == 4 && n > 1:
			at = int64(bo.Uint32(t[e+8:]))
		}
		switch {
		case typ == 3 && at+2 <= int64(len(t)):
			out[tag] = uint32(bo.Uint16(t[at:]))
		case typ == 4 && at+4 <= int64(len(t)):
			out[tag] = bo.Uint32(t[at:])
		}
	}
	return out
}

// bmpFeature reads a BMP's headers for what golang.org/x/image/bmp does not decode: headers
// other than BITMAPINFOHEADER and its V4 and V5 successors, compression (but bit fields that
// say what no compression would), and pixels other than 1, 2, 4, 8, 24 or 32 bits.
func bmpFeature(b []byte) string {
	if len(b) < 34 || string(b[:2]) != "BM" {
		return ""
	}
	le := binary.LittleEndian
	switch info := le.Uint32(b[14:]); info {
	case 40, 108, 124:
	case 12, 16, 64:
		return "OS/2 BMP"
	default:
		return fmt.Sprintf("BMP with a %d-byte header", info)
	}
	bpp, compression := le.Uint16(b[28:]), le.Uint32(b[30:])
	switch compression {
	case 0:
	case 1, 2:
		return "BMP with RLE compression"
	case 3, 6:
		if compression == 3 && len(b) >= 70 && le.Uint32(b[14:]) > 40 && le.Uint32(b[54:]) == 0xff0000 &&
			le.Uint32(b[58:]) == 0xff00 && le.Uint32(b[62:]) == 0xff && le.Uint32(b[66:]) == 0xff000000 {
			break
		}
		return "BMP with colour bit fields"
	case 4:
		return "BMP with JPEG compression"
	case 5:
		return "BMP with PNG compression"
	default:
		return fmt.Sprintf("BMP with compression %d", compression)
	}
	switch bpp {
	case 1, 2, 4, 8, 24, 32:
		return ""
	case 16:
		return "16-bit BMP"
	}
	return fmt.Sprintf("BMP with %d bits per pixel", bpp)
}
