package kernels

import (
	"errors"
	"math"
	"testing"
)

func TestOrientMatchesCoordinateMapping(t *testing.T) {
	r := newRand(t)
	for range 200 {
		src := randImage(r, randSide(r, 30), randSide(r, 30), channelCounts[r.IntN(3)])
		o := Orientation(1 + r.IntN(8))
		got, err := Oriented(src, o)
		if err != nil {
			t.Fatal(err)
		}
		// Written from the EXIF definitions, independently of Orientation.source.
		for y := range got.Height {
			for x := range got.Width {
				w, h := src.Width, src.Height
				sx, sy := map[Orientation][2]int{
					Identity: {x, y}, FlipH: {w - 1 - x, y}, Rotate180: {w - 1 - x, h - 1 - y}, FlipV: {x, h - 1 - y},
					Transpose: {y, x}, Rotate90: {y, h - 1 - x}, Transverse: {w - 1 - y, h - 1 - x}, Rotate270: {w - 1 - y, x},
				}[o][0], 0
				sy = map[Orientation]int{
					Identity: y, FlipH: y, Rotate180: h - 1 - y, FlipV: h - 1 - y,
					Transpose: x, Rotate90: h - 1 - x, Transverse: h - 1 - x, Rotate270: x,
				}[o]
				for ch := range src.Channels {
					if got.at(x, y, ch) != src.at(sx, sy, ch) {
						t.Fatalf("%v of %d×%d: pixel (%d,%d) is not source (%d,%d)", o, w, h, x, y, sx, sy)
					}
				}
			}
		}
	}
}

func TestOrientationThenComposes(t *testing.T) {
	r := newRand(t)
	src := randImage(r, 5, 3, 3)
	for a := Identity; a <= Rotate270; a++ {
		for b := Identity; b <= Rotate270; b++ {
			ab, _ := Oriented(src, a)
			ab, _ = Oriented(ab, b)
			direct, _ := Oriented(src, a.Then(b))
			if err := sameImages(ab, direct); err != nil {
				t.Errorf("%v then %v is not %v: %v", a, b, a.Then(b), err)
			}
		}
	}
}

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
				want := src.at(x, y, 0)
				if c > 1 {
					l := 0.299*float64(src.at(x, y, 0)) + 0.587*float64(src.at(x, y, 1)) + 0.114*float64(src.at(x, y, 2))
					if d := float64(dst.at(x, y, 0)) - l; math.Abs(d) > 0.51 {
						t.Fatalf("grey of %v = %d, luma %.3f", src.Pix[y*src.Stride+x*c:][:3], dst.at(x, y, 0), l)
					}
					continue
				}
				if dst.at(x, y, 0) != want {
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
					want := cv[src.at(x, y, ch)]
					if ch == 3 {
						want = src.at(x, y, ch)
					}
					if dst.at(x, y, ch) != want {
						t.Fatalf("%d channels: (%d,%d,%d) = %d, want %d", c, x, y, ch, dst.at(x, y, ch), want)
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
		dst := NewTensor(len(n.Mean), src.Height, src.Width)
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
					want := (float64(src.at(sx, y, p))/255 - float64(n.Mean[p])) / float64(n.Std[p])
					if got := float64(dst.At(p, y, x)); math.Abs(got-want) > 1e-5 {
						t.Fatalf("plane %d (%d,%d) = %v, want %v", p, x, y, got, want)
					}
				}
			}
		}
	}
	if err := Normalize(NewTensor(4, 2, 2), randImage(r, 2, 2, 3), Norm{Mean: make([]float32, 4), Std: []float32{1, 1, 1, 1}}); err == nil {
		t.Error("four planes from three channels: no error")
	}
	if err := Normalize(NewTensor(1, 2, 2), randImage(r, 2, 2, 1), Norm{Mean: []float32{0}, Std: []float32{0}}); err == nil {
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
					s, b := float64(src.at(x, y, ch)), float64(blurred.at(x, y, ch))
					want := s
					if ch < 3 && math.Abs(s-b) >= float64(threshold) {
						want = float64(refRound(s + amount*(s-b)))
					}
					// One level: the kernel computes s + amount·(s−b) in float32.
					if d := math.Abs(float64(dst.at(x, y, ch)) - want); d > 1 {
						t.Fatalf("(%d,%d,%d): %d, want %v (s %v, b %v)", x, y, ch, dst.at(x, y, ch), want, s, b)
					}
				}
			}
		}
	}
}

func TestBadArgumentsAreErrors(t *testing.T) {
	good := mustImage(t, 4, 3, 3)
	bad := []Image{
		{},
		{Pix: make([]byte, 11), Width: 2, Height: 2, Stride: 6, Channels: 3},
		{Pix: make([]byte, 100), Width: 2, Height: 2, Stride: 4, Channels: 3},
		{Pix: make([]byte, 100), Width: 2, Height: 2, Stride: 4, Channels: 2},
		{Pix: make([]byte, 100), Width: 0, Height: 2, Stride: 4, Channels: 1},
		{Pix: make([]byte, 100), Width: 2, Height: -1, Stride: 4, Channels: 1},
		{Pix: make([]byte, 100), Width: MaxSide + 1, Height: 1, Stride: MaxSide + 1, Channels: 1},
	}
	for i, b := range bad {
		calls := map[string]error{
			"Resize":     Resize(good, b, Linear),
			"Resize dst": Resize(b, good, Linear),
			"Blur":       Blur(good, b, 1),
			"Sharpen":    Sharpen(b, good, 1, 1, 0),
			"Orient":     Orient(good, b, Rotate90),
			"Grey":       Grey(good, b),
			"ApplyCurve": ApplyCurve(good, b, IdentityCurve()),
			"Normalize":  Normalize(NewTensor(3, 3, 4), b, ImageNet),
		}
		for name, err := range calls {
			if !errors.Is(err, ErrImage) {
				t.Errorf("%s with bad image %d: %v, want ErrImage", name, i, err)
			}
		}
	}
	other := mustImage(t, 4, 3, 1)
	for name, err := range map[string]error{
		"Resize filter":    Resize(good, good, Filter(99)),
		"Resize channels":  Resize(other, good, Linear),
		"Blur sigma":       Blur(good, good, 0),
		"Blur NaN":         Blur(good, good, math.NaN()),
		"Sharpen amount":   Sharpen(good, good, 1, math.Inf(1), 0),
		"Sharpen treshold": Sharpen(good, good, 1, 1, 300),
		"Orient size":      Orient(good, good, Rotate90),
		"Orient value":     Orient(good, good, 9),
		"Grey channels":    Grey(good, good),
		"Normalize shape":  Normalize(NewTensor(3, 4, 3), good, ImageNet),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSubAndCenterCrop(t *testing.T) {
	r := newRand(t)
	m := randImage(r, 9, 7, 3)
	v, err := m.CenterCrop(4, 4)
	if err != nil {
		t.Fatal(err)
	}
	if v.Width != 4 || v.Height != 4 || v.at(0, 0, 0) != m.at(2, 1, 0) || v.at(3, 3, 2) != m.at(5, 4, 2) {
		t.Errorf("centre 4×4 of 9×7 is not at (2,1)")
	}
	if big, _ := m.CenterCrop(20, 3); big.Width != 9 || big.at(0, 0, 1) != m.at(0, 2, 1) {
		t.Errorf("centre crop wider than the image is not clipped")
	}
	for _, rc := range [][4]int{{-1, 0, 2, 2}, {8, 0, 2, 1}, {0, 0, 0, 1}, {0, 6, 1, 2}} {
		if _, err := m.Sub(rc[0], rc[1], rc[2], rc[3]); err == nil {
			t.Errorf("Sub%v of 9×7: no error", rc)
		}
	}
}
