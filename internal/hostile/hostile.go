// Package hostile makes the files an adversary feeds an image tool, for tests: JPEGs whose
// decoding costs far more than their size (thousands of progressive scans, thousands of
// marker segments) and valid files of kinds that decoders often do not support (TIFF with
// JPEG or LZMA compression, CMYK or floating-point TIFF, animated WebP). Every file is written from
// scratch, byte by byte, so that the tests need no stored corpus.
package hostile

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
)

// ProgressiveJPEG returns a valid grey progressive JPEG (SOF2) of w×h pixels with the given
// number of scans: one DC scan, then scans-1 AC scans of the whole band 1-63, each covering
// every block with end-of-band runs, so that each costs a few bytes but makes a decoder visit
// every 8×8 block of the image once more. A decoder without a limit on scans spends time in
// proportion to scans × w × h on a file of about scans × (16 + w×h/16384) bytes plus w×h/512
// for the DC scan; 2048×2048 with 4000 scans is 84 KB. w and h are at most 65535.
func ProgressiveJPEG(w, h, scans int) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xff, 0xd8}) // SOI
	dqt := append([]byte{0}, bytes.Repeat([]byte{1}, 64)...)
	segment(&b, 0xdb, dqt)
	segment(&b, 0xc2, []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 1, 1, 0x11, 0})
	// Huffman tables with one code each, of one bit: the DC table's is difference category
	// 0, the AC table's is EOB14, an end-of-band run of 2^14 plus the 14 bits that follow.
	dht := []byte{0x00, 1}
	dht = append(dht, make([]byte, 15)...)
	dht = append(dht, 0x00)
	dht = append(dht, 0x10, 1)
	dht = append(dht, make([]byte, 15)...)
	dht = append(dht, 0xe0)
	segment(&b, 0xc4, dht)
	blocks := ((w + 7) / 8) * ((h + 7) / 8)
	bits := bitWriter{b: &b}
	segment(&b, 0xda, []byte{1, 1, 0x00, 0, 0, 0x00}) // DC first scan
	for range blocks {
		bits.put(0, 1)
	}
	bits.flush()
	for range scans - 1 {
		segment(&b, 0xda, []byte{1, 1, 0x00, 1, 63, 0x00}) // AC first scan, band 1-63
		for left := blocks; left > 0; left -= 32767 {
			bits.put(0, 1)       // EOB14
			bits.put(0x3fff, 14) // run of 2^14 + 0x3fff = 32767 blocks
		}
		bits.flush()
	}
	b.Write([]byte{0xff, 0xd9}) // EOI
	return b.Bytes()
}

// ManyMarkersJPEG returns a valid small baseline JPEG with n extra comment segments before
// its frame: a file whose marker count, not its size or pixels, is what a decoder must bound.
func ManyMarkersJPEG(n int) []byte {
	var small bytes.Buffer
	m := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range m.Pix {
		m.Pix[i] = uint8(i)
	}
	if err := jpeg.Encode(&small, m, nil); err != nil {
		panic(err)
	}
	var b bytes.Buffer
	b.Write(small.Bytes()[:2])
	for range n {
		segment(&b, 0xfe, []byte("x"))
	}
	b.Write(small.Bytes()[2:])
	return b.Bytes()
}

// JPEG returns a baseline JPEG of a w×h grey gradient, for tests that need an ordinary one.
func JPEG(w, h int) []byte {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetGray(x, y, color.Gray{uint8((x + y) * 255 / max(w+h-2, 1))})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, nil); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func segment(b *bytes.Buffer, marker byte, payload []byte) {
	b.Write([]byte{0xff, marker})
	binary.Write(b, binary.BigEndian, uint16(len(payload)+2))
	b.Write(payload)
}

// bitWriter writes the bits of entropy-coded data, most significant first, stuffing a zero
// byte after every 0xff as JPEG requires.
type bitWriter struct {
	b   *bytes.Buffer
	acc byte
	n   uint
}

func (w *bitWriter) put(v uint32, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		w.acc = w.acc<<1 | byte(v>>uint(i))&1
		if w.n++; w.n == 8 {
			w.b.WriteByte(w.acc)
			if w.acc == 0xff {
				w.b.WriteByte(0)
			}
			w.acc, w.n = 0, 0
		}
	}
}

// flush pads the last byte with one bits, as the standard asks.
func (w *bitWriter) flush() {
	for w.n != 0 {
		w.put(1, 1)
	}
}

// TIFF features for UnsupportedTIFF.
const (
	// TIFFJPEG is an RGB TIFF whose strip is JPEG-compressed (compression 7).
	TIFFJPEG = "jpeg"
	// TIFFCMYK is an uncompressed CMYK TIFF (photometric interpretation 5).
	TIFFCMYK = "cmyk"
	// TIFFFloat is an uncompressed grey TIFF of 32-bit floating-point samples.
	TIFFFloat = "float"
	// TIFFLZMA is an RGB TIFF whose strip is LZMA-compressed (compression 34925); its bytes
	// are not a real LZMA stream, as no reader gets past the compression tag.
	TIFFLZMA = "lzma"
)

// UnsupportedTIFF returns a valid little-endian 8×8 TIFF with the feature named: kinds Go's
// TIFF decoder (golang.org/x/image/tiff) does not read (JPEG, CMYK, floating point), and one
// no pure-Go reader reads (LZMA).
func UnsupportedTIFF(feature string) []byte {
	const w, h = 8, 8
	type entry struct {
		tag, typ uint16
		values   []uint32
	}
	var (
		bits          = []uint32{8, 8, 8}
		compression   = uint32(1)
		photometric   = uint32(2)
		sampleFormat  = uint32(1)
		samples       = uint32(3)
		pixels        []byte
		bytesPerPixel = 3
	)
	switch feature {
	case TIFFJPEG:
		compression, pixels = 7, JPEG(w, h)
	case TIFFCMYK:
		bits, photometric, samples, bytesPerPixel = []uint32{8, 8, 8, 8}, 5, 4, 4
	case TIFFFloat:
		bits, photometric, samples, sampleFormat, bytesPerPixel = []uint32{32}, 1, 1, 3, 4
	case TIFFLZMA:
		compression = 34925
	default:
		panic("hostile: unknown TIFF feature " + feature)
	}
	if pixels == nil {
		pixels = make([]byte, w*h*bytesPerPixel)
		for i := range pixels {
			pixels[i] = byte(i)
		}
	}
	entries := []entry{
		{256, 3, []uint32{w}},
		{257, 3, []uint32{h}},
		{258, 3, bits},
		{259, 3, []uint32{compression}},
		{262, 3, []uint32{photometric}},
		{273, 4, []uint32{0}}, // strip offset, set below
		{277, 3, []uint32{samples}},
		{278, 3, []uint32{h}},
		{279, 4, []uint32{uint32(len(pixels))}},
		{339, 3, []uint32{sampleFormat}},
	}
	// Layout: header (8), IFD (2 + 12n + 4), out-of-line values, pixels.
	le := binary.LittleEndian
	ifdEnd := 8 + 2 + 12*len(entries) + 4
	extraSize := 0
	for _, e := range entries {
		if size := len(e.values) * typeSize(e.typ); size > 4 {
			extraSize += size
		}
	}
	pixelsAt := ifdEnd + extraSize
	var extra []byte // the values too long to sit in their entries
	out := []byte("II*\x00")
	out = le.AppendUint32(out, 8)
	out = le.AppendUint16(out, uint16(len(entries)))
	for _, e := range entries {
		if e.tag == 273 {
			e.values = []uint32{uint32(pixelsAt)}
		}
		out = le.AppendUint16(out, e.tag)
		out = le.AppendUint16(out, e.typ)
		out = le.AppendUint32(out, uint32(len(e.values)))
		var vals []byte
		for _, v := range e.values {
			if e.typ == 3 {
				vals = le.AppendUint16(vals, uint16(v))
			} else {
				vals = le.AppendUint32(vals, v)
			}
		}
		if len(vals) > 4 {
			out = le.AppendUint32(out, uint32(ifdEnd+len(extra)))
			extra = append(extra, vals...)
			continue
		}
		out = append(out, vals...)
		out = append(out, make([]byte, 4-len(vals))...)
	}
	out = le.AppendUint32(out, 0) // no next IFD
	out = append(out, extra...)
	return append(out, pixels...)
}

func typeSize(typ uint16) int {
	if typ == 3 {
		return 2
	}
	return 4
}

// AnimatedWebP returns a WebP whose extended header (VP8X) announces an animation of a
// 16×16 canvas, followed by an ANIM chunk and one ANMF frame: one opaque red pixel, lossless,
// at x=2, y=4. Decoded to its first frame as libwebp does, it is a transparent 16×16 image
// with that one red pixel.
func AnimatedWebP() []byte {
	chunk := func(id string, data []byte) []byte {
		out := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
		out = append(out, data...)
		if len(data)%2 == 1 {
			out = append(out, 0)
		}
		return out
	}
	const w, h = 16, 16
	vp8x := []byte{0x02, 0, 0, 0, w - 1, 0, 0, h - 1, 0, 0} // animation flag; canvas 16×16
	anim := []byte{0, 0, 0, 0, 0, 0}                        // background colour, loop count
	// One 1×1 frame at 2,4 (offsets are stored halved) shown 100 ms: cwebp -lossless's
	// bitstream of one red pixel.
	anmf := []byte{1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0}
	anmf = append(anmf, chunk("VP8L", []byte{0x2f, 0, 0, 0, 0, 0x07, 0x10, 0xfd, 0x8f, 0xfe, 0x07, 0x22, 0xa2, 0xff, 0x01})...)
	body := []byte("WEBP")
	body = append(body, chunk("VP8X", vp8x)...)
	body = append(body, chunk("ANIM", anim)...)
	body = append(body, chunk("ANMF", anmf)...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}
