package kernels

import (
	"fmt"
	"math"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Gaussian blur runs the resample kernels with Gaussian tables; sharpening adds the Go side
// of unsharp (csrc/pixel.cu).

var unsharpK = &kernelDef{name: "unsharp", module: "pixel", prepare: prepareUnsharp, row: rowUnsharp}

// MaxSigma is the largest blur radius, in standard deviations, that Blur and Sharpen take.
const MaxSigma = 1000

func checkSigma(sigma float64) error {
	if !(sigma > 0 && sigma <= MaxSigma) {
		return fmt.Errorf("kernels: blur sigma %v outside (0, %d]", sigma, MaxSigma)
	}
	return nil
}

func gaussTables(w, h int, sigma float64) (tx, ty []byte) {
	tx = cachedTaps(tapsKey{a: axis{in: w, out: w, n: w}, sigma: sigma})
	ty = cachedTaps(tapsKey{a: axis{in: h, out: h, n: h}, sigma: sigma})
	return tx, ty
}

// Blur writes src blurred by a Gaussian of standard deviation sigma (in pixels) into dst, of
// the same size and channels. The filter is separable and spans three standard deviations on
// each side; near the borders, the pixels that would fall outside the image are left out and
// the remaining weights renormalised. Four-channel images are blurred with premultiplied
// alpha. It uses all cores.
func Blur(dst, src raster.Image, sigma float64) error {
	if err := checkSame(dst, src); err != nil {
		return err
	}
	if err := checkSigma(sigma); err != nil {
		return err
	}
	tx, ty := gaussTables(src.Width, src.Height, sigma)
	return resample(dst, src, tx, ty)
}

// Sharpen applies an unsharp mask: where a colour byte s differs from the same byte b of the
// image blurred with sigma by at least threshold, it becomes s + amount·(s − b), rounded and
// clamped; elsewhere, and for alpha, it is copied. amount 0.5 to 1.5 with sigma 1 to 2 and
// threshold 0 to 5 are usual. It uses all cores.
func Sharpen(dst, src raster.Image, sigma, amount float64, threshold int) error {
	if err := checkSame(dst, src); err != nil {
		return err
	}
	if err := checkUnsharp(sigma, amount, threshold); err != nil {
		return err
	}
	blurred, err := raster.NewImage(src.Width, src.Height, src.Channels)
	if err != nil {
		return err
	}
	if err := Blur(blurred, src, sigma); err != nil {
		return err
	}
	j := job{sw: src.Width, sh: src.Height, ss: src.Stride, dw: dst.Width, dh: dst.Height, ds: dst.Stride,
		c: src.Channels, i0: blurred.Stride, i1: threshold, f0: float32(amount)}
	return runJobs(unsharpK, []job{j}, src.Pix, dst.Pix, blurred.Pix)
}

func checkUnsharp(sigma, amount float64, threshold int) error {
	if err := checkSigma(sigma); err != nil {
		return err
	}
	if math.IsNaN(amount) || math.Abs(amount) > 1000 || threshold < 0 || threshold > 255 {
		return fmt.Errorf("kernels: sharpen amount %v (want a finite amount up to 1000) or threshold %d (want 0..255)", amount, threshold)
	}
	return nil
}

// checkSame checks a source and a destination of the same size and channels.
func checkSame(dst, src raster.Image) error {
	if err := checkPair(dst, src); err != nil {
		return err
	}
	if dst.Width != src.Width || dst.Height != src.Height {
		return fmt.Errorf("%w: %d×%d destination for a %d×%d source", raster.ErrImage, dst.Width, dst.Height, src.Width, src.Height)
	}
	return nil
}

func prepareUnsharp(ln *launch, j *job) error {
	if err := checkChannels(j); err != nil {
		return err
	}
	if j.dw != j.sw || j.dh != j.sh {
		return errorf("%d×%d to %d×%d", j.sw, j.sh, j.dw, j.dh)
	}
	if j.i1 < 0 || math.IsNaN(float64(j.f0)) || math.IsInf(float64(j.f0), 0) {
		return errorf("threshold %d, amount %v", j.i1, j.f0)
	}
	if err := j.source(ln, j.sw, j.sh, j.sw*j.c, 1); err != nil {
		return err
	}
	if err := checkView("blurred source", ln.tab, j.tab, j.sw, j.sh, j.i0, j.sw*j.c, 1); err != nil {
		return err
	}
	j.memory = append(j.memory, viewRegion(ln.tab, j.tab, j.sh, j.i0, j.sw*j.c, false))
	return j.dest(ln, j.dw, j.dh, j.dw*j.c, 1)
}

func rowUnsharp(_ *worker, ln *launch, j *job, y, x0, x1 int) {
	c := j.c
	n := (x1 - x0) * c
	src := ln.src[j.src+int64(y)*int64(j.ss)+int64(x0*c):][:n]
	blr := ln.tab[j.tab+int64(y)*int64(j.i0)+int64(x0*c):][:n]
	dst := ln.dst[j.dst+int64(y)*int64(j.ds)+int64(x0*c):][:n]
	amount, threshold := j.f0, j.i1
	for i := range dst {
		if c == 4 && i%4 == 3 {
			dst[i] = src[i]
			continue
		}
		diff := int(src[i]) - int(blr[i])
		if max(diff, -diff) >= threshold {
			dst[i] = toU8(float32(src[i]) + float32(amount*float32(diff)))
		} else {
			dst[i] = src[i]
		}
	}
}
