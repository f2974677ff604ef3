package kernels

import (
	"errors"
	"math"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

func TestGreyIsBT601(t *testing.T) {
	r := newRand(t)
	for _, c := range channelCounts {
		src := randImage(r, 1+r.IntN(40), 1+r.IntN(40), c)
		dst := mustImage(t, src.Width, src.Height, 1)
		if err := Grey(dst, src); err != nil {
			t.Fatal(err)
		}
		for y := range src.Height {
			for x := range src.Width {
				want := px(src, x, y, 0)
				if c > 1 {
					l := 0.299*float64(px(src, x, y, 0)) + 0.587*float64(px(src, x, y, 1)) + 0.114*float64(px(src, x, y, 2))
					if d := float64(px(dst, x, y, 0)) - l; math.Abs(d) > 0.51 {
						t.Fatalf("grey of %v = %d, luma %.3f", src.Pix[y*src.Stride+x*c:][:3], px(dst, x, y, 0), l)
					}
					continue
				}
				if px(dst, x, y, 0) != want {
					t.Fatalf("grey of a grey image changed (%d,%d)", x, y)
				}
			}
		}
	}
}

func TestLevels(t *testing.T) {
	id, err := Levels(0, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if id != IdentityCurve() {
		t.Error("Levels(0, 1, 1) is not the identity")
	}
	bright, _ := Levels(0.2, 1, 1)
	if bright[0] != 51 || bright[255] != 255 || bright[100] != 151 {
		t.Errorf("brightness 0.2: 0→%d 100→%d 255→%d", bright[0], bright[100], bright[255])
	}
	flat, _ := Levels(0, 0, 1)
	for i, v := range flat {
		if v != 128 {
			t.Fatalf("contrast 0: %d→%d, want 128", i, v)
		}
	}
	g, _ := Levels(0, 1, 2)
	if want := byte(math.Floor(math.Sqrt(64.0/255)*255 + 0.5)); g[64] != want {
		t.Errorf("gamma 2: 64→%d, want %d", g[64], want)
	}
	for _, bad := range [][3]float64{{0, 1, 0}, {0, -1, 1}, {math.NaN(), 1, 1}, {0, 1, math.Inf(1)}} {
		if _, err := Levels(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("Levels%v: no error", bad)
		}
	}
}

func TestApplyCurveKeepsAlpha(t *testing.T) {
	r := newRand(t)
	cv, _ := Levels(0.1, 1.3, 0.8)
	for _, c := range channelCounts {
		src := randImage(r, 1+r.IntN(40), 1+r.IntN(40), c)
		dst := mustImage(t, src.Width, src.Height, c)
		if err := ApplyCurve(dst, src, cv); err != nil {
			t.Fatal(err)
		}
		for y := range src.Height {
			for x := range src.Width {
				for ch := range c {
					want := cv[px(src, x, y, ch)]
					if ch == 3 {
						want = px(src, x, y, ch)
					}
					if px(dst, x, y, ch) != want {
						t.Fatalf("%d channels: (%d,%d,%d) = %d, want %d", c, x, y, ch, px(dst, x, y, ch), want)
					}
				}
			}
		}
	}
}

func TestNormalize(t *testing.T) {
	r := newRand(t)
	for _, c := range channelCounts {
		src := randImage(r, 1+r.IntN(40), 1+r.IntN(40), c)
		n := Norm{Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}, Mirror: r.IntN(2) == 0}
		if c == 1 {
			n.Mean, n.Std = n.Mean[:1], n.Std[:1]
		}
		dst := raster.NewTensor(len(n.Mean), src.Height, src.Width)
		if err := Normalize(dst, src, n); err != nil {
			t.Fatal(err)
		}
		for p := range dst.Channels {
			for y := range dst.Height {
				for x := range dst.Width {
					sx := x
					if n.Mirror {
						sx = src.Width - 1 - x
					}
					want := (float64(px(src, sx, y, p))/255 - float64(n.Mean[p])) / float64(n.Std[p])
					if got := float64(dst.At(p, y, x)); math.Abs(got-want) > 1e-5 {
						t.Fatalf("plane %d (%d,%d) = %v, want %v", p, x, y, got, want)
					}
				}
			}
		}
	}
	if err := Normalize(raster.NewTensor(4, 2, 2), randImage(r, 2, 2, 3), Norm{Mean: make([]float32, 4), Std: []float32{1, 1, 1, 1}}); err == nil {
		t.Error("four planes from three channels: no error")
	}
	if err := Normalize(raster.NewTensor(1, 2, 2), randImage(r, 2, 2, 1), Norm{Mean: []float32{0}, Std: []float32{0}}); err == nil {
		t.Error("zero deviation: no error")
	}
}

func TestSharpenMatchesDefinition(t *testing.T) {
	r := newRand(t)
	for range 60 {
		c := channelCounts[r.IntN(3)]
		src := randImage(r, randSide(r, 30), randSide(r, 30), c)
		sigma, amount, threshold := 0.5+2*r.Float64(), 2*r.Float64(), r.IntN(6)
		dst := mustImage(t, src.Width, src.Height, c)
		if err := Sharpen(dst, src, sigma, amount, threshold); err != nil {
			t.Fatal(err)
		}
		blurred := mustImage(t, src.Width, src.Height, c)
		if err := Blur(blurred, src, sigma); err != nil {
			t.Fatal(err)
		}
		for y := range src.Height {
			for x := range src.Width {
				for ch := range c {
					s, b := float64(px(src, x, y, ch)), float64(px(blurred, x, y, ch))
					want := s
					if ch < 3 && math.Abs(s-b) >= float64(threshold) {
						want = float64(refRound(s + amount*(s-b)))
					}
					// One level: the kernel computes s + amount·(s−b) in float32.
					if d := math.Abs(float64(px(dst, x, y, ch)) - want); d > 1 {
						t.Fatalf("(%d,%d,%d): %d, want %v (s %v, b %v)", x, y, ch, px(dst, x, y, ch), want, s, b)
					}
				}
			}
		}
	}
}

func TestBadArgumentsAreErrors(t *testing.T) {
	good := mustImage(t, 4, 3, 3)
	bad := []raster.Image{
		{},
		{Pix: make([]byte, 11), Width: 2, Height: 2, Stride: 6, Channels: 3},
		{Pix: make([]byte, 100), Width: 2, Height: 2, Stride: 4, Channels: 3},
		{Pix: make([]byte, 100), Width: 2, Height: 2, Stride: 4, Channels: 2},
		{Pix: make([]byte, 100), Width: 0, Height: 2, Stride: 4, Channels: 1},
		{Pix: make([]byte, 100), Width: 2, Height: -1, Stride: 4, Channels: 1},
		{Pix: make([]byte, 100), Width: raster.MaxSide + 1, Height: 1, Stride: raster.MaxSide + 1, Channels: 1},
	}
	for i, b := range bad {
		calls := map[string]error{
			"Resize":     Resize(good, b, raster.Linear),
			"Resize dst": Resize(b, good, raster.Linear),
			"Blur":       Blur(good, b, 1),
			"Sharpen":    Sharpen(b, good, 1, 1, 0),
			"Grey":       Grey(good, b),
			"ApplyCurve": ApplyCurve(good, b, IdentityCurve()),
			"Normalize":  Normalize(raster.NewTensor(3, 3, 4), b, ImageNet),
		}
		for name, err := range calls {
			if !errors.Is(err, raster.ErrImage) {
				t.Errorf("%s with bad image %d: %v, want ErrImage", name, i, err)
			}
		}
	}
	other := mustImage(t, 4, 3, 1)
	for name, err := range map[string]error{
		"Resize filter":    Resize(good, good, raster.Filter(99)),
		"Resize channels":  Resize(other, good, raster.Linear),
		"Blur sigma":       Blur(good, good, 0),
		"Blur NaN":         Blur(good, good, math.NaN()),
		"Sharpen amount":   Sharpen(good, good, 1, math.Inf(1), 0),
		"Sharpen treshold": Sharpen(good, good, 1, 1, 300),
		"Grey channels":    Grey(good, good),
		"Normalize shape":  Normalize(raster.NewTensor(3, 4, 3), good, ImageNet),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// A chain's centre crop keeps the rectangle raster.Image.CenterCrop keeps.
func TestCenterCropMatchesRaster(t *testing.T) {
	r := newRand(t)
	for range 200 {
		m := randImage(r, randSide(r, 40), randSide(r, 40), 1)
		w, h := randSide(r, 50), randSide(r, 50)
		v, err := m.CenterCrop(w, h)
		if err != nil {
			t.Fatal(err)
		}
		o := op{kind: opCenterCrop, w: w, h: h}
		rc, err := o.cropRect(m.Width, m.Height)
		if err != nil {
			t.Fatal(err)
		}
		off := rc.y*m.Stride + rc.x
		if rc.w != v.Width || rc.h != v.Height || &v.Pix[0] != &m.Pix[off] {
			t.Fatalf("centre %d×%d of %d×%d: chain %+v, raster %d×%d", w, h, m.Width, m.Height, rc, v.Width, v.Height)
		}
	}
}
