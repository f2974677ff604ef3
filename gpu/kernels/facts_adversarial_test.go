package kernels

import (
	"errors"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// randomChain makes a chain of up to five operations with small, sometimes odd, sizes.
func randomChain(rng *rand.Rand) (Chain, string) {
	c := NewChain()
	side := func() int { return 1 + rng.Intn(40) }
	for range rng.Intn(6) {
		w, h := side(), side()
		f := raster.Filter(rng.Intn(4))
		switch rng.Intn(13) {
		case 0:
			c = c.Resize(w, h, f)
		case 1:
			c = c.ResizeFit(w, h, f)
		case 2:
			c = c.ResizeShrink(w, h, f)
		case 3:
			c = c.ResizeShorter(w, f)
		case 4:
			c = c.ResizeCover(w, h, f)
		case 5:
			c = c.ResizeFill(w, h, f)
		case 6:
			c = c.Crop(rng.Intn(10), rng.Intn(10), w, h)
		case 7:
			c = c.CenterCrop(w, h)
		case 8:
			c = c.Orient(raster.Orientation(1 + rng.Intn(8)))
		case 9:
			c = c.Grey()
		case 10:
			c = c.Levels(0.1, 1.2, 1)
		case 11:
			c = c.Blur(0.5 + rng.Float64())
		case 12:
			c = c.Sharpen(0.5+rng.Float64(), 1, 0)
		}
	}
	if rng.Intn(4) == 0 {
		c = c.Normalize(ImageNet)
	}
	return c, c.String()
}

// FixedShape and MinDecodeSize agree with the shapes the plan gives, on random chains and
// sizes: a fixed shape is every output's shape, and an image decoded at MinDecodeSize comes
// out the shape it would at full size (up to a pixel of rounding for aspect-keeping
// resizes, as MinDecodeSize documents).
func TestFactsAgreeWithShapes(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for range 3000 {
		c, desc := randomChain(rng)
		p, err := c.Plan()
		if err != nil {
			continue
		}
		for _, ch := range []int{1, 3, 4} {
			fixed, isFixed := p.FixedShape(ch)
			for range 20 {
				w, h := 1+rng.Intn(120), 1+rng.Intn(120)
				s, err := p.Shape(w, h, ch)
				if err != nil {
					continue
				}
				if isFixed && s != fixed {
					t.Fatalf("%s: FixedShape(%d) = %+v, but a %d×%d image gives %+v", desc, ch, fixed, w, h, s)
				}
				mw, mh := p.MinDecodeSize(w, h)
				if mw > w || mh > h || mw < 1 || mh < 1 {
					t.Fatalf("%s: MinDecodeSize(%d, %d) = %d×%d", desc, w, h, mw, mh)
				}
				small, err := p.Shape(mw, mh, ch)
				if err != nil {
					t.Fatalf("%s: %d×%d works, but at MinDecodeSize %d×%d: %v", desc, w, h, mw, mh, err)
				}
				if small.Channels != s.Channels || small.Tensor != s.Tensor || abs(small.Width-s.Width) > 1 || abs(small.Height-s.Height) > 1 {
					t.Fatalf("%s: %d×%d gives %+v, but at MinDecodeSize %d×%d %+v", desc, w, h, s, mw, mh, small)
				}
			}
		}
	}
}

func abs(x int) int { return max(x, -x) }

// ParseChain refuses hostile text with an error wrapping ErrChain: it never panics, and
// never accepts a chain whose plan would allocate gigabytes for a small image.
func TestParseChainHostile(t *testing.T) {
	// Long chains: parsing is linear, and past MaxOps refused.
	start := time.Now()
	if _, err := ParseChain(strings.Repeat("fliph,", MaxOps) + "grey"); !errors.Is(err, ErrChain) {
		t.Errorf("a chain of MaxOps+1 operations: %v, want ErrChain", err)
	}
	if _, err := ParseChain(strings.Repeat("fliph,", 1<<20)); !errors.Is(err, ErrChain) {
		t.Errorf("a chain of 2^20 operations: %v, want ErrChain", err)
	}
	if _, err := ParseChain(strings.Repeat("fliph,fliph,grey,", MaxOps/3)); err != nil {
		t.Errorf("a chain of %d operations: %v", MaxOps/3*3, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("long chains took %v to parse", d)
	}
	for _, text := range []string{
		"fit=99999999999999999999", "fit=-5", "fit=0x0", "fit=1x-1", "stretch=2147483647x2147483647",
		"stretch=1048576x1048576", "crop=-1x-1+0+0", "crop=10x10+-5+-5", "crop=10x10+99999999999999999999+0",
		"blur=NaN", "blur=Inf", "blur=-Inf", "blur=-1", "blur=1e308", "sharpen=NaN", "sharpen=1:NaN",
		"sharpen=1:1:-1", "sharpen=1:1:99999999999", "gamma=0", "gamma=NaN", "contrast=Inf", "brightness=NaN",
		"levels=NaN:1:1", "normalize=NaN:1:1/1:1:1", "normalize=0:0:0/0:0:0", "normalize=1:1:1/Inf:1:1",
		"normalize=imagenet,grey", "orient=0", "orient=9", "rotate=45", "fit=１２", "ｆｉｔ=12",
		"curve=" + strings.Repeat("zz", 256), "shorter=3x4", "fit=12\x00", "centercrop=0x5",
		"filter=nearest", "fit=12,,,,", "=", "==", "fit==12", strings.Repeat("a", 1<<20),
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("ParseChain(%.40q) panicked: %v", text, r)
				}
			}()
			c, err := ParseChain(text)
			if err != nil {
				return
			}
			p, err := c.Plan()
			if err != nil {
				t.Errorf("ParseChain(%.40q) accepted a chain Plan refuses: %v", text, err)
				return
			}
			// Accepted: a small image must plan without panicking or growing past the limits.
			for _, ch := range []int{1, 3, 4} {
				_, _ = p.Shape(7, 5, ch)
				_, _ = p.FixedShape(ch)
				_, _ = p.MinDecodeSize(7, 5)
			}
			_ = c.String()
		}()
	}
}
