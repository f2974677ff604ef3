package kernels

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

func TestParseChain(t *testing.T) {
	for _, c := range []struct {
		text        string
		tensor      bool
		srcW, srcH  int
		outW, outH  int
		outChannels int
		minW, minH  int // what a decoder may shrink the source to
	}{
		{"resize=64x32", false, 100, 100, 64, 32, 3, 100, 64},
		{"stretch=64x32", false, 100, 100, 64, 32, 3, 100, 64},
		{"fit=50", false, 200, 100, 50, 25, 3, 100, 50},
		{"shrink=500", false, 200, 100, 200, 100, 3, 200, 100},
		{"fill=40x30", false, 100, 100, 40, 30, 3, 80, 80},
		{"cover=40x30", false, 100, 100, 40, 40, 3, 80, 80},
		{"shorter=20,centercrop=16x16", false, 90, 60, 16, 16, 3, 60, 40},
		{"rotate=90,fit=40x20", false, 100, 50, 10, 20, 3, 40, 20},
		{"orient=6,fit=40x20", false, 100, 50, 10, 20, 3, 40, 20},
		{"orient=transverse,orient=identity", false, 100, 50, 50, 100, 3, 100, 50},
		{"crop=10x10+0+0,fit=5", false, 100, 50, 5, 5, 3, 100, 50},
		{"grey,blur=1,gamma=2.2,brightness=0.1,contrast=1.1", false, 9, 7, 9, 7, 1, 9, 7},
		{"levels=0.1:1.2:0.9,curve=" + strings.Repeat("ff", 256), false, 9, 7, 9, 7, 3, 9, 7},
		{"filter=linear,fit=10,sharpen=1:0.5:2,flipv,transpose", false, 30, 20, 7, 10, 3, 20, 14},
		{" Fit = 10 , , GRAY ", false, 30, 20, 10, 7, 1, 20, 14},
		{"shorter=256,centercrop=224x224,normalize=imagenet", true, 500, 400, 224, 224, 3, 500, 400},
		{"shorter=256,centrecrop=224x224,normalise=imagenet+mirror", true, 2000, 1000, 224, 224, 3, 1024, 512},
		{"normalize=0.5:0.5:0.5/0.25:0.25:0.25", true, 8, 8, 8, 8, 3, 8, 8},
		{"normalize=0.5/0.25/1+mirror", true, 8, 8, 8, 8, 1, 8, 8},
		{"copy", false, 8, 6, 8, 6, 3, 8, 6},
		{"", false, 8, 6, 8, 6, 3, 8, 6},
	} {
		chain, err := ParseChain(c.text)
		if err != nil {
			t.Errorf("%q: %v", c.text, err)
			continue
		}
		plan := mustPlan(t, chain)
		if plan.Tensor() != c.tensor {
			t.Errorf("%q: tensor %v, want %v", c.text, plan.Tensor(), c.tensor)
		}
		s, err := plan.Shape(c.srcW, c.srcH, 3)
		if err != nil || s.Width != c.outW || s.Height != c.outH || s.Channels != c.outChannels {
			t.Errorf("%q on %dx%d: %+v %v, want %dx%d with %d channels", c.text, c.srcW, c.srcH, s, err, c.outW, c.outH, c.outChannels)
		}
		if w, h := plan.MinDecodeSize(c.srcW, c.srcH); w != c.minW || h != c.minH {
			t.Errorf("%q on %dx%d: decode at %dx%d or more, want %dx%d", c.text, c.srcW, c.srcH, w, h, c.minW, c.minH)
		}
	}
	for _, bad := range []string{"explode", "resize=10", "stretch=10", "fill=10", "resize=0x5", "fit=ax3",
		"rotate=45", "blur=x", "orient=9", "orient=sideways", "normalize=imagenet,grey", "normalize=1:2/3",
		"normalize=1/2/3:4", "crop=5x5", "crop=5x5+1+1junk", "filter=nearest", "sharpen=1:2:3:4",
		"sharpen=1:2:0.5", "shorter=10x20", "levels=1:2", "gamma=0", "curve=00", "blur=-1", "fit=10,stretch"} {
		if _, err := ParseChain(bad); !errors.Is(err, ErrChain) {
			t.Errorf("ParseChain(%q): %v, want ErrChain", bad, err)
		}
	}
}

// The parser's words and the chain's methods are the same operations.
func TestParseChainWords(t *testing.T) {
	lz, box := raster.Lanczos3, raster.Box
	for text, want := range map[string]Chain{
		"stretch=30x20":                NewChain().Resize(30, 20, lz),
		"resize=30x20":                 NewChain().Resize(30, 20, lz),
		"fill=30x20":                   NewChain().ResizeFill(30, 20, lz),
		"cover=30x20":                  NewChain().ResizeCover(30, 20, lz),
		"filter=box,fit=7":             NewChain().ResizeFit(7, 7, box),
		"filter=area,shrink=7x5,fliph": NewChain().ResizeShrink(7, 5, box).FlipH(),
		"crop=4x5+2+3,centercrop=3x2":  NewChain().Crop(2, 3, 4, 5).CenterCrop(3, 2),
		"rotate=270,orient=flip-v":     NewChain().Orient(raster.Rotate270).FlipV(),
		"brightness=0.5":               NewChain().Levels(0.5, 1, 1),
		"sharpen=2":                    NewChain().Sharpen(2, 1, 0),
		"normalize=imagenet+mirror":    NewChain().Normalize(Norm{Mean: ImageNet.Mean, Std: ImageNet.Std, Mirror: true}),
	} {
		got, err := ParseChain(text)
		if err != nil {
			t.Errorf("%q: %v", text, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %v, want %v", text, got, want)
		}
	}
}

// randAnyChain returns a random valid-looking chain that uses every operation and every form
// of argument that String writes.
func randAnyChain(r *rand.Rand) Chain {
	c := NewChain()
	f := func() raster.Filter { return raster.Filter(1 + r.IntN(4)) }
	fl := func() float64 {
		if r.IntN(2) == 0 {
			return float64(r.IntN(5))
		}
		return r.Float64() * 3
	}
	for range r.IntN(7) {
		switch r.IntN(16) {
		case 0:
			c = c.Resize(randSide(r, 40), randSide(r, 40), f())
		case 1:
			c = c.ResizeFit(randSide(r, 40), randSide(r, 40), f())
		case 2:
			c = c.ResizeShorter(randSide(r, 30), f())
		case 3:
			c = c.ResizeShrink(randSide(r, 30), randSide(r, 30), f())
		case 4:
			c = c.ResizeCover(randSide(r, 30), randSide(r, 30), f())
		case 5:
			c = c.ResizeFill(randSide(r, 30), randSide(r, 30), f())
		case 6:
			c = c.Crop(r.IntN(3), r.IntN(3), randSide(r, 30), randSide(r, 30))
		case 7:
			c = c.CenterCrop(randSide(r, 30), randSide(r, 30))
		case 8:
			c = c.Orient(raster.Orientation(1 + r.IntN(8)))
		case 9:
			c = c.Grey()
		case 10:
			var cv Curve
			for i := range cv {
				cv[i] = byte(r.IntN(256))
			}
			c = c.Curve(cv)
		case 11:
			v := [3]float64{0, 1, 1}
			for i := range v {
				if r.IntN(2) == 0 {
					v[i] = 0.1 + fl()
				}
			}
			c = c.Levels(v[0], v[1], v[2])
		case 12:
			c = c.Blur(0.3 + fl())
		case 13:
			c = c.Sharpen(0.3+fl(), fl(), r.IntN(4))
		case 14:
			c = c.FlipH()
		case 15:
			c = c.FlipV()
		}
	}
	if r.IntN(2) == 0 {
		n := ImageNet
		if r.IntN(2) == 0 {
			planes := 1 + r.IntN(3)
			n = Norm{Mean: make([]float32, planes), Std: make([]float32, planes)}
			for i := range planes {
				n.Mean[i], n.Std[i] = r.Float32(), 0.01+r.Float32()
			}
			if r.IntN(2) == 0 {
				n.Scale = r.Float32()
			}
		}
		n.Mirror = r.IntN(2) == 0
		c = c.Normalize(n)
	}
	return c
}

func TestChainStringRoundTrips(t *testing.T) {
	r := newRand(t)
	for range 3000 {
		c := randAnyChain(r)
		if _, err := c.Plan(); err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		text := c.String()
		back, err := ParseChain(text)
		if err != nil {
			t.Fatalf("ParseChain(%q): %v", text, err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("ParseChain(%q) is another chain: %q\n%+v\n%+v", text, back.String(), back.ops, c.ops)
		}
	}
}

func TestChainString(t *testing.T) {
	for _, c := range []struct {
		chain Chain
		want  string
	}{
		{NewChain(), "copy"},
		{NewChain().Resize(30, 20, raster.Lanczos3), "stretch=30x20"},
		{NewChain().ResizeFill(30, 20, raster.Linear).ResizeFit(5, 5, raster.Linear).ResizeShrink(4, 4, raster.Lanczos3),
			"filter=linear,fill=30x20,fit=5x5,filter=lanczos3,shrink=4x4"},
		{NewChain().ResizeCover(30, 20, raster.Lanczos3).CenterCrop(20, 30), "cover=30x20,centercrop=20x30"},
		{NewChain().Orient(raster.Identity).Orient(raster.Rotate90).Transpose(), "orient=identity,rotate=90,transpose"},
		{NewChain().Levels(0, 1.5, 1).Levels(0.25, 1, 2), "contrast=1.5,levels=0.25:1:2"},
		{NewChain().Sharpen(1.5, 0.5, 2).Normalize(ImageNet), "sharpen=1.5:0.5:2,normalize=imagenet"},
		{NewChain().Normalize(Norm{Mean: []float32{0.5}, Std: []float32{0.1}, Scale: 1, Mirror: true}),
			"normalize=0.5/0.1/1+mirror"},
	} {
		if got := c.chain.String(); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
}

// Transpose is Orient(raster.Transpose), for the table above.
func (c Chain) Transpose() Chain { return c.Orient(raster.Transpose) }
