package resizeref

import (
	"math"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/internal/samples"
)

// The float64 reference and the kernels are written independently; each must be
// within one level of the other, or one of them is wrong.
func TestReferenceAgreesWithKernels(t *testing.T) {
	src, err := samples.Image(1, 0, 301, 203)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f   raster.Filter
		ref Filter
	}{{raster.Box, Box}, {raster.Linear, Triangle}, {raster.CatmullRom, CatmullRom}, {raster.Lanczos3, Lanczos3}} {
		for _, size := range [][2]int{{64, 43}, {300, 200}, {640, 9}} {
			dst, _ := raster.NewImage(size[0], size[1], 3)
			if err := kernels.Resize(dst, src, c.f); err != nil {
				t.Fatal(err)
			}
			ref := Reference(src, size[0], size[1], c.ref)
			for i, v := range ref {
				want := math.Floor(math.Max(0, math.Min(255, v)) + 0.5)
				if d := math.Abs(float64(dst.Pix[i]) - want); d > 1 {
					t.Fatalf("%v to %v: value %d is %d, reference %.3f", c.f, size, i, dst.Pix[i], v)
				}
			}
			if p := PSNR(dst.Pix, ref); p < 55 {
				t.Errorf("%v to %v: PSNR %.1f dB against its own reference, want rounding only (≈59)", c.f, size, p)
			}
		}
	}
}
