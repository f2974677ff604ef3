// Package resizeref is the float64 reference of image resizing for the benchmarks: each
// filter's textbook definition, antialiased (stretched by the downscale factor), separable,
// with no rounding, written independently of package gpu/kernels so that each checks the
// other. Benchmarks measure a resize's error as its PSNR against it.
package resizeref

import (
	"math"
	"runtime"
	"sync"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Filter is a filter's definition at scale 1, with its half-width.
type Filter struct {
	Name    string
	support float64
	at      func(x float64) float64
}

var (
	// Box, Triangle, CatmullRom and Lanczos3 are the filters of package gpu/kernels.
	Box = Filter{"box", 0.5, func(x float64) float64 {
		if x > -0.5 && x <= 0.5 {
			return 1
		}
		return 0
	}}
	Triangle   = Filter{"triangle", 1, func(x float64) float64 { return math.Max(0, 1-math.Abs(x)) }}
	CatmullRom = Filter{"catmull-rom", 2, func(x float64) float64 {
		x = math.Abs(x)
		switch {
		case x < 1:
			return 1.5*x*x*x - 2.5*x*x + 1
		case x < 2:
			return -0.5*x*x*x + 2.5*x*x - 4*x + 2
		}
		return 0
	}}
	Lanczos3 = Filter{"lanczos3", 3, func(x float64) float64 {
		if x == 0 {
			return 1
		}
		if math.Abs(x) >= 3 {
			return 0
		}
		return 3 * math.Sin(math.Pi*x) * math.Sin(math.Pi*x/3) / (math.Pi * math.Pi * x * x)
	}}
)

// weights are the normalised weights of every input sample for each of out outputs, with
// pixel centres aligned ((o+0.5)·in/out) and the filter stretched by the downscale factor.
func weights(in, out int, f Filter) (first []int, w [][]float64) {
	scale := float64(in) / float64(out)
	stretch := math.Max(scale, 1)
	first, w = make([]int, out), make([][]float64, out)
	for o := range out {
		center := (float64(o) + 0.5) * scale
		lo := max(int(math.Floor(center-f.support*stretch)), 0)
		hi := min(int(math.Ceil(center+f.support*stretch)), in)
		sum := 0.0
		for s := lo; s < hi; s++ {
			v := f.at((float64(s) + 0.5 - center) / stretch)
			w[o] = append(w[o], v)
			sum += v
		}
		for k := range w[o] {
			w[o][k] /= sum
		}
		first[o] = lo
	}
	return first, w
}

// Reference resamples src (RGB) to dw×dh with f in float64, separably, with no rounding.
func Reference(src raster.Image, dw, dh int, f Filter) []float64 {
	fx, wx := weights(src.Width, dw, f)
	fy, wy := weights(src.Height, dh, f)
	tmp := make([]float64, dw*src.Height*3)
	parallel(src.Height, func(y int) {
		row := src.Pix[y*src.Stride:]
		for x := range dw {
			for ch := range 3 {
				acc := 0.0
				for k, w := range wx[x] {
					acc += w * float64(row[3*(fx[x]+k)+ch])
				}
				tmp[(y*dw+x)*3+ch] = acc
			}
		}
	})
	out := make([]float64, dw*dh*3)
	parallel(dh, func(y int) {
		for i := range dw * 3 {
			acc := 0.0
			for k, w := range wy[y] {
				acc += w * tmp[(fy[y]+k)*dw*3+i]
			}
			out[y*dw*3+i] = acc
		}
	})
	return out
}

func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// PSNR is the peak signal-to-noise ratio of out against the unrounded reference, in dB.
func PSNR(out []byte, ref []float64) float64 {
	se := 0.0
	for i, v := range ref {
		d := float64(out[i]) - math.Max(0, math.Min(255, v))
		se += d * d
	}
	return 10 * math.Log10(255*255/(se/float64(len(ref))))
}
