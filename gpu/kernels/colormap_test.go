package kernels

import (
	"math"
	"slices"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// srgbCurves is the sRGB tone curve for the three channels.
func srgbCurves() *[3][256]float64 {
	var c [3][256]float64
	for ch := range c {
		for b := range c[ch] {
			c[ch][b] = SRGBDecode(float64(b) / 255)
		}
	}
	return &c
}

var identity3 = [3][3]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}

// TestColorMapSRGBIsIdentity checks the encoding table's resolution: sRGB through the sRGB
// curve and the identity matrix comes back byte for byte, in all three channel counts.
func TestColorMapSRGBIsIdentity(t *testing.T) {
	cm, err := NewColorMap(srgbCurves(), identity3)
	if err != nil {
		t.Fatal(err)
	}
	r := newRand(t)
	for _, c := range channelCounts {
		src := randImage(r, 256, 7, c)
		for x := range 256 { // every byte value in the first row
			for ch := range c {
				src.Pix[x*c+ch] = byte(x)
			}
		}
		dst := mustImage(t, src.Width, src.Height, c)
		if err := ApplyColorMap(dst, src, cm); err != nil {
			t.Fatal(err)
		}
		for y := range src.Height {
			if !slices.Equal(src.Pix[y*src.Stride:][:src.Width*c], dst.Pix[y*dst.Stride:][:dst.Width*c]) {
				t.Fatalf("%d channels: row %d changed", c, y)
			}
		}
	}
}

// TestColorMapMatchesFloat64 compares the kernel with the conversion computed in float64 with
// the exact sRGB curve: within one level everywhere, for a wide-gamut-like map.
func TestColorMapMatchesFloat64(t *testing.T) {
	var curves [3][256]float64
	for ch := range curves {
		for b := range curves[ch] {
			curves[ch][b] = math.Pow(float64(b)/255, 2.2)
		}
	}
	m := [3][3]float64{{1.2249, -0.2247, 0}, {-0.0420, 1.0419, 0}, {-0.0197, -0.0786, 1.0979}}
	cm, err := NewColorMap(&curves, m)
	if err != nil {
		t.Fatal(err)
	}
	r := newRand(t)
	src := randImage(r, 300, 200, 4)
	for i := range src.Pix {
		src.Pix[i] = byte(r.IntN(256)) // noise: randImage may be flat
	}
	dst := mustImage(t, src.Width, src.Height, 4)
	if err := ApplyColorMap(dst, src, cm); err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for y := range src.Height {
		for x := range src.Width {
			s := src.Pix[y*src.Stride+4*x:][:4]
			d := dst.Pix[y*dst.Stride+4*x:][:4]
			for i := range 3 {
				v := m[i][0]*curves[0][s[0]] + m[i][1]*curves[1][s[1]] + m[i][2]*curves[2][s[2]]
				want := 255 * SRGBEncode(min(max(v, 0), 1))
				worst = max(worst, math.Abs(float64(d[i])-want))
			}
			if d[3] != s[3] {
				t.Fatalf("alpha %d became %d", s[3], d[3])
			}
		}
	}
	if worst > 0.62 {
		t.Errorf("worst difference from float64: %.3f levels", worst)
	}
	t.Logf("worst difference from float64: %.3f levels", worst)
}

func TestNewColorMapRefusesNonFinite(t *testing.T) {
	c := srgbCurves()
	c[1][7] = math.NaN()
	if _, err := NewColorMap(c, identity3); err == nil {
		t.Error("NaN curve accepted")
	}
	m := identity3
	m[2][1] = math.Inf(1)
	if _, err := NewColorMap(srgbCurves(), m); err == nil {
		t.Error("infinite matrix accepted")
	}
}

// TestToSRGBPlacement checks where the planner puts the conversion: in a thumbnail's resize,
// after it when it must stay apart (tensors), alone when there is no resize.
func TestToSRGBPlacement(t *testing.T) {
	lz := raster.Lanczos3
	for _, c := range []struct {
		chain Chain
		want  []string
	}{
		{NewChain().ToSRGB(), []string{"color"}},
		{NewChain().ToSRGB().ResizeFit(64, 64, lz), []string{"resample_h", "resample_v_color"}},
		{NewChain().ToSRGB().ToSRGB().ResizeShrink(64, 64, lz).CenterCrop(10, 10).FlipH(), []string{"resample_h", "resample_v_color"}},
		{NewChain().ToSRGB().Orient(raster.Rotate90).ResizeFill(64, 48, lz), []string{"resample_h", "resample_v_color", "orient", "orient"}}, // as without ToSRGB: the crop after the turn is a copy,
		{NewChain().ToSRGB().ResizeShorter(32, lz).CenterCrop(24, 24).Normalize(ImageNet), []string{"resample_h", "resample_v_color", "normalize"}},
		{NewChain().ToSRGB().Grey().ResizeFit(8, 8, lz), []string{"color", "grey", "resample_h", "resample_v"}},
	} {
		p := mustPlan(t, c.chain)
		if got := p.Launches(); !slices.Equal(got, c.want) {
			t.Errorf("%v: launches %v, want %v", c.chain, got, c.want)
		}
		back, err := ParseChain(c.chain.String())
		if err != nil || back.String() != c.chain.String() {
			t.Errorf("%v: printed and parsed back as %v (%v)", c.chain, back, err)
		}
	}
}

// TestToSRGBWithoutMapsIsTheChainWithout checks that images without a colour map come out of
// a chain with ToSRGB exactly as from the chain without it.
func TestToSRGBWithoutMapsIsTheChainWithout(t *testing.T) {
	r := newRand(t)
	batch := randBatch(r)
	with := mustPlan(t, NewChain().ToSRGB().ResizeFit(17, 13, raster.CatmullRom))
	without := mustPlan(t, NewChain().ResizeFit(17, 13, raster.CatmullRom))
	a, err := with.RunColors(batch, make([]*ColorMap, len(batch)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := without.Run(batch)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Images {
		if !slices.Equal(a.Images[i].Pix, b.Images[i].Pix) {
			t.Fatalf("image %d differs", i)
		}
	}
}
