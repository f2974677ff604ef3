package imageio

import (
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

// bmpFile writes a BMP with a 40-byte header (or a 12-byte OS/2 one), the palette given and
// pixel data as stored.
func bmpFile(w, h, bpp int, compression uint32, os2 bool, palette []color.RGBA, pix []byte) []byte {
	le := binary.LittleEndian
	var hdr []byte
	entry := 4
	if os2 {
		entry = 3
		hdr = le.AppendUint32(hdr, 12)
		hdr = le.AppendUint16(hdr, uint16(w))
		hdr = le.AppendUint16(hdr, uint16(h))
		hdr = le.AppendUint16(hdr, 1)
		hdr = le.AppendUint16(hdr, uint16(bpp))
	} else {
		hdr = le.AppendUint32(hdr, 40)
		hdr = le.AppendUint32(hdr, uint32(w))
		hdr = le.AppendUint32(hdr, uint32(h))
		hdr = le.AppendUint16(hdr, 1)
		hdr = le.AppendUint16(hdr, uint16(bpp))
		hdr = le.AppendUint32(hdr, compression)
		hdr = le.AppendUint32(hdr, uint32(len(pix)))
		hdr = append(hdr, make([]byte, 8)...)
		hdr = le.AppendUint32(hdr, uint32(len(palette)))
		hdr = le.AppendUint32(hdr, 0)
	}
	var pal []byte
	for _, c := range palette {
		pal = append(pal, c.B, c.G, c.R)
		if entry == 4 {
			pal = append(pal, 0)
		}
	}
	off := 14 + len(hdr) + len(pal)
	out := []byte("BM")
	out = le.AppendUint32(out, uint32(off+len(pix)))
	out = le.AppendUint32(out, 0)
	out = le.AppendUint32(out, uint32(off))
	return append(append(append(out, hdr...), pal...), pix...)
}

// bmpVariants are BMPs of src's top-left 8×4 pixels: RLE8, OS/2 palette and 16-bit 5-5-5.
func bmpVariants(src *image.NRGBA) [][]byte {
	pal := []color.RGBA{{0, 0, 0, 255}, {255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}}
	// Rows bottom-up: a run of 8 of index 1; literal 0 1 2 3 then a run of 4 of 3; end of
	// line; a delta over one row; end of bitmap.
	rle := []byte{8, 1, 0, 0, 0, 4, 0, 1, 2, 3, 4, 3, 0, 0, 0, 2, 0, 1, 0, 1}
	var p8 []byte
	for y := 3; y >= 0; y-- {
		for x := range 8 {
			p8 = append(p8, byte((x+y)%4))
		}
	}
	var p16 []byte
	for y := 3; y >= 0; y-- {
		for x := range 8 {
			c := src.NRGBAAt(x, y)
			p16 = binary.LittleEndian.AppendUint16(p16, uint16(c.R>>3)<<10|uint16(c.G>>3)<<5|uint16(c.B>>3))
		}
	}
	return [][]byte{
		bmpFile(8, 4, 8, biRLE8, false, pal, rle),
		bmpFile(8, 4, 8, biRGB, true, pal, p8),
		bmpFile(8, 4, 16, biRGB, false, nil, p16),
	}
}

// BMP variants decode to the pixels they hold.
func TestBMPVariants(t *testing.T) {
	src := photo(rand.New(rand.NewPCG(91, 92)), 8, 4)
	v := bmpVariants(src)
	d := &Decoder{}
	// RLE8: bottom row red; next row 0 1 2 3 3 3 3 3; two rows skipped (index 0: black).
	got, err := d.DecodeBytes("rle8.bmp", v[0])
	if err != nil {
		t.Fatal(err)
	}
	m := got.Image
	pix := func(x, y int) [3]byte { p := m.Pix[y*m.Stride+3*x:]; return [3]byte{p[0], p[1], p[2]} }
	if pix(0, 3) != [3]byte{255, 0, 0} || pix(7, 3) != [3]byte{255, 0, 0} || pix(1, 2) != [3]byte{255, 0, 0} ||
		pix(3, 2) != [3]byte{0, 0, 255} || pix(7, 2) != [3]byte{0, 0, 255} || pix(4, 0) != [3]byte{0, 0, 0} {
		t.Errorf("RLE8 decoded as %v", m.Pix)
	}
	// OS/2 1.x: 3-byte palette entries.
	if got, err = d.DecodeBytes("os2.bmp", v[1]); err != nil {
		t.Fatal(err)
	}
	m = got.Image
	if pix(1, 0) != [3]byte{255, 0, 0} || pix(2, 0) != [3]byte{0, 255, 0} || pix(3, 1) != [3]byte{0, 0, 0} {
		t.Errorf("OS/2 decoded as %v", m.Pix)
	}
	// 16-bit 5-5-5: each colour its top 5 bits, scaled back as Pillow scales them.
	if got, err = d.DecodeBytes("555.bmp", v[2]); err != nil {
		t.Fatal(err)
	}
	m = got.Image
	for y := range 4 {
		for x := range 8 {
			c := src.NRGBAAt(x, y)
			want := [3]byte{byte(int(c.R>>3) * 255 / 31), byte(int(c.G>>3) * 255 / 31), byte(int(c.B>>3) * 255 / 31)}
			if pix(x, y) != want {
				t.Fatalf("555 pixel %d,%d: %v, want %v", x, y, pix(x, y), want)
			}
		}
	}
	// A header claiming more pixels than the limit is refused before the pixels are read.
	huge := bmpFile(8, 4, 8, biRLE8, false, []color.RGBA{{1, 2, 3, 255}}, rle8Bomb())
	binary.LittleEndian.PutUint32(huge[18:], 60000)
	binary.LittleEndian.PutUint32(huge[22:], 60000)
	if _, err := (&Decoder{MaxPixels: 1 << 20}).DecodeBytes("huge.bmp", huge); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge BMP: %v", err)
	}
}

func rle8Bomb() []byte { return []byte{255, 1, 255, 1, 0, 1} }
