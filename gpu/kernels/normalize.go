package kernels

import (
	"fmt"
	"math"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// The Go side of normalize (csrc/pixel.cu) and of the normalising epilogue of
// resample_v_norm (csrc/resample.cu).

var normalizeK = &kernelDef{name: "normalize", module: "pixel", prepare: prepareNormalize, row: rowNormalize}

// Norm describes the conversion of bytes to float32 for machine learning:
// out = (v*Scale - Mean[c]) / Std[c] for the byte v of channel c, written in planar (CHW)
// layout. With Scale = 1/255 and ImageNet's Mean and Std it is torchvision's ToTensor followed
// by Normalize.
type Norm struct {
	// Mean and Std have one entry per output plane; Std entries must not be zero.
	Mean, Std []float32
	// Scale multiplies the byte before the mean is subtracted; 0 means 1/255.
	Scale float32
	// Mirror flips the image left to right on the way (crop_mirror_normalize's mirror).
	Mirror bool
}

// ImageNet is the usual normalisation of torchvision's ImageNet models.
var ImageNet = Norm{Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}

// planes is the number of output planes, one per Mean entry.
func (n Norm) planes() int { return len(n.Mean) }

// check reports a Norm that cannot be used on images with c channels (0: any of 1, 3, 4).
func (n Norm) check(c int) error {
	switch {
	case len(n.Mean) < 1 || len(n.Mean) > 4 || len(n.Std) != len(n.Mean):
		return fmt.Errorf("kernels: Norm needs 1 to 4 means and as many deviations, has %d and %d", len(n.Mean), len(n.Std))
	case c > 1 && n.planes() > c:
		return fmt.Errorf("kernels: Norm with %d planes for %d-channel images", n.planes(), c)
	case math.IsNaN(float64(n.Scale)) || math.IsInf(float64(n.Scale), 0):
		return fmt.Errorf("kernels: Norm scale %v", n.Scale)
	}
	for i, s := range n.Std {
		m := float64(n.Mean[i])
		if s == 0 || math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) || math.IsNaN(m) || math.IsInf(m, 0) {
			return fmt.Errorf("kernels: Norm plane %d: mean %v, std %v", i, n.Mean[i], s)
		}
	}
	return nil
}

// record folds the Norm into out = float32(v)*scale + bias per plane, computed in float64.
func (n Norm) record() norm {
	s := float64(n.Scale)
	if s == 0 {
		s = 1.0 / 255
	}
	var r norm
	for p := range n.planes() {
		r.scale[p] = float32(s / float64(n.Std[p]))
		r.bias[p] = float32(-float64(n.Mean[p]) / float64(n.Std[p]))
	}
	return r
}

// checkPlanes checks the planar float32 destination of a normalising job and its Norm record.
func checkPlanes(ln *launch, j *job) error {
	if j.i1 < 1 || j.i1 > 4 || (j.c > 1 && j.i1 > j.c) {
		return errorf("%d output planes from %d channels", j.i1, j.c)
	}
	if j.dh > raster.MaxSide {
		return errorf("%d rows", j.dh)
	}
	if err := j.dest(ln, j.dw, j.dh*j.i1, 4*j.dw, 4); err != nil {
		return err
	}
	b, err := j.table(ln, 0, normSize)
	if err != nil {
		return err
	}
	j.norm = getNorm(b)
	return nil
}

func prepareNormalize(ln *launch, j *job) error {
	if err := checkChannels(j); err != nil {
		return err
	}
	if j.dw != j.sw || j.dh != j.sh {
		return errorf("%d×%d to %d×%d", j.sw, j.sh, j.dw, j.dh)
	}
	if err := j.source(ln, j.sw, j.sh, j.sw*j.c, 1); err != nil {
		return err
	}
	return checkPlanes(ln, j)
}

func rowNormalize(_ *worker, ln *launch, j *job, y, x0, x1 int) {
	src := ln.src[j.src+int64(y)*int64(j.ss):]
	var v [4]byte
	for x := x0; x < x1; x++ {
		sx := x
		if j.i0 != 0 {
			sx = j.sw - 1 - x
		}
		copy(v[:j.c], src[sx*j.c:])
		putPlanes(ln, j, x, y, v)
	}
}

// putPlanes writes pixel (x, y) with channel bytes v into the planes of a normalising job.
func putPlanes(ln *launch, j *job, x, y int, v [4]byte) {
	plane := int64(j.dh) * int64(j.ds)
	off := j.dst + int64(y)*int64(j.ds) + int64(4*x)
	nm := j.norm
	for p := range j.i1 {
		ch := p
		if j.c == 1 {
			ch = 0
		}
		f32row(ln.dst, off+int64(p)*plane, 1)[0] = float32(float32(v[ch])*nm.scale[p]) + nm.bias[p]
	}
}

// Normalize converts src to planar float32 in dst, which must have the size of src and
// n's number of planes: plane p is (v*Scale - Mean[p]) / Std[p] for channel p of src (channel
// 0 for grey images, so they fill every plane). It uses all cores.
func Normalize(dst raster.Tensor, src raster.Image, n Norm) error {
	if err := src.Check(); err != nil {
		return err
	}
	if err := n.check(src.Channels); err != nil {
		return err
	}
	if dst.Width != src.Width || dst.Height != src.Height || dst.Channels != n.planes() || len(dst.Data) < dst.Width*dst.Height*dst.Channels {
		return fmt.Errorf("%w: %d×%d×%d tensor (%d values) for a %d×%d image with %d planes",
			raster.ErrImage, dst.Channels, dst.Height, dst.Width, len(dst.Data), src.Width, src.Height, n.planes())
	}
	rec := n.record()
	tab := make([]byte, normSize)
	rec.put(tab)
	mirror := 0
	if n.Mirror {
		mirror = 1
	}
	j := job{sw: src.Width, sh: src.Height, ss: src.Stride, dw: src.Width, dh: src.Height, ds: 4 * src.Width,
		c: src.Channels, i0: mirror, i1: n.planes()}
	return runJobs(normalizeK, []job{j}, src.Pix, floatBytes(dst.Data), tab)
}
