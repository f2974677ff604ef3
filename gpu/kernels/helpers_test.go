package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// newRand returns a generator seeded per test, and logs the seed so that a failure can be
// reproduced with KERNELS_SEED=seed.
func newRand(t testing.TB) *rand.Rand {
	seed := rand.Uint64()
	if s, err := strconv.ParseUint(os.Getenv("KERNELS_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}

// randSide returns a side length: small ones (1, 2, odd) often, up to max.
func randSide(r *rand.Rand, max int) int {
	switch r.IntN(4) {
	case 0:
		return 1 + r.IntN(3)
	case 1:
		return 1 + r.IntN(min(max, 17))
	}
	return 1 + r.IntN(max)
}

var channelCounts = []int{1, 3, 4}

// randImage returns a w×h image with c channels, padded rows and content of a random kind:
// noise, smooth gradients, hard-edged blocks; four-channel images get transparent and opaque
// regions.
func randImage(r *rand.Rand, w, h, c int) raster.Image {
	stride := w*c + r.IntN(3)*r.IntN(9)
	m := raster.Image{Pix: make([]byte, stride*(h-1)+w*c+r.IntN(5)), Width: w, Height: h, Stride: stride, Channels: c}
	for i := range m.Pix {
		m.Pix[i] = byte(r.IntN(256)) // padding gets garbage too
	}
	kind := r.IntN(3)
	fx, fy := r.Float64()*0.5, r.Float64()*0.5
	for y := range h {
		for x := range w {
			p := m.Pix[y*stride+x*c:][:c]
			for ch := range p {
				switch kind {
				case 1:
					p[ch] = byte((float64(x)*fx + float64(y)*fy + float64(ch*40)) * 7)
				case 2:
					p[ch] = byte(((x/3 + y/5 + ch) % 2) * 255)
				}
			}
			if c == 4 && r.IntN(3) == 0 {
				p[3] = []byte{0, 255, byte(r.IntN(256))}[r.IntN(3)]
			}
		}
	}
	return m
}

// px returns channel ch of pixel (x, y) of m.
func px(m raster.Image, x, y, ch int) byte { return m.Pix[y*m.Stride+x*m.Channels+ch] }

// sameImages reports the first pixel where a and b differ.
func sameImages(a, b raster.Image) error {
	if a.Width != b.Width || a.Height != b.Height || a.Channels != b.Channels {
		return fmt.Errorf("%d×%d×%d vs %d×%d×%d", a.Width, a.Height, a.Channels, b.Width, b.Height, b.Channels)
	}
	for y := range a.Height {
		for x := range a.Width {
			for ch := range a.Channels {
				if u, v := px(a, x, y, ch), px(b, x, y, ch); u != v {
					return fmt.Errorf("pixel (%d,%d) channel %d: %d vs %d", x, y, ch, u, v)
				}
			}
		}
	}
	return nil
}

// mustImage allocates an image or fails the test.
func mustImage(t testing.TB, w, h, c int) raster.Image {
	t.Helper()
	m, err := raster.NewImage(w, h, c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// randChain returns a random chain that uses every kind of operation now and then.
func randChain(r *rand.Rand) Chain {
	c := NewChain()
	f := func() raster.Filter { return allFilters[r.IntN(len(allFilters))] }
	for range r.IntN(5) {
		switch r.IntN(12) {
		case 0:
			c = c.Resize(randSide(r, 40), randSide(r, 40), f())
		case 1:
			c = c.ResizeFit(randSide(r, 40), randSide(r, 40), f())
		case 2:
			c = c.ResizeShorter(randSide(r, 30), f())
		case 3:
			c = c.ResizeShrink(randSide(r, 30), randSide(r, 30), f())
		case 4:
			c = c.Crop(r.IntN(2), r.IntN(2), randSide(r, 30), randSide(r, 30))
		case 5:
			c = c.CenterCrop(randSide(r, 30), randSide(r, 30))
		case 6:
			c = c.Orient(raster.Orientation(1 + r.IntN(8)))
		case 7:
			c = c.Grey()
		case 8:
			cv, _ := Levels(r.Float64()-0.5, r.Float64()*2, 0.3+r.Float64()*2)
			c = c.Curve(cv)
		case 9:
			c = c.Blur(0.3 + r.Float64()*3)
		case 10:
			c = c.Sharpen(0.3+r.Float64()*2, r.Float64()*2, r.IntN(4))
		case 11:
			c = c.ToSRGB()
		}
	}
	if r.IntN(2) == 0 {
		n := Norm{Mean: []float32{0.5}, Std: []float32{0.25}, Mirror: r.IntN(2) == 0}
		if r.IntN(2) == 0 {
			n = ImageNet
		}
		c = c.Normalize(n)
	}
	return c
}

// randColorMap returns a colour map with random tone curves (rising or not) and a random
// matrix, which sends some pixels outside 0..1 and some into NaN-free extremes.
func randColorMap(r *rand.Rand) *ColorMap {
	var curves [3][256]float64
	var m [3][3]float64
	for ch := range 3 {
		g := 0.5 + 2*r.Float64()
		for b := range 256 {
			curves[ch][b] = math.Pow(float64(b)/255, g) * (0.9 + 0.3*r.Float64())
		}
		for k := range 3 {
			m[ch][k] = r.Float64()*1.6 - 0.3
		}
	}
	cm, err := NewColorMap(&curves, m)
	if err != nil {
		panic(err)
	}
	return cm
}

// randColors returns colour maps for n images: sometimes none at all, otherwise a mix of
// nil, shared and distinct maps.
func randColors(r *rand.Rand, n int) []*ColorMap {
	if r.IntN(4) == 0 {
		return nil
	}
	shared := randColorMap(r)
	cs := make([]*ColorMap, n)
	for i := range cs {
		switch r.IntN(3) {
		case 0:
			cs[i] = shared
		case 1:
			cs[i] = randColorMap(r)
		}
	}
	return cs
}

// randBatch returns 1 to 4 random images.
func randBatch(r *rand.Rand) []raster.Image {
	b := make([]raster.Image, 1+r.IntN(4))
	for i := range b {
		b[i] = randImage(r, randSide(r, 40), randSide(r, 40), channelCounts[r.IntN(3)])
	}
	return b
}
