package kernels

import (
	"errors"
	"fmt"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Chain is a list of image operations to apply to every image of a batch, built by chaining
// its methods:
//
//	c := kernels.NewChain().Orient(raster.Rotate90).ResizeShorter(256, raster.Lanczos3).
//		CenterCrop(224, 224).Normalize(kernels.ImageNet)
//
// A Chain is a value: each method returns a new Chain and leaves its receiver unchanged.
// Arguments are checked by Plan, which turns the chain into kernel launches.
type Chain struct {
	ops []op
}

// NewChain returns an empty chain, which copies images unchanged.
func NewChain() Chain { return Chain{} }

type opKind uint8

const (
	opResize opKind = iota + 1
	opCrop
	opCenterCrop
	opOrient
	opGrey
	opCurve
	opBlur
	opSharpen
	opNormalize
	opColor
)

// sizeMode is how a resize chooses its output size.
type sizeMode uint8

const (
	sizeExact   sizeMode = iota + 1 // exactly w×h
	sizeFit                         // the largest size inside w×h with the aspect ratio kept
	sizeShrink                      // as sizeFit, but never larger than the source
	sizeShorter                     // shorter side w, aspect ratio kept
	sizeCover                       // the smallest size covering w×h with the aspect ratio kept
)

type op struct {
	kind      opKind
	mode      sizeMode
	w, h      int
	x, y      int
	filter    raster.Filter
	o         raster.Orientation
	curve     Curve
	levels    *[3]float64 // the brightness, contrast and gamma curve was made from, if any
	sigma     float64
	amount    float64
	threshold int
	norm      Norm
	err       error // an argument error found while building, reported by Plan
}

func (c Chain) add(o op) Chain {
	ops := make([]op, len(c.ops), len(c.ops)+1)
	copy(ops, c.ops)
	return Chain{ops: append(ops, o)}
}

// Then returns the chain of c's operations followed by next's.
func (c Chain) Then(next Chain) Chain {
	return Chain{ops: append(append(make([]op, 0, len(c.ops)+len(next.ops)), c.ops...), next.ops...)}
}

// Resize scales every image to exactly w×h with filter f (antialiased when downscaling),
// without keeping the aspect ratio: the word stretch (or resize) of ParseChain.
func (c Chain) Resize(w, h int, f raster.Filter) Chain {
	return c.add(op{kind: opResize, mode: sizeExact, w: w, h: h, filter: f})
}

// ResizeFit scales every image to the largest size that fits in w×h with its aspect ratio
// kept, enlarging small images.
func (c Chain) ResizeFit(w, h int, f raster.Filter) Chain {
	return c.add(op{kind: opResize, mode: sizeFit, w: w, h: h, filter: f})
}

// ResizeShrink is ResizeFit for thumbnails: images that already fit in w×h are left at their
// size.
func (c Chain) ResizeShrink(w, h int, f raster.Filter) Chain {
	return c.add(op{kind: opResize, mode: sizeShrink, w: w, h: h, filter: f})
}

// ResizeShorter scales every image so that its shorter side is side pixels, keeping the
// aspect ratio (torchvision's Resize(side)).
func (c Chain) ResizeShorter(side int, f raster.Filter) Chain {
	return c.add(op{kind: opResize, mode: sizeShorter, w: side, h: side, filter: f})
}

// ResizeCover scales every image to the smallest size that covers w×h with its aspect ratio
// kept: one side gets the box's length, the other at least its length (the word cover of
// ParseChain). Followed by CenterCrop(w, h) it makes w×h thumbnails that fill the box
// (vipsthumbnail --crop): see ResizeFill.
func (c Chain) ResizeCover(w, h int, f raster.Filter) Chain {
	return c.add(op{kind: opResize, mode: sizeCover, w: w, h: h, filter: f})
}

// ResizeFill makes every image exactly w×h without stretching it: it covers the box with
// the aspect ratio kept, then keeps the centre. It is ResizeCover(w, h, f).CenterCrop(w, h),
// the word fill of ParseChain.
func (c Chain) ResizeFill(w, h int, f raster.Filter) Chain {
	return c.ResizeCover(w, h, f).CenterCrop(w, h)
}

// Crop keeps the rectangle with top-left corner (x, y) and size w×h, clipped to the image.
// An image that the rectangle misses entirely is an error.
func (c Chain) Crop(x, y, w, h int) Chain {
	return c.add(op{kind: opCrop, x: x, y: y, w: w, h: h})
}

// CenterCrop keeps the centred w×h rectangle, clipped to the image.
func (c Chain) CenterCrop(w, h int) Chain {
	return c.add(op{kind: opCenterCrop, w: w, h: h})
}

// Orient flips, rotates or transposes (see Orientation; use it with the EXIF orientation to
// turn photos upright).
func (c Chain) Orient(o raster.Orientation) Chain { return c.add(op{kind: opOrient, o: o}) }

// FlipH mirrors left to right.
func (c Chain) FlipH() Chain { return c.Orient(raster.FlipH) }

// FlipV mirrors top to bottom.
func (c Chain) FlipV() Chain { return c.Orient(raster.FlipV) }

// Grey converts to one channel (BT.601 luma).
func (c Chain) Grey() Chain { return c.add(op{kind: opGrey}) }

// Curve maps every colour byte through cv (alpha is left alone).
func (c Chain) Curve(cv Curve) Chain { return c.add(op{kind: opCurve, curve: cv}) }

// Levels adjusts brightness, contrast and gamma (see the function Levels).
func (c Chain) Levels(brightness, contrast, gamma float64) Chain {
	cv, err := Levels(brightness, contrast, gamma)
	return c.add(op{kind: opCurve, curve: cv, levels: &[3]float64{brightness, contrast, gamma}, err: err})
}

// Blur applies a Gaussian blur of standard deviation sigma pixels.
func (c Chain) Blur(sigma float64) Chain { return c.add(op{kind: opBlur, sigma: sigma}) }

// Sharpen applies an unsharp mask (see the function Sharpen).
func (c Chain) Sharpen(sigma, amount float64, threshold int) Chain {
	return c.add(op{kind: opSharpen, sigma: sigma, amount: amount, threshold: threshold})
}

// ToSRGB converts every image to sRGB through its own ColorMap, given to the batch
// (NewColorBatch); images without one pass unchanged (they are sRGB, or their colour space is
// not managed). It is a per-pixel operation, so the planner moves it past resizes, crops and
// flips to where the image is smallest (after a thumbnail's resize) and computes it in the
// resize's vertical pass: a thumbnail chain gains no launch and no pass over memory. The
// conversion then works on resized pixels, as vipsthumbnail's does; the difference from
// converting first is that of resizing in one gamma-encoded space rather than another.
func (c Chain) ToSRGB() Chain { return c.add(op{kind: opColor}) }

// Normalize converts to planar float32 tensors (see Norm). It must come last.
func (c Chain) Normalize(n Norm) Chain {
	n.Mean = append([]float32(nil), n.Mean...)
	n.Std = append([]float32(nil), n.Std...)
	return c.add(op{kind: opNormalize, norm: n})
}

// ErrChain is wrapped by errors about a chain's operations.
var ErrChain = errors.New("kernels: bad chain")

// MaxOps is the most operations a chain may have. Each costs at least a kernel launch per
// batch, so a longer chain is a mistake (or hostile text for ParseChain), and planning one
// takes time that grows faster than its length.
const MaxOps = 1000

// check validates the arguments of operation i of n.
func (o *op) check(i, n int) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: operation %d: %s", ErrChain, i+1, fmt.Sprintf(format, a...))
	}
	if o.err != nil {
		return bad("%v", o.err)
	}
	switch o.kind {
	case opResize:
		if !o.filter.Valid() {
			return bad("unknown filter %v", o.filter)
		}
		if o.w < 1 || o.h < 1 || o.w > raster.MaxSide || o.h > raster.MaxSide {
			return bad("resize to %d×%d", o.w, o.h)
		}
	case opCrop, opCenterCrop:
		if o.w < 1 || o.h < 1 || o.x < 0 || o.y < 0 {
			return bad("crop %d,%d %d×%d", o.x, o.y, o.w, o.h)
		}
	case opOrient:
		if !o.o.Valid() {
			return bad("%v", o.o)
		}
	case opBlur:
		if err := checkSigma(o.sigma); err != nil {
			return bad("%v", err)
		}
	case opSharpen:
		if err := checkUnsharp(o.sigma, o.amount, o.threshold); err != nil {
			return bad("%v", err)
		}
	case opNormalize:
		if i != n-1 {
			return bad("Normalize must be the last operation")
		}
		if err := o.norm.check(0); err != nil {
			return bad("%v", err)
		}
	}
	return nil
}

// cropRect is the rectangle a crop operation keeps of a w×h image.
func (o *op) cropRect(w, h int) (rect, error) {
	if o.kind == opCenterCrop {
		return centerRect(w, h, o.w, o.h), nil
	}
	x1, y1 := min(o.x+o.w, w), min(o.y+o.h, h)
	if o.x >= x1 || o.y >= y1 {
		return rect{}, fmt.Errorf("%w: crop %d,%d %d×%d misses a %d×%d image", raster.ErrImage, o.x, o.y, o.w, o.h, w, h)
	}
	return rect{o.x, o.y, x1 - o.x, y1 - o.y}, nil
}

// resizeSize is the output size of a resize operation on a w×h image.
func (o *op) resizeSize(w, h int) (int, int, error) {
	var rw, rh int
	switch o.mode {
	case sizeExact:
		rw, rh = o.w, o.h
	case sizeShrink:
		if w <= o.w && h <= o.h {
			return w, h, nil
		}
		rw, rh = fit(w, h, o.w, o.h)
	case sizeFit:
		rw, rh = fit(w, h, o.w, o.h)
	case sizeShorter:
		if w <= h {
			rw, rh = o.w, scaled(h, o.w, w)
		} else {
			rw, rh = scaled(w, o.w, h), o.w
		}
	case sizeCover:
		rw, rh = cover(w, h, o.w, o.h)
	}
	if err := raster.CheckSize(rw, rh); err != nil {
		return 0, 0, fmt.Errorf("resizing %d×%d: %w", w, h, err)
	}
	return rw, rh, nil
}

// fit is the largest size inside bw×bh with the aspect ratio of w×h. The limiting side gets
// the box's length exactly; the other is rounded, and at least 1.
func fit(w, h, bw, bh int) (int, int) {
	if int64(w)*int64(bh) >= int64(h)*int64(bw) {
		return bw, scaled(h, bw, w)
	}
	return scaled(w, bh, h), bh
}

// cover is the smallest size covering bw×bh with the aspect ratio of w×h. The limiting side
// gets the box's length exactly; the other is rounded, but never below the box's.
func cover(w, h, bw, bh int) (int, int) {
	if int64(w)*int64(bh) >= int64(h)*int64(bw) {
		return max(scaled(w, bh, h), bw), bh
	}
	return bw, max(scaled(h, bw, w), bh)
}

// scaled is round(v·num/den), at least 1.
func scaled(v, num, den int) int {
	return int(max((2*int64(v)*int64(num)+int64(den))/(2*int64(den)), 1))
}

// FitSize is the size ResizeFit gives a w×h image in a bw×bh box.
func FitSize(w, h, bw, bh int) (int, int) { return fit(w, h, bw, bh) }

// rect is a rectangle in pixels.
type rect struct{ x, y, w, h int }

// centerRect is the centred w×h rectangle of a width×height image, clipped to it, as
// raster.Image.CenterCrop takes it: the extra pixel of an odd margin on the right or bottom.
func centerRect(width, height, w, h int) rect {
	w, h = min(w, width), min(h, height)
	return rect{(width - w) / 2, (height - h) / 2, w, h}
}

// rowBytes is the number of bytes of pixel data in one row of m.
func rowBytes(m raster.Image) int { return m.Width * m.Channels }
