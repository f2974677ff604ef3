package kernels

import (
	"fmt"
	"math"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// The Go side of grey and lut (csrc/pixel.cu).

var greyK = &kernelDef{name: "grey", module: "pixel", prepare: prepareGrey, row: rowGrey}

var lutK = &kernelDef{name: "lut", module: "pixel", prepare: prepareLUT, row: rowLUT}

func prepareGrey(ln *launch, j *job) error {
	if err := checkChannels(j); err != nil {
		return err
	}
	if j.dw != j.sw || j.dh != j.sh {
		return errorf("%d×%d to %d×%d", j.sw, j.sh, j.dw, j.dh)
	}
	if err := j.source(ln, j.sw, j.sh, j.sw*j.c, 1); err != nil {
		return err
	}
	return j.dest(ln, j.dw, j.dh, j.dw, 1)
}

func rowGrey(_ *worker, ln *launch, j *job, y, x0, x1 int) {
	src := ln.src[j.src+int64(y)*int64(j.ss):]
	dst := ln.dst[j.dst+int64(y)*int64(j.ds):]
	dst = dst[x0:x1]
	if j.c == 1 {
		copy(dst, src[x0:x1])
		return
	}
	c := j.c
	for i := range dst {
		p := src[(x0+i)*c : (x0+i)*c+3 : (x0+i)*c+3]
		dst[i] = luma(p[0], p[1], p[2])
	}
}

// luma is ITU-R BT.601 luma in 16-bit fixed point, as Pillow's RGB to L.
func luma(r, g, b byte) byte {
	return byte((19595*int(r) + 38470*int(g) + 7471*int(b) + 32768) >> 16)
}

// Grey writes the luma of src into the one-channel image dst of the same size: ITU-R BT.601
// weights (0.299, 0.587, 0.114) in 16-bit fixed point; alpha is dropped. It uses all cores.
func Grey(dst, src raster.Image) error {
	if err := src.Check(); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if err := dst.Check(); err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	if dst.Channels != 1 || dst.Width != src.Width || dst.Height != src.Height {
		return fmt.Errorf("%w: grey of %d×%d needs a one-channel %d×%d destination, not %d×%d×%d",
			raster.ErrImage, src.Width, src.Height, src.Width, src.Height, dst.Width, dst.Height, dst.Channels)
	}
	j := job{sw: src.Width, sh: src.Height, ss: src.Stride, dw: dst.Width, dh: dst.Height, ds: dst.Stride, c: src.Channels}
	return runJobs(greyK, []job{j}, src.Pix, dst.Pix, nil)
}

func prepareLUT(ln *launch, j *job) error {
	if err := checkChannels(j); err != nil {
		return err
	}
	if j.dw != j.sw || j.dh != j.sh {
		return errorf("%d×%d to %d×%d", j.sw, j.sh, j.dw, j.dh)
	}
	if err := j.source(ln, j.sw, j.sh, j.sw*j.c, 1); err != nil {
		return err
	}
	if err := j.dest(ln, j.dw, j.dh, j.dw*j.c, 1); err != nil {
		return err
	}
	_, err := j.table(ln, 0, int64(256*j.c))
	return err
}

func rowLUT(_ *worker, ln *launch, j *job, y, x0, x1 int) {
	c := j.c
	src := ln.src[j.src+int64(y)*int64(j.ss)+int64(x0*c):]
	dst := ln.dst[j.dst+int64(y)*int64(j.ds)+int64(x0*c):]
	dst = dst[:(x1-x0)*c]
	src = src[:len(dst)]
	t := ln.tab[j.tab:]
	if c == 1 {
		t := (*[256]byte)(t)
		for i, v := range src {
			dst[i] = t[v]
		}
		return
	}
	for ch := range c {
		t := (*[256]byte)(t[256*ch:])
		for i := ch; i < len(dst); i += c {
			dst[i] = t[src[i]]
		}
	}
}

// Curve maps byte values to byte values, the same for every colour channel; alpha is left
// alone. Curves compose exactly, so any sequence of them costs one table lookup per byte.
type Curve [256]byte

// IdentityCurve leaves bytes unchanged.
func IdentityCurve() Curve {
	var c Curve
	for i := range c {
		c[i] = byte(i)
	}
	return c
}

// Then returns the curve that applies c, then d.
func (c Curve) Then(d Curve) Curve {
	var r Curve
	for i, v := range c {
		r[i] = d[v]
	}
	return r
}

// Levels returns the curve of a brightness, contrast and gamma adjustment, applied in that
// order of gamma, contrast, brightness to x = v/255:
//
//	x ↦ x^(1/gamma)              gamma > 1 lightens, < 1 darkens, 1 leaves alone
//	x ↦ (x − 0.5)·contrast + 0.5 contrast > 1 increases contrast, 0 makes everything grey
//	x ↦ x + brightness           brightness in −1..1 shifts by that fraction of white
//
// and the result is clamped to 0..1 and rounded to a byte.
func Levels(brightness, contrast, gamma float64) (Curve, error) {
	for _, v := range []float64{brightness, contrast, gamma} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Curve{}, fmt.Errorf("kernels: Levels(%v, %v, %v): not finite", brightness, contrast, gamma)
		}
	}
	if gamma <= 0 || contrast < 0 {
		return Curve{}, fmt.Errorf("kernels: Levels: gamma %v must be positive and contrast %v not negative", gamma, contrast)
	}
	var c Curve
	for i := range c {
		x := math.Pow(float64(i)/255, 1/gamma)
		x = (x-0.5)*contrast + 0.5 + brightness
		c[i] = byte(math.Floor(min(max(x, 0), 1)*255 + 0.5))
	}
	return c, nil
}

// table expands c to the per-channel table of the lut kernel: alpha maps to itself.
func (c Curve) table(b []byte, channels int) {
	for ch := range channels {
		t := b[256*ch : 256*ch+256]
		if channels == 4 && ch == 3 {
			for i := range t {
				t[i] = byte(i)
			}
			continue
		}
		copy(t, c[:])
	}
}

// ApplyCurve maps every colour byte of src through c into dst, of the same size and channels;
// alpha is copied. It uses all cores.
func ApplyCurve(dst, src raster.Image, c Curve) error {
	if err := checkPair(dst, src); err != nil {
		return err
	}
	if dst.Width != src.Width || dst.Height != src.Height {
		return fmt.Errorf("%w: curve from %d×%d to %d×%d", raster.ErrImage, src.Width, src.Height, dst.Width, dst.Height)
	}
	tab := make([]byte, 256*src.Channels)
	c.table(tab, src.Channels)
	j := job{sw: src.Width, sh: src.Height, ss: src.Stride, dw: dst.Width, dh: dst.Height, ds: dst.Stride, c: src.Channels}
	return runJobs(lutK, []job{j}, src.Pix, dst.Pix, tab)
}
