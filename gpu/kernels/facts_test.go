package kernels

import (
	"errors"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

func mustPlan(t testing.TB, c Chain) *Plan {
	t.Helper()
	p, err := c.Plan()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMinDecodeSize(t *testing.T) {
	lz := raster.Lanczos3
	for _, c := range []struct {
		chain      Chain
		w, h       int
		minW, minH int
	}{
		{NewChain().Resize(64, 32, lz), 1000, 1000, 128, 64},
		{NewChain().ResizeFit(50, 50, lz), 200, 100, 100, 50},
		{NewChain().ResizeFit(250, 250, lz), 4000, 3000, 500, 376}, // 250×188
		{NewChain().ResizeShrink(500, 500, lz), 200, 100, 200, 100},
		{NewChain().ResizeFill(40, 30, lz), 100, 100, 80, 80},
		{NewChain().ResizeShorter(20, lz).CenterCrop(16, 16), 90, 60, 60, 40},
		{NewChain().ResizeCover(250, 250, lz), 4000, 3000, 666, 500},
		{NewChain().Orient(raster.Rotate90).ResizeFit(40, 20, lz), 100, 50, 40, 20},         // shown 50×100 → 10×20
		{NewChain().Orient(raster.Rotate90).ResizeFit(40, 20, raster.Box), 100, 50, 40, 20}, // not moved past the resize
		{NewChain().Grey().Levels(0.1, 1, 1).ResizeFit(10, 10, lz), 100, 100, 20, 20},
		{NewChain().FlipV().ResizeFit(10, 10, lz).Blur(1), 30, 20, 20, 14},
		{NewChain().Crop(10, 10, 50, 50).ResizeFit(5, 5, lz), 100, 50, 100, 50},
		{NewChain().CenterCrop(50, 50).ResizeFit(5, 5, lz), 100, 50, 100, 50},
		{NewChain().Blur(1).ResizeFit(5, 5, lz), 100, 50, 100, 50},
		{NewChain().Sharpen(1, 1, 0).ResizeFit(5, 5, lz), 100, 50, 100, 50},
		{NewChain().Grey().Blur(1), 100, 50, 100, 50},
		{NewChain().Normalize(ImageNet), 8, 8, 8, 8},
		{NewChain().Resize(400, 400, lz), 100, 100, 100, 100}, // enlarging
		{NewChain().ResizeFit(1, 1, lz), 17, 9, 2, 2},
		{NewChain().ResizeFit(10, 10, lz).ResizeFit(1, 1, lz), 1000, 1000, 20, 20}, // the first resize
	} {
		p := mustPlan(t, c.chain)
		if w, h := p.MinDecodeSize(c.w, c.h); w != c.minW || h != c.minH {
			t.Errorf("%v on %d×%d: %d×%d, want %d×%d", c.chain, c.w, c.h, w, h, c.minW, c.minH)
		}
	}
}

// Other margins scale the resize's output, rounding up; below 1, full size.
func TestMinDecodeSizeMargin(t *testing.T) {
	p := mustPlan(t, NewChain().ResizeShorter(256, raster.Lanczos3).CenterCrop(224, 224))
	for _, c := range []struct {
		margin     float64
		minW, minH int
	}{{DraftMargin, 341, 256}, {1.5, 512, 384}, {2, 682, 512}, {0, 4000, 3000}, {-1, 4000, 3000}, {20, 4000, 3000}} {
		if w, h := p.MinDecodeSizeMargin(4000, 3000, c.margin); w != c.minW || h != c.minH {
			t.Errorf("margin %v: %d×%d, want %d×%d", c.margin, w, h, c.minW, c.minH)
		}
	}
}

// Decoding at MinDecodeSize keeps at least two source pixels per output pixel of the first
// resize, and never asks for more than the image has.
func TestMinDecodeSizeKeepsTwiceTheResize(t *testing.T) {
	r := newRand(t)
	for range 2000 {
		c := randChain(r)
		p := mustPlan(t, c)
		w, h := 1+r.IntN(3000), 1+r.IntN(3000)
		mw, mh := p.MinDecodeSize(w, h)
		if mw < 1 || mh < 1 || mw > w || mh > h {
			t.Fatalf("%v on %d×%d: %d×%d", c, w, h, mw, mh)
		}
		if mw == w && mh == h {
			continue
		}
		// Something was given up: the chain starts with a resize, after orientations,
		// greys, curves and colour conversions only.
		cw, ch := w, h
		for _, o := range p.ops {
			if o.kind == opOrient && o.o.Swaps() {
				cw, ch = ch, cw
				mw, mh = mh, mw
			}
			if o.kind == opResize {
				rw, rh, _ := o.resizeSize(cw, ch)
				if mw < min(cw, 2*rw) || mh < min(ch, 2*rh) {
					t.Fatalf("%v on %d×%d: decode at %d×%d for a resize to %d×%d", c, w, h, mw, mh, rw, rh)
				}
				break
			}
			if o.kind != opOrient && o.kind != opGrey && o.kind != opCurve && o.kind != opColor {
				t.Fatalf("%v: shrinks before %v", c, o)
			}
		}
	}
}

func TestFixedShape(t *testing.T) {
	lz := raster.Linear
	for _, c := range []struct {
		chain Chain
		c     int
		want  Shape
		ok    bool
	}{
		{NewChain().Resize(64, 32, lz), 3, Shape{64, 32, 3, false}, true},
		{NewChain().ResizeFill(40, 30, lz), 4, Shape{40, 30, 4, false}, true},
		{NewChain().ResizeShorter(256, lz).CenterCrop(224, 224).Normalize(ImageNet), 3, Shape{224, 224, 3, true}, true},
		{NewChain().ResizeShorter(256, lz).CenterCrop(224, 224).FlipH().Normalize(ImageNet), 1, Shape{224, 224, 3, true}, true},
		{NewChain().ResizeCover(100, 50, lz).Crop(10, 5, 80, 40).Grey(), 3, Shape{80, 40, 1, false}, true},
		{NewChain().Resize(100, 50, lz).ResizeFit(30, 30, lz), 3, Shape{30, 15, 3, false}, true},
		{NewChain().Resize(100, 50, lz).Orient(raster.Rotate90).Blur(1), 3, Shape{50, 100, 3, false}, true},
		{NewChain().Resize(100, 50, lz).Crop(90, 0, 20, 20), 3, Shape{10, 20, 3, false}, true},
		{NewChain().Orient(raster.Transpose).ResizeShorter(20, lz).CenterCrop(30, 10), 3, Shape{}, false},
		{NewChain().ResizeShorter(20, lz).CenterCrop(20, 20).Normalize(Norm{Mean: []float32{0}, Std: []float32{1}}), 4, Shape{20, 20, 1, true}, true},
		{NewChain().Resize(10, 10, lz).Normalize(Norm{Mean: make([]float32, 4), Std: []float32{1, 1, 1, 1}}), 3, Shape{}, false},
		{NewChain().Resize(10, 10, lz).Crop(10, 0, 5, 5), 3, Shape{}, false}, // every image fails
		{NewChain().ResizeFit(30, 30, lz), 3, Shape{}, false},
		{NewChain().ResizeShrink(30, 30, lz).CenterCrop(10, 10), 3, Shape{}, false},
		{NewChain().ResizeShorter(256, lz), 3, Shape{}, false},
		{NewChain().CenterCrop(10, 10), 3, Shape{}, false},
		{NewChain().Grey(), 3, Shape{}, false},
		{NewChain(), 3, Shape{}, false},
		{NewChain().Resize(10, 10, lz), 2, Shape{}, false},
	} {
		p := mustPlan(t, c.chain)
		if s, ok := p.FixedShape(c.c); s != c.want || ok != c.ok {
			t.Errorf("%v with %d channels: %+v %v, want %+v %v", c.chain, c.c, s, ok, c.want, c.ok)
		}
	}
}

// Whenever FixedShape says the shape is fixed, every image the plan accepts gets it.
func TestFixedShapeHoldsForEveryInput(t *testing.T) {
	r := newRand(t)
	fixed := 0
	for range 3000 {
		c := randChain(r)
		if r.IntN(3) == 0 {
			// Chains that end in a fixed size, then go on.
			tail := randChain(r)
			c = NewChain().Resize(randSide(r, 40), randSide(r, 40), raster.Linear)
			c.ops = append(c.ops, tail.ops...)
		}
		p, err := c.Plan()
		if err != nil {
			continue
		}
		ch := channelCounts[r.IntN(3)]
		want, ok := p.FixedShape(ch)
		if !ok {
			continue
		}
		fixed++
		for range 20 {
			w, h := randSide(r, 200), randSide(r, 200)
			if got, err := p.Shape(w, h, ch); err == nil && got != want {
				t.Fatalf("%v: FixedShape(%d) %+v, but %d×%d gives %+v", c, ch, want, w, h, got)
			}
		}
	}
	if fixed < 100 {
		t.Errorf("only %d fixed chains", fixed)
	}
}

// CheckSizes refuses exactly the chains whose every image fails for its size: what it
// refuses fails on small, large, wide and tall inputs alike, and what it accepts has an
// input that goes through.
func TestCheckSizes(t *testing.T) {
	inputs := [][2]int{{1, 1}, {64, 48}, {48, 64}, {4000, 3000}, {1, 5000}, {5000, 1}}
	for _, c := range []struct {
		text string
		bad  bool
	}{
		{"resize=30000x30000", true},
		{"fill=20000x20000", true},
		{"resize=30000x30000,centercrop=10x10", true},
		{"shorter=20000,centercrop=100x100", true},
		{"rotate=90,cover=30000x20000", true},
		{"cover=16384x16385", true},
		{"fit=30000x30000", false},
		{"shrink=30000x30000", false},
		{"resize=16384x16384,rotate=90", false},
		{"shorter=16384", false},
		{"crop=10x10+0+0,fit=5", false},
		{"grey,blur=2", false},
	} {
		p, err := mustParse(t, c.text).Plan()
		if err != nil {
			t.Fatal(err)
		}
		err = p.CheckSizes()
		if (err != nil) != c.bad || (err != nil && (!errors.Is(err, ErrChain) || !errors.Is(err, raster.ErrImage))) {
			t.Errorf("%s: CheckSizes() = %v, want an error: %v", c.text, err, c.bad)
		}
		some := false
		for _, in := range inputs {
			if _, err := p.Shape(in[0], in[1], 3); err == nil {
				some = true
			}
		}
		if some == c.bad {
			t.Errorf("%s: some input goes through: %v, but CheckSizes says %v", c.text, some, err)
		}
	}
}

func mustParse(t *testing.T, text string) Chain {
	t.Helper()
	c, err := ParseChain(text)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
