package imageio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"regexp"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// The helpers below put a Metadata into an encoded file. They work on the encoder's finished
// bytes, so any encoder (libjpeg-turbo, image/jpeg, image/png, a WebP library) can be
// followed by one of them without knowing about metadata.

// Empty reports whether m holds nothing to write.
func (m Metadata) Empty() bool { return len(m.ICC) == 0 && len(m.EXIF) == 0 && len(m.XMP) == 0 }

// ResetOrientation returns a copy of the EXIF block exif (a TIFF structure) with its
// Orientation tag set to 1, for an output whose pixels are already upright; exif itself is not
// changed. A block without the tag, or one that cannot be read, is returned copied as it is.
func ResetOrientation(exif []byte) []byte {
	out := bytes.Clone(exif)
	if len(out) < 8 {
		return out
	}
	var bo binary.ByteOrder
	switch string(out[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return out
	}
	ifd := int64(bo.Uint32(out[4:]))
	if ifd < 8 || ifd+2 > int64(len(out)) {
		return out
	}
	count := int64(bo.Uint16(out[ifd:]))
	for i := range count {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(out)) {
			break
		}
		if bo.Uint16(out[e:]) == 0x0112 && bo.Uint16(out[e+2:]) == 3 && bo.Uint32(out[e+4:]) == 1 {
			bo.PutUint16(out[e+8:], 1)
		}
	}
	return out
}

// maxSegment is the payload of one JPEG marker segment: its 16-bit length counts itself.
const maxSegment = 65535 - 2

// iccChunk is the payload of one APP2 ICC_PROFILE segment after its 14-byte header.
const iccChunk = maxSegment - 14

// ErrMetadataTooLarge is returned for a block the output format cannot hold: EXIF or XMP over
// one JPEG segment, an ICC profile over 255 JPEG segments.
var ErrMetadataTooLarge = errors.New("imageio: metadata block too large for the output format")

// EmbedJPEG returns the JPEG file jpg with m's blocks inserted after SOI and any JFIF APP0
// segment: EXIF (APP1 "Exif"), XMP (APP1, Adobe's namespace) and the ICC profile split into
// APP2 ICC_PROFILE segments. jpg is not changed.
func EmbedJPEG(jpg []byte, m Metadata) ([]byte, error) {
	if len(jpg) < 4 || jpg[0] != 0xff || jpg[1] != 0xd8 {
		return nil, errors.New("imageio: EmbedJPEG: not a JPEG file")
	}
	at := 2
	if jpg[2] == 0xff && jpg[3] == 0xe0 && len(jpg) >= 6 { // JFIF APP0 stays first
		at += 2 + int(binary.BigEndian.Uint16(jpg[4:]))
		if at > len(jpg) {
			return nil, errors.New("imageio: EmbedJPEG: truncated APP0 segment")
		}
	}
	var segs bytes.Buffer
	put := func(marker byte, parts ...[]byte) error {
		n := 0
		for _, p := range parts {
			n += len(p)
		}
		if n > maxSegment {
			return fmt.Errorf("%w: a %d-byte JPEG segment", ErrMetadataTooLarge, n)
		}
		segs.Write([]byte{0xff, marker, byte((n + 2) >> 8), byte(n + 2)})
		for _, p := range parts {
			segs.Write(p)
		}
		return nil
	}
	if len(m.EXIF) > 0 {
		if err := put(0xe1, exifHeader, m.EXIF); err != nil {
			return nil, err
		}
	}
	if len(m.XMP) > 0 {
		if err := put(0xe1, xmpSignature, m.XMP); err != nil {
			return nil, err
		}
	}
	if n := (len(m.ICC) + iccChunk - 1) / iccChunk; n > 255 {
		return nil, fmt.Errorf("%w: a %d-byte ICC profile", ErrMetadataTooLarge, len(m.ICC))
	} else {
		for i := range n {
			chunk := m.ICC[i*iccChunk : min((i+1)*iccChunk, len(m.ICC))]
			if err := put(0xe2, iccSignature, []byte{byte(i + 1), byte(n)}, chunk); err != nil {
				return nil, err
			}
		}
	}
	out := make([]byte, 0, len(jpg)+segs.Len())
	out = append(out, jpg[:at]...)
	out = append(out, segs.Bytes()...)
	return append(out, jpg[at:]...), nil
}

// EmbedPNG returns the PNG file png with m's blocks inserted after IHDR: the ICC profile as
// an iCCP chunk (named "icc", zlib-compressed), EXIF as eXIf, XMP as an uncompressed iTXt
// chunk with keyword XML:com.adobe.xmp. png is not changed.
func EmbedPNG(png []byte, m Metadata) ([]byte, error) {
	const sig = "\x89PNG\r\n\x1a\n"
	if !bytes.HasPrefix(png, []byte(sig)) || len(png) < len(sig)+8 || string(png[len(sig)+4:len(sig)+8]) != "IHDR" {
		return nil, errors.New("imageio: EmbedPNG: not a PNG file")
	}
	at := len(sig) + 12 + int(binary.BigEndian.Uint32(png[len(sig):]))
	if at > len(png) {
		return nil, errors.New("imageio: EmbedPNG: truncated IHDR chunk")
	}
	var chunks bytes.Buffer
	put := func(typ string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		chunks.Write(n[:])
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		chunks.WriteString(typ)
		chunks.Write(data)
		binary.BigEndian.PutUint32(n[:], crc.Sum32())
		chunks.Write(n[:])
	}
	if len(m.ICC) > 0 {
		var z bytes.Buffer
		z.WriteString("icc\x00\x00") // name, NUL, compression method 0
		zw := zlib.NewWriter(&z)
		zw.Write(m.ICC)
		zw.Close()
		put("iCCP", z.Bytes())
	}
	if len(m.EXIF) > 0 {
		put("eXIf", m.EXIF)
	}
	if len(m.XMP) > 0 {
		// keyword, NUL, not compressed, method 0, empty language, NUL, empty translation, NUL
		put("iTXt", append([]byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"), m.XMP...))
	}
	out := make([]byte, 0, len(png)+chunks.Len())
	out = append(out, png[:at]...)
	out = append(out, chunks.Bytes()...)
	return append(out, png[at:]...), nil
}

// EmbedWebP returns the WebP file webp with m's blocks added: it becomes an extended file
// (a VP8X chunk first, flags for what it holds, the ICCP chunk before the image data, EXIF
// and "XMP " after it), as the WebP container specification orders them. webp is not changed.
// A file that already has a VP8X chunk keeps its other flags and chunks.
func EmbedWebP(webp []byte, m Metadata) ([]byte, error) {
	if len(webp) < 20 || string(webp[0:4]) != "RIFF" || string(webp[8:12]) != "WEBP" {
		return nil, errors.New("imageio: EmbedWebP: not a WebP file")
	}
	type chunk struct {
		fourcc string
		data   []byte
	}
	var chunks []chunk
	for p := 12; p < len(webp); {
		if p+8 > len(webp) {
			return nil, errors.New("imageio: EmbedWebP: truncated chunk header")
		}
		n := int(binary.LittleEndian.Uint32(webp[p+4:]))
		if n < 0 || n > len(webp)-p-8 {
			return nil, errors.New("imageio: EmbedWebP: truncated chunk")
		}
		chunks = append(chunks, chunk{string(webp[p : p+4]), webp[p+8 : p+8+n]})
		p += 8 + n + n&1
	}
	if len(chunks) == 0 {
		return nil, errors.New("imageio: EmbedWebP: no image data")
	}
	var vp8x []byte
	var image []chunk // everything but VP8X and the metadata chunks replaced
	for _, c := range chunks {
		switch c.fourcc {
		case "VP8X":
			vp8x = bytes.Clone(c.data)
		case "ICCP", "EXIF", "XMP ":
			// replaced by m's, when m has them; kept otherwise
			if (c.fourcc == "ICCP" && len(m.ICC) > 0) || (c.fourcc == "EXIF" && len(m.EXIF) > 0) || (c.fourcc == "XMP " && len(m.XMP) > 0) {
				continue
			}
			image = append(image, c)
		default:
			image = append(image, c)
		}
	}
	if vp8x == nil {
		w, h, alpha, err := webpCanvas(chunks[0].fourcc, chunks[0].data)
		if err != nil {
			return nil, err
		}
		vp8x = make([]byte, 10)
		if alpha {
			vp8x[0] |= 0x10
		}
		putUint24(vp8x[4:], w-1)
		putUint24(vp8x[7:], h-1)
	}
	if len(vp8x) < 10 {
		return nil, errors.New("imageio: EmbedWebP: short VP8X chunk")
	}
	var out []chunk
	if len(m.ICC) > 0 {
		vp8x[0] |= 0x20
		out = append(out, chunk{"ICCP", m.ICC})
	}
	var after []chunk
	for _, c := range image {
		switch c.fourcc {
		case "ICCP":
			out = append(out, c)
		case "EXIF", "XMP ":
			after = append(after, c)
		default:
			out = append(out, c)
		}
	}
	if len(m.EXIF) > 0 {
		vp8x[0] |= 0x08
		after = append(after, chunk{"EXIF", m.EXIF})
	}
	if len(m.XMP) > 0 {
		vp8x[0] |= 0x04
		after = append(after, chunk{"XMP ", m.XMP})
	}
	out = append([]chunk{{"VP8X", vp8x}}, append(out, after...)...)
	var b bytes.Buffer
	b.WriteString("RIFF\x00\x00\x00\x00WEBP")
	for _, c := range out {
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(len(c.data)))
		b.WriteString(c.fourcc)
		b.Write(n[:])
		b.Write(c.data)
		if len(c.data)&1 == 1 {
			b.WriteByte(0)
		}
	}
	res := b.Bytes()
	binary.LittleEndian.PutUint32(res[4:], uint32(len(res)-8))
	return res, nil
}

// webpCanvas reads the size of a simple WebP's VP8 or VP8L bitstream, and whether a lossless
// one has alpha.
func webpCanvas(fourcc string, d []byte) (w, h int, alpha bool, err error) {
	switch {
	case fourcc == "VP8 " && len(d) >= 10 && d[3] == 0x9d && d[4] == 0x01 && d[5] == 0x2a:
		return int(binary.LittleEndian.Uint16(d[6:]) & 0x3fff), int(binary.LittleEndian.Uint16(d[8:]) & 0x3fff), false, nil
	case fourcc == "VP8L" && len(d) >= 5 && d[0] == 0x2f:
		v := binary.LittleEndian.Uint32(d[1:])
		return int(v&0x3fff) + 1, int(v>>14&0x3fff) + 1, v>>28&1 == 1, nil
	}
	return 0, 0, false, fmt.Errorf("imageio: EmbedWebP: unknown bitstream %q", fourcc)
}

func putUint24(b []byte, v int) { b[0], b[1], b[2] = byte(v), byte(v>>8), byte(v>>16) }

// EncodeMetadata is Encode with m's blocks embedded in the file (see EmbedJPEG, EmbedPNG
// and EmbedWebP); with m empty it is Encode. The file is encoded into memory first, so that
// the blocks can go where the format wants them.
func (e *Encoder) EncodeMetadata(w io.Writer, img raster.Image, m Metadata) error {
	if m.Empty() {
		return e.Encode(w, img)
	}
	var b bytes.Buffer
	if err := e.Encode(&b, img); err != nil {
		return err
	}
	var out []byte
	var err error
	switch e.Format {
	case "", JPEG:
		out, err = EmbedJPEG(b.Bytes(), m)
	case PNG:
		out, err = EmbedPNG(b.Bytes(), m)
	case "webp":
		out, err = EmbedWebP(b.Bytes(), m)
	default:
		out = b.Bytes() // a format whose encoder writes no metadata blocks
	}
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// xmpOrientation matches the XMP forms of the TIFF orientation: an attribute
// tiff:Orientation="N" or an element <tiff:Orientation>N</tiff:Orientation>.
var xmpOrientation = regexp.MustCompile(`(tiff:Orientation\s*=\s*["']|<tiff:Orientation>\s*)[1-8](\s*["<])`)

// ResetXMPOrientation returns a copy of the XMP packet xmp with its tiff:Orientation set to
// 1, for an output whose pixels are already upright.
func ResetXMPOrientation(xmp []byte) []byte {
	if len(xmp) == 0 {
		return nil
	}
	return xmpOrientation.ReplaceAll(xmp, []byte("${1}1${2}"))
}
