package imageio

import (
	"image"
	"image/color"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// FromImage converts a decoded Go image to interleaved pixels in a buffer from pool (which
// may be nil). Gray images give 1 channel; YCbCr, CMYK and opaque images give 3; images with
// at least one pixel that is not fully opaque give 4, non-premultiplied. The common concrete
// types are converted row by row without the per-pixel interface calls of At; the results
// equal what At followed by the matching color model would give.
func FromImage(m image.Image, pool *Pool) raster.Image {
	switch m := m.(type) {
	case *image.YCbCr:
		if out, ok := fromYCbCr(m, nil, pool); ok {
			return out
		}
	case *image.NYCbCrA:
		if out, ok := fromYCbCr(&m.YCbCr, m, pool); ok {
			return out
		}
	case *image.RGBA:
		return fromRGBA(m.Pix, m.Stride, m.Rect, true, pool)
	case *image.NRGBA:
		return fromRGBA(m.Pix, m.Stride, m.Rect, false, pool)
	case *image.Gray:
		return fromGray(m, pool)
	case *image.Gray16:
		return fromGray16(m, pool)
	case *image.Paletted:
		return fromPaletted(m, pool)
	case *image.CMYK:
		return fromCMYK(m, pool)
	case *image.NRGBA64:
		return fromRGBA64(m.Pix, m.Stride, m.Rect, false, pool)
	case *image.RGBA64:
		return fromRGBA64(m.Pix, m.Stride, m.Rect, true, pool)
	}
	return fromAny(m, pool)
}

// fromYCbCr converts a YCbCr image (and its alpha plane, for NYCbCrA) with the arithmetic of
// color.YCbCrToRGB, written out here because the call is not inlined and this loop is a third
// of a pure-Go JPEG decode. It declines (ok false) for negative coordinates, where the chroma
// subsampling arithmetic would differ.
func fromYCbCr(m *image.YCbCr, a *image.NYCbCrA, pool *Pool) (raster.Image, bool) {
	r := m.Rect
	if r.Min.X < 0 || r.Min.Y < 0 {
		return raster.Image{}, false
	}
	hs, vs := subsampleShifts(m.SubsampleRatio)
	ch := 3
	if a != nil && !a.Opaque() {
		ch = 4
	}
	w := r.Dx()
	out := newImage(pool, w, r.Dy(), ch)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		yi := (y - r.Min.Y) * m.YStride
		ci := ((y >> vs) - (r.Min.Y >> vs)) * m.CStride
		cw := ((r.Max.X - 1) >> hs) - (r.Min.X >> hs) + 1
		ys, cbs, crs := m.Y[yi:yi+w], m.Cb[ci:ci+cw], m.Cr[ci:ci+cw]
		dst := row(&out, y-r.Min.Y)
		x0 := r.Min.X >> hs
		for x, yv := range ys {
			c := ((x + r.Min.X) >> hs) - x0
			yy1 := int32(yv) * 0x10101
			cb1 := int32(cbs[c]) - 128
			cr1 := int32(crs[c]) - 128
			d := dst[ch*x : ch*x+3]
			d[0] = clip16(yy1 + 91881*cr1)
			d[1] = clip16(yy1 - 22554*cb1 - 46802*cr1)
			d[2] = clip16(yy1 + 116130*cb1)
		}
		if ch == 4 {
			as := a.A[(y-r.Min.Y)*a.AStride:][:w]
			for x, av := range as {
				dst[4*x+3] = av
			}
		}
	}
	return out, true
}

// clip16 is v>>16 clamped to [0, 255], with the branch-light test of color.YCbCrToRGB.
func clip16(v int32) uint8 {
	if uint32(v)&0xff000000 == 0 {
		return uint8(v >> 16)
	}
	return uint8(^(v >> 31))
}

func subsampleShifts(r image.YCbCrSubsampleRatio) (h, v int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 1, 0
	case image.YCbCrSubsampleRatio420:
		return 1, 1
	case image.YCbCrSubsampleRatio440:
		return 0, 1
	case image.YCbCrSubsampleRatio411:
		return 2, 0
	case image.YCbCrSubsampleRatio410:
		return 2, 1
	}
	return 0, 0
}

// fromRGBA converts 8-bit RGBA samples, premultiplied or not. Opaque images drop alpha.
func fromRGBA(pix []byte, stride int, r image.Rectangle, premul bool, pool *Pool) raster.Image {
	w, h := r.Dx(), r.Dy()
	if opaque8(pix, stride, w, h) {
		out := newImage(pool, w, h, 3)
		for y := range h {
			src, dst := pix[y*stride:y*stride+4*w], row(&out, y)
			for x := range w {
				dst[3*x], dst[3*x+1], dst[3*x+2] = src[4*x], src[4*x+1], src[4*x+2]
			}
		}
		return out
	}
	out := newImage(pool, w, h, 4)
	for y := range h {
		src, dst := pix[y*stride:y*stride+4*w], row(&out, y)
		copy(dst, src)
		if premul {
			unpremultiply(dst)
		}
	}
	return out
}

// opaque8 reports whether every alpha sample of w×h RGBA pixels is 255.
func opaque8(pix []byte, stride, w, h int) bool {
	for y := range h {
		p := pix[y*stride : y*stride+4*w]
		for i := 3; i < len(p); i += 4 {
			if p[i] != 0xff {
				return false
			}
		}
	}
	return true
}

// unpremultiply converts premultiplied RGBA samples in place, as color.NRGBAModel does.
func unpremultiply(p []byte) {
	for i := 0; i+3 < len(p); i += 4 {
		a := uint32(p[i+3])
		switch a {
		case 0xff:
		case 0:
			p[i], p[i+1], p[i+2] = 0, 0, 0
		default:
			a16 := a * 0x101
			for j := range 3 {
				p[i+j] = uint8((uint32(p[i+j]) * 0x101 * 0xffff / a16) >> 8)
			}
		}
	}
}

func fromGray(m *image.Gray, pool *Pool) raster.Image {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out := newImage(pool, w, h, 1)
	for y := range h {
		copy(row(&out, y), m.Pix[y*m.Stride:y*m.Stride+w])
	}
	return out
}

func fromGray16(m *image.Gray16, pool *Pool) raster.Image {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out := newImage(pool, w, h, 1)
	for y := range h {
		src, dst := m.Pix[y*m.Stride:], row(&out, y)
		for x := range dst {
			dst[x] = src[2*x] // the high byte of a big-endian sample
		}
	}
	return out
}

// fromRGBA64 converts 16-bit RGBA samples (big-endian) to 8 bits, keeping the high bytes
// as color.NRGBAModel does.
func fromRGBA64(pix []byte, stride int, r image.Rectangle, premul bool, pool *Pool) raster.Image {
	w, h := r.Dx(), r.Dy()
	opaque := true
	for y := 0; y < h && opaque; y++ {
		p := pix[y*stride : y*stride+8*w]
		for i := 6; i < len(p); i += 8 {
			if p[i] != 0xff || p[i+1] != 0xff {
				opaque = false
				break
			}
		}
	}
	ch := 4
	if opaque {
		ch = 3
	}
	out := newImage(pool, w, h, ch)
	for y := range h {
		src, dst := pix[y*stride:], row(&out, y)
		for x := range w {
			s := src[8*x : 8*x+8]
			r16, g16, b16 := uint32(s[0])<<8|uint32(s[1]), uint32(s[2])<<8|uint32(s[3]), uint32(s[4])<<8|uint32(s[5])
			a16 := uint32(s[6])<<8 | uint32(s[7])
			if premul && a16 != 0xffff {
				r16, g16, b16 = unpremul16(r16, a16), unpremul16(g16, a16), unpremul16(b16, a16)
			}
			d := dst[ch*x : ch*x+ch]
			d[0], d[1], d[2] = uint8(r16>>8), uint8(g16>>8), uint8(b16>>8)
			if ch == 4 {
				d[3] = uint8(a16 >> 8)
			}
		}
	}
	return out
}

func unpremul16(c, a uint32) uint32 {
	if a == 0 {
		return 0
	}
	return c * 0xffff / a
}

// fromPaletted looks pixels up in a 256-entry table made from the palette; indexes past the
// palette's end read as opaque black.
func fromPaletted(m *image.Paletted, pool *Pool) raster.Image {
	var lut [256][4]uint8
	for i := range lut {
		lut[i] = [4]uint8{0, 0, 0, 0xff}
	}
	for i, c := range m.Palette {
		if i == len(lut) {
			break
		}
		n := color.NRGBAModel.Convert(c).(color.NRGBA)
		lut[i] = [4]uint8{n.R, n.G, n.B, n.A}
	}
	w, h := m.Rect.Dx(), m.Rect.Dy()
	ch := 3
	for y := 0; y < h && ch == 3; y++ {
		for _, idx := range m.Pix[y*m.Stride : y*m.Stride+w] {
			if lut[idx][3] != 0xff {
				ch = 4
				break
			}
		}
	}
	out := newImage(pool, w, h, ch)
	for y := range h {
		src, dst := m.Pix[y*m.Stride:y*m.Stride+w], row(&out, y)
		for x, idx := range src {
			copy(dst[ch*x:ch*x+ch], lut[idx][:ch])
		}
	}
	return out
}

func fromCMYK(m *image.CMYK, pool *Pool) raster.Image {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out := newImage(pool, w, h, 3)
	for y := range h {
		src, dst := m.Pix[y*m.Stride:], row(&out, y)
		for x := range w {
			s := src[4*x : 4*x+4]
			dst[3*x], dst[3*x+1], dst[3*x+2] = color.CMYKToRGB(s[0], s[1], s[2], s[3])
		}
	}
	return out
}

// fromAny is the slow path for image types without a fast one.
func fromAny(m image.Image, pool *Pool) raster.Image {
	r := m.Bounds()
	ch := 4
	if o, ok := m.(interface{ Opaque() bool }); ok && o.Opaque() {
		ch = 3
	}
	out := newImage(pool, r.Dx(), r.Dy(), ch)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		dst := row(&out, y-r.Min.Y)
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.NRGBAModel.Convert(m.At(x, y)).(color.NRGBA)
			d := dst[ch*(x-r.Min.X):]
			d[0], d[1], d[2] = c.R, c.G, c.B
			if ch == 4 {
				d[3] = c.A
			}
		}
	}
	return out
}

// ToChannels returns img with c channels (1, 3 or 4): gray is repeated into RGB, RGB is
// reduced to gray with the luma weights of color.GrayModel, alpha is flattened onto bg
// (an RGB colour), and opaque alpha is added. When img already has c channels it is returned
// as it is; otherwise the result is new, from pool, and img is left alone.
func ToChannels(img raster.Image, c int, bg [3]uint8, pool *Pool) raster.Image {
	if img.Channels == c || c <= 0 {
		return img
	}
	out := newImage(pool, img.Width, img.Height, c)
	for y := range img.Height {
		convertRow(row(&out, y), row(&img, y), img.Channels, c, bg)
	}
	return out
}

func convertRow(dst, src []byte, from, to int, bg [3]uint8) {
	n := len(src) / from
	for x := range n {
		s := src[from*x : from*x+from]
		var r, g, b, a uint8 = s[0], s[0], s[0], 0xff
		if from >= 3 {
			g, b = s[1], s[2]
		}
		if from == 4 {
			a = s[3]
		}
		if a != 0xff && to != 4 {
			r, g, b = blend(r, bg[0], a), blend(g, bg[1], a), blend(b, bg[2], a)
		}
		d := dst[to*x : to*x+to]
		switch to {
		case 1:
			d[0] = luma(r, g, b)
		case 3:
			d[0], d[1], d[2] = r, g, b
		case 4:
			d[0], d[1], d[2], d[3] = r, g, b, a
		}
	}
}

// blend composites a non-premultiplied sample over a background sample, rounding.
func blend(c, bg, a uint8) uint8 {
	return uint8((uint32(c)*uint32(a) + uint32(bg)*(255-uint32(a)) + 127) / 255)
}

// luma is color.GrayModel's conversion of an 8-bit RGB colour.
func luma(r, g, b uint8) uint8 {
	r16, g16, b16 := uint32(r)*0x101, uint32(g)*0x101, uint32(b)*0x101
	return uint8((19595*r16 + 38470*g16 + 7471*b16 + 1<<15) >> 24)
}

// fromImageOwned is FromImage for an image nothing else holds (a decoder's fresh result): it
// converts 8- and 16-bit grey and RGBA images in their own pixel memory instead of copying
// them, so that a decode holds one copy of the pixels, not two (a 10000×9900 PNG: 396 MB, not
// 693). The result's pixels then come from the Go heap, not the pool; the pool's Put ignores
// them. Other images are copied by FromImage.
func fromImageOwned(m image.Image, pool *Pool) raster.Image {
	switch m := m.(type) {
	case *image.Gray:
		if pix, ok := packed(m.Pix, m.Stride, m.Rect, 1); ok {
			return raster.Image{Pix: pix, Width: m.Rect.Dx(), Height: m.Rect.Dy(), Stride: m.Rect.Dx(), Channels: 1}
		}
	case *image.Gray16:
		if pix, ok := packed(m.Pix, m.Stride, m.Rect, 2); ok {
			for i := range len(pix) / 2 {
				pix[i] = pix[2*i] // the high byte; i ≤ 2i, so nothing unread is overwritten
			}
			return raster.Image{Pix: pix[:len(pix)/2], Width: m.Rect.Dx(), Height: m.Rect.Dy(), Stride: m.Rect.Dx(), Channels: 1}
		}
	case *image.NRGBA:
		if pix, ok := packed(m.Pix, m.Stride, m.Rect, 4); ok {
			return rgba8InPlace(pix, m.Rect, false)
		}
	case *image.RGBA:
		if pix, ok := packed(m.Pix, m.Stride, m.Rect, 4); ok {
			return rgba8InPlace(pix, m.Rect, true)
		}
	case *image.NRGBA64:
		if pix, ok := packed(m.Pix, m.Stride, m.Rect, 8); ok {
			return rgba16InPlace(pix, m.Rect, false)
		}
	case *image.RGBA64:
		if pix, ok := packed(m.Pix, m.Stride, m.Rect, 8); ok {
			return rgba16InPlace(pix, m.Rect, true)
		}
	}
	return FromImage(m, pool)
}

// packed returns the pixels of an image whose rows follow each other without a gap.
func packed(pix []byte, stride int, r image.Rectangle, bpp int) ([]byte, bool) {
	n := r.Dx() * r.Dy() * bpp
	if stride != r.Dx()*bpp || len(pix) < n || r.Empty() {
		return nil, false
	}
	return pix[:n], true
}

// rgba8InPlace is fromRGBA in pix itself: opaque images are packed to 3 channels, moving
// each pixel down (3i ≤ 4i), others unpremultiplied where premul says so.
func rgba8InPlace(pix []byte, r image.Rectangle, premul bool) raster.Image {
	w, h := r.Dx(), r.Dy()
	if opaque8(pix, 4*w, w, h) {
		for i := range w * h {
			copy(pix[3*i:3*i+3], pix[4*i:4*i+3])
		}
		return raster.Image{Pix: pix[:3*w*h], Width: w, Height: h, Stride: 3 * w, Channels: 3}
	}
	if premul {
		unpremultiply(pix)
	}
	return raster.Image{Pix: pix, Width: w, Height: h, Stride: 4 * w, Channels: 4}
}

// rgba16InPlace is fromRGBA64 in pix itself: each pixel's eight bytes are read before its
// three or four are written, at or below them (4i ≤ 8i).
func rgba16InPlace(pix []byte, r image.Rectangle, premul bool) raster.Image {
	w, h := r.Dx(), r.Dy()
	ch := 3
	for i := 6; i < len(pix); i += 8 {
		if pix[i] != 0xff || pix[i+1] != 0xff {
			ch = 4
			break
		}
	}
	for i := range w * h {
		s := pix[8*i : 8*i+8 : 8*i+8]
		r16, g16, b16 := uint32(s[0])<<8|uint32(s[1]), uint32(s[2])<<8|uint32(s[3]), uint32(s[4])<<8|uint32(s[5])
		a16 := uint32(s[6])<<8 | uint32(s[7])
		if premul && a16 != 0xffff {
			r16, g16, b16 = unpremul16(r16, a16), unpremul16(g16, a16), unpremul16(b16, a16)
		}
		d := pix[ch*i : ch*i+ch : ch*i+ch]
		d[0], d[1], d[2] = uint8(r16>>8), uint8(g16>>8), uint8(b16>>8)
		if ch == 4 {
			d[3] = uint8(a16 >> 8)
		}
	}
	return raster.Image{Pix: pix[:ch*w*h], Width: w, Height: h, Stride: ch * w, Channels: ch}
}
