package kernels

import (
	"fmt"
	"math"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Facts about a plan that callers need before any image arrives: the size a decoder may
// shrink an image to, and whether every output has the same shape. Both are read from the
// plan's operations, not from its text and not by trying sizes.

// MinDecodeSize reports the smallest size at which a w×h image (as the chain receives it:
// upright, after EXIF orientation) may be decoded without the plan's output losing quality:
// twice, on each side, the size the plan's first resize makes of it, so that the resize
// still filters at least two source pixels into every output pixel (as vipsthumbnail's
// shrink-on-load does), and never more than w×h. Twice is a measured choice, not a habit:
// bench/shrink compares thumbnails of photo-like JPEGs of 1.3 to 18 MP decoded with margins
// from 1 to 2 against a float64 Lanczos-3 of the full-size image. Margin 2 comes out about
// 4 dB above vipsthumbnail on average and at or above it on every photo; 1.5 loses 2.6 dB on
// average and falls 7 dB below vipsthumbnail on some photos; 1 (the target itself, as
// Pillow's draft to the box) loses 7 dB. On 44 real photos (bench/real-photos.sh) margin 2
// averages 54.2 dB against vipsthumbnail's 52.3 and is above it on 43; on the 44th, a
// 5640×3172 abstract that both decode at 1/8, vipsthumbnail's reduce lands 1.4 dB closer to
// the full-size reference than an exact Lanczos-3 of the same decode does. 1.5 loses 2.3 dB
// there, 1 loses 6.7. The smaller decode saves little: libjpeg-turbo's time
// goes mostly to entropy decoding, which every scale pays (margin 1 decoded 13% faster than
// margin 2 there). A JPEG decoder that can shrink by 2, 4 or 8
// while decoding picks the largest factor that leaves at least this size on both sides; see
// imageio.Decoder.MinSize, which takes this method.
//
// It returns w, h (decode at full size) when the chain has no resize, when the first resize
// would not shrink the image to half, or when an operation before it depends on the input's
// size in pixels: a crop or centre crop (their rectangles are in pixels), a blur or a sharpen
// (their sigma is). Flips, rotations, grey and curves before the resize change nothing; a
// quarter turn or transpose swaps the sides the resize is measured on.
//
// An image decoded smaller gives an output of the same size, except where the decoder's
// rounding (a side of 1001 shrunk by 8 is 126) shifts the aspect ratio enough to move a
// rounded side of an aspect-keeping resize by a pixel.
func (p *Plan) MinDecodeSize(w, h int) (int, int) { return p.MinDecodeSizeMargin(w, h, 2) }

// DraftMargin is the margin of JPEG draft mode as Pillow's Image.draft and the ML loaders
// built on it use it: decode no smaller than the first resize's output itself. It decodes
// and resizes fewer pixels than MinDecodeSize's 2, for a softer, more aliased result.
const DraftMargin = 1.0

// MinDecodeSizeMargin is MinDecodeSize with margin times the first resize's output in place
// of twice it; a margin below 1 means full size (no shrink-on-load).
func (p *Plan) MinDecodeSizeMargin(w, h int, margin float64) (int, int) {
	if w < 1 || h < 1 || margin < 1 {
		return w, h
	}
	cw, ch := w, h // the image's size where the chain has got to
	swapped := false
	for i := range p.ops {
		o := &p.ops[i]
		switch o.kind {
		case opOrient:
			if o.o.Swaps() {
				cw, ch, swapped = ch, cw, !swapped
			}
		case opGrey, opCurve, opColor:
		case opResize:
			rw, rh, err := o.resizeSize(cw, ch)
			if err != nil {
				return w, h
			}
			mw, mh := min(cw, int(math.Ceil(margin*float64(rw)))), min(ch, int(math.Ceil(margin*float64(rh))))
			if swapped {
				mw, mh = mh, mw
			}
			return mw, mh
		default:
			return w, h
		}
	}
	return w, h
}

// FixedShape reports the shape of every output the plan makes from images with the given
// number of channels, when that shape does not depend on the input's size; ok is false when
// it does, or when no input could give an output. It is what a writer of fixed-size tensor
// rows needs to know before the first image.
//
// The shape is followed through the plan's operations, each side as a range of possible
// lengths: stretch (Resize) fixes both sides; a crop or centre crop fixes a side that is
// known to be at least as long as the crop (after ResizeShorter, ResizeCover, or another
// fixed size); any resize of a fixed size is fixed; orientations swap sides; grey makes one
// channel and Normalize makes tensor planes. So ResizeFill, stretch, and ResizeShorter or
// ResizeCover followed by a centre crop no larger than their box end in a fixed shape, as
// does Normalize after any of them; ResizeFit, ResizeShrink and crops of images of unknown
// size do not.
func (p *Plan) FixedShape(channels int) (Shape, bool) {
	if channels != 1 && channels != 3 && channels != 4 {
		return Shape{}, false
	}
	x, y := sideRange{1, raster.MaxSide}, sideRange{1, raster.MaxSide}
	shape := Shape{Channels: channels}
	for i := range p.ops {
		o := &p.ops[i]
		switch o.kind {
		case opResize:
			if x.fixed() && y.fixed() {
				w, h, err := o.resizeSize(x.lo, y.lo)
				if err != nil {
					return Shape{}, false
				}
				x, y = sideRange{w, w}, sideRange{h, h}
				continue
			}
			switch o.mode {
			case sizeExact:
				x, y = sideRange{o.w, o.w}, sideRange{o.h, o.h}
			case sizeFit:
				x, y = sideRange{1, o.w}, sideRange{1, o.h}
			case sizeShrink:
				x, y = sideRange{1, min(x.hi, o.w)}, sideRange{1, min(y.hi, o.h)}
			case sizeShorter:
				x, y = sideRange{o.w, raster.MaxSide}, sideRange{o.w, raster.MaxSide}
			case sizeCover:
				x, y = sideRange{o.w, raster.MaxSide}, sideRange{o.h, raster.MaxSide}
			}
		case opCrop, opCenterCrop:
			var ok1, ok2 bool
			x, ok1 = x.crop(o.x, o.w)
			y, ok2 = y.crop(o.y, o.h)
			if !ok1 || !ok2 {
				return Shape{}, false
			}
		case opOrient:
			if o.o.Swaps() {
				x, y = y, x
			}
		case opGrey:
			shape.Channels = 1
		case opNormalize:
			if o.norm.check(shape.Channels) != nil {
				return Shape{}, false
			}
			shape.Channels, shape.Tensor = o.norm.planes(), true
		}
	}
	if !x.fixed() || !y.fixed() || raster.CheckSize(x.lo, y.lo) != nil {
		return Shape{}, false
	}
	shape.Width, shape.Height = x.lo, y.lo
	return shape, true
}

// sideRange is the lengths one side of an image may have: lo to hi.
type sideRange struct{ lo, hi int }

func (r sideRange) fixed() bool { return r.lo == r.hi }

// crop is the range of a side after keeping n pixels from offset at (clipped to the side);
// ok is false when no side in r reaches past at, so that every image fails.
func (r sideRange) crop(at, n int) (sideRange, bool) {
	if r.hi <= at {
		return sideRange{}, false
	}
	// Sides up to at fail; the others keep min(side, at+n) - at pixels.
	return sideRange{max(1, min(r.lo, at+n)-at), min(r.hi, at+n) - at}, true
}

// CheckSizes reports an operation that makes an image over raster's limits (raster.CheckSize)
// from every input, whatever its size: a resize to an exact size (stretch, fill) past them,
// or a cover or shorter-side resize whose smallest result is (a resize's own result is
// checked, even when a crop after it keeps less). Such a chain fails on every image, so a
// caller can refuse it before the first. It returns nil when some input could go
// through; an input may still fail alone (a fit of a huge image stays within the limits, a
// cover of a very long one may not).
//
// Each side is followed as its smallest possible length through the operations: stretch
// fixes it, cover and shorter-side resizes make it at least their box, fit and shrink at
// least 1, a crop at least 1 or the crop's size, and orientations swap the sides.
func (p *Plan) CheckSizes() error {
	lw, lh := 1, 1 // the smallest width and height an image can have at this point
	for i := range p.ops {
		o := &p.ops[i]
		switch o.kind {
		case opResize:
			switch o.mode {
			case sizeExact, sizeCover:
				lw, lh = o.w, o.h
			case sizeShorter:
				lw, lh = o.w, o.w
			default:
				lw, lh = 1, 1
			}
			if err := raster.CheckSize(lw, lh); err != nil {
				return fmt.Errorf("%w: a resize makes images of at least %d×%d whatever the input: %w", ErrChain, lw, lh, err)
			}
		case opCenterCrop:
			lw, lh = min(lw, o.w), min(lh, o.h)
		case opCrop:
			lw, lh = 1, 1
		case opOrient:
			if o.o.Swaps() {
				lw, lh = lh, lw
			}
		}
	}
	return nil
}
