package kernels

import "github.com/gpupipe/gpupipe/gpu/raster"

// The Go side of orient (csrc/pixel.cu): the pixels are moved by raster.OrientSpan, the one
// host implementation of the orientations.

var orientK = &kernelDef{name: "orient", module: "pixel", prepare: prepareOrient, row: rowOrient}

func prepareOrient(ln *launch, j *job) error {
	if err := checkChannels(j); err != nil {
		return err
	}
	o := raster.Orientation(j.i0)
	if j.i0 < 1 || j.i0 > 8 {
		return errorf("orientation %d", j.i0)
	}
	if w, h := o.Size(j.sw, j.sh); j.dw != w || j.dh != h {
		return errorf("%v of %d×%d is %d×%d, not %d×%d", o, j.sw, j.sh, w, h, j.dw, j.dh)
	}
	if err := j.source(ln, j.sw, j.sh, j.sw*j.c, 1); err != nil {
		return err
	}
	return j.dest(ln, j.dw, j.dh, j.dw*j.c, 1)
}

func rowOrient(_ *worker, ln *launch, j *job, y, x0, x1 int) {
	src := raster.Image{Pix: ln.src[j.src:], Width: j.sw, Height: j.sh, Stride: j.ss, Channels: j.c}
	dst := raster.Image{Pix: ln.dst[j.dst:], Width: j.dw, Height: j.dh, Stride: j.ds, Channels: j.c}
	// prepareOrient checked both views and the orientation, so this cannot fail.
	_ = raster.OrientSpan(dst, src, raster.Orientation(j.i0), y, x0, x1)
}
