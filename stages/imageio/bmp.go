package imageio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math/bits"
	"sync/atomic"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// BMP. golang.org/x/image/bmp reads the common Windows files only; this decoder reads the
// variants that image tools write and Pillow reads: OS/2 1.x and 2.x headers, the Windows
// 40-, 52-, 56-, 108- and 124-byte headers, 1-, 2-, 4- and 8-bit palettes (of any declared
// length: indexes past the palette are black, as Pillow shows them), RLE4 and RLE8
// compression, 16-bit pixels (5-5-5 by default) and 16- and 32-bit pixels with any bit
// fields, 24-bit and 32-bit pixels, bottom-up and top-down. Embedded JPEG or PNG, OS/2
// Huffman and RLE24 compression and 64-bit pixels are unsupported, named as such.

// bmpHeader is what a BMP's headers say.
type bmpHeader struct {
	width, height int
	topDown       bool
	bpp           int
	compression   uint32
	masks         [4]uint32 // red, green, blue, alpha bit fields (16- and 32-bit pixels)
	palette       color.Palette
	pixOffset     int
	infoSize      int
}

// BMP compressions.
const (
	biRGB            = 0
	biRLE8           = 1
	biRLE4           = 2
	biBitfields      = 3
	biJPEG           = 4
	biPNG            = 5
	biAlphaBitfields = 6
)

var errBMPHeader = errors.New("bad header")

// readBMPHeader reads the headers of a BMP and checks them against data. An unsupported
// variant is an error from unsupported; a broken header another error.
func readBMPHeader(b []byte) (bmpHeader, error) {
	le := binary.LittleEndian
	if len(b) < 26 || string(b[:2]) != "BM" {
		return bmpHeader{}, errBMPHeader
	}
	h := bmpHeader{pixOffset: int(le.Uint32(b[10:])), infoSize: int(le.Uint32(b[14:]))}
	info := h.infoSize
	if info < 12 || info > 4096 || 14+info > len(b) {
		return bmpHeader{}, fmt.Errorf("%d-byte info header", info)
	}
	os2v1 := info == 12
	if os2v1 {
		h.width, h.height = int(le.Uint16(b[18:])), int(int16(le.Uint16(b[20:])))
		h.bpp = int(le.Uint16(b[24:]))
	} else {
		if info < 16 {
			return bmpHeader{}, fmt.Errorf("%d-byte info header", info)
		}
		h.width, h.height = int(int32(le.Uint32(b[18:]))), int(int32(le.Uint32(b[22:])))
		h.bpp = int(le.Uint16(b[28:]))
		if info >= 20 {
			h.compression = le.Uint32(b[30:])
		}
	}
	if h.height < 0 {
		h.topDown, h.height = true, -h.height
	}
	os2v2 := info == 16 || info == 64
	switch {
	case os2v2 && h.compression == 3:
		return h, unsupported("bmp", "OS/2 BMP with Huffman compression", nil)
	case os2v2 && h.compression == 4:
		return h, unsupported("bmp", "OS/2 BMP with RLE24 compression", nil)
	case h.compression == biJPEG:
		return h, unsupported("bmp", "BMP with JPEG compression", nil)
	case h.compression == biPNG:
		return h, unsupported("bmp", "BMP with PNG compression", nil)
	case h.compression > biAlphaBitfields:
		return h, unsupported("bmp", fmt.Sprintf("BMP with compression %d", h.compression), nil)
	}
	switch h.bpp {
	case 1, 2, 4, 8, 16, 24, 32:
	case 64:
		return h, unsupported("bmp", "64-bit BMP", nil)
	default:
		return h, fmt.Errorf("%d bits per pixel", h.bpp)
	}
	if (h.compression == biRLE8 && h.bpp != 8) || (h.compression == biRLE4 && h.bpp != 4) {
		return h, fmt.Errorf("RLE compression of %d-bit pixels", h.bpp)
	}
	if h.topDown && (h.compression == biRLE8 || h.compression == biRLE4) {
		return h, errors.New("top-down RLE")
	}
	if h.width <= 0 || h.height <= 0 {
		return h, fmt.Errorf("gives no pixels (%d×%d)", h.width, h.height)
	}
	switch h.bpp {
	case 16:
		h.masks = [4]uint32{0x7c00, 0x03e0, 0x001f, 0}
	case 24, 32:
		h.masks = [4]uint32{0xff0000, 0xff00, 0xff, 0}
	}
	if h.compression == biBitfields || h.compression == biAlphaBitfields {
		if h.bpp != 16 && h.bpp != 32 {
			return h, fmt.Errorf("bit fields for %d-bit pixels", h.bpp)
		}
		// The masks follow a 40-byte header, or are its fields in the longer ones.
		n := 3
		if h.compression == biAlphaBitfields || info >= 56 {
			n = 4
		}
		if 14+40+4*n > len(b) {
			return h, errBMPHeader
		}
		for i := range n {
			h.masks[i] = le.Uint32(b[14+40+4*i:])
		}
	} else if h.bpp == 32 && info >= 108 && le.Uint32(b[14+40+12:]) != 0 {
		// A V4 or V5 header without bit fields: x/image/bmp and Pillow read the fourth byte
		// as alpha where the header gives an alpha mask.
		h.masks[3] = 0xff000000
	}
	if h.bpp <= 8 {
		entry := 4
		if os2v1 {
			entry = 3
		}
		n := 1 << h.bpp
		if !os2v1 && info >= 36 {
			if used := int(le.Uint32(b[46:])); used > 0 && used < n {
				n = used
			}
		}
		start := 14 + info
		if h.compression == biBitfields && info == 40 {
			start += 12
		}
		// A palette cut short by the pixel offset keeps the entries it has.
		end := min(start+n*entry, len(b))
		if h.pixOffset >= start && h.pixOffset < end {
			end = h.pixOffset
		}
		for p := start; p+entry <= end; p += entry {
			h.palette = append(h.palette, color.RGBA{b[p+2], b[p+1], b[p], 0xff})
		}
		if len(h.palette) == 0 {
			return h, errors.New("no palette")
		}
	}
	if h.pixOffset < 14+info || h.pixOffset > len(b) {
		return h, fmt.Errorf("pixel data at %d, outside the file", h.pixOffset)
	}
	return h, nil
}

// bmpConfig reads the size of a BMP.
func bmpConfig(data []byte) (image.Config, error) {
	h, err := readBMPHeader(data)
	if err != nil {
		var de *decodeError
		if errors.As(err, &de) {
			return image.Config{}, err
		}
		return image.Config{}, &decodeError{kind: ErrCorrupt, format: "bmp", what: "header", msg: err.Error()}
	}
	return image.Config{Width: h.width, Height: h.height}, nil
}

// decodeBMP decodes a BMP whose header probe has checked.
func (d *Decoder) decodeBMP(data []byte, _ header, stop *atomic.Bool) (raster.Image, error) {
	h, err := readBMPHeader(data)
	if err != nil {
		return raster.Image{}, err
	}
	corrupt := func(msg string) error { return &decodeError{kind: ErrCorrupt, format: "bmp", msg: msg} }
	w, ht := h.width, h.height
	pix := data[h.pixOffset:]
	// Rows of palette indexes, or of NRGBA pixels, top row first.
	var m image.Image
	if h.bpp <= 8 {
		p := image.NewPaletted(image.Rect(0, 0, w, ht), h.palette)
		switch h.compression {
		case biRLE8, biRLE4:
			if err := bmpRLE(p, pix, h.bpp, stop); err != nil {
				return raster.Image{}, err
			}
		default:
			stride := (w*h.bpp + 31) / 32 * 4
			if len(pix) < stride*ht {
				return raster.Image{}, corrupt("truncated file (pixel data cut short)")
			}
			ppb, mask := 8/h.bpp, byte(1<<h.bpp-1)
			for y := range ht {
				if stop.Load() {
					return raster.Image{}, errAbandoned
				}
				src := pix[y*stride:]
				dst := p.Pix[bmpRow(y, ht, h.topDown)*p.Stride:]
				for x := range w {
					sh := uint(8 - h.bpp*(x%ppb+1))
					dst[x] = src[x/ppb] >> sh & mask
				}
			}
		}
		// Indexes past the palette are black, as Pillow shows them.
		for len(p.Palette) < 1<<h.bpp {
			p.Palette = append(p.Palette, color.RGBA{0, 0, 0, 0xff})
		}
		m = p
	} else {
		n := image.NewNRGBA(image.Rect(0, 0, w, ht))
		bpp := h.bpp / 8
		stride := (w*h.bpp + 31) / 32 * 4
		if len(pix) < stride*ht {
			return raster.Image{}, corrupt("truncated file (pixel data cut short)")
		}
		var f [4]bitField
		for i := range f {
			f[i] = newBitField(h.masks[i])
		}
		alphaSeen := false
		for y := range ht {
			if stop.Load() {
				return raster.Image{}, errAbandoned
			}
			src := pix[y*stride:]
			dst := n.Pix[bmpRow(y, ht, h.topDown)*n.Stride:]
			for x := range w {
				s := src[x*bpp:]
				var v uint32
				switch bpp {
				case 2:
					v = uint32(s[0]) | uint32(s[1])<<8
				case 3:
					v = uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16
				case 4:
					v = binary.LittleEndian.Uint32(s)
				}
				d := dst[4*x : 4*x+4]
				d[0], d[1], d[2] = f[0].get(v), f[1].get(v), f[2].get(v)
				d[3] = 0xff
				if f[3].mask != 0 {
					d[3] = f[3].get(v)
					alphaSeen = alphaSeen || d[3] != 0
				}
			}
		}
		if f[3].mask != 0 && !alphaSeen {
			// An alpha field of zeros everywhere is the unused fourth byte many writers leave
			// as 0: the picture is opaque, as Pillow and vips show it.
			for i := 3; i < len(n.Pix); i += 4 {
				n.Pix[i] = 0xff
			}
		}
		m = n
	}
	return FromImage(m, d.Pool), nil
}

// bmpRow is the image row of the y-th row stored.
func bmpRow(y, h int, topDown bool) int {
	if topDown {
		return y
	}
	return h - 1 - y
}

// bitField extracts one colour of a packed pixel, scaled to 8 bits.
type bitField struct {
	mask  uint32
	shift int
	max   uint32
}

func newBitField(mask uint32) bitField {
	if mask == 0 {
		return bitField{}
	}
	shift := bits.TrailingZeros32(mask)
	return bitField{mask: mask, shift: shift, max: mask >> shift}
}

func (f bitField) get(v uint32) uint8 {
	if f.mask == 0 {
		return 0
	}
	c := (v & f.mask) >> f.shift
	if f.max == 0xff {
		return uint8(c)
	}
	return uint8(uint64(c) * 255 / uint64(f.max)) // truncated, as Pillow scales 5- and 6-bit fields
}

// bmpRLE decodes RLE8 or RLE4 pixel data into p (bottom-up). Pixels the data skips keep
// index 0, as Pillow leaves them; data that ends early leaves the rest so too, as libraries
// that read such files do, but data that writes outside the image is corrupt.
func bmpRLE(p *image.Paletted, src []byte, bpp int, stop *atomic.Bool) error {
	w, h := p.Rect.Dx(), p.Rect.Dy()
	x, y := 0, 0 // y counts stored rows, from the bottom
	put := func(idx byte) {
		if x < w && y < h {
			p.Pix[(h-1-y)*p.Stride+x] = idx
		}
		x++
	}
	for i := 0; i+1 < len(src); {
		if stop.Load() {
			return errAbandoned
		}
		n, v := int(src[i]), src[i+1]
		i += 2
		if n > 0 { // a run of n pixels
			for k := range n {
				if bpp == 8 {
					put(v)
				} else if k%2 == 0 {
					put(v >> 4)
				} else {
					put(v & 0x0f)
				}
			}
			continue
		}
		switch v {
		case 0: // end of line
			x, y = 0, y+1
		case 1: // end of bitmap
			return nil
		case 2: // delta
			if i+1 >= len(src) {
				return nil
			}
			x, y = x+int(src[i]), y+int(src[i+1])
			i += 2
		default: // v literal pixels, padded to 16 bits
			count := int(v)
			size := count
			if bpp == 4 {
				size = (count + 1) / 2
			}
			if i+size > len(src) {
				return nil
			}
			for k := range count {
				if bpp == 8 {
					put(src[i+k])
				} else if k%2 == 0 {
					put(src[i+k/2] >> 4)
				} else {
					put(src[i+k/2] & 0x0f)
				}
			}
			i += size + size&1
		}
		if y >= h {
			return nil
		}
	}
	return nil
}
