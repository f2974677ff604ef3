package kernels

import (
	"math"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// The resampling filters' functions, evaluated on the host in float64 (see package raster
// for their names).

// filterSupport is the half-width of filter f at scale 1.
func filterSupport(f raster.Filter) float64 {
	switch f {
	case raster.Box:
		return 0.5
	case raster.Linear:
		return 1
	case raster.CatmullRom:
		return 2
	}
	return 3
}

// filterAt evaluates filter f at x (in input pixels at scale 1).
func filterAt(f raster.Filter, x float64) float64 {
	switch f {
	case raster.Box:
		// Half-open, so that a pixel centre on the boundary belongs to one output only.
		if x > -0.5 && x <= 0.5 {
			return 1
		}
		return 0
	case raster.Linear:
		return max(0, 1-math.Abs(x))
	case raster.CatmullRom:
		return cubic(math.Abs(x), -0.5)
	}
	return lanczos(x, 3)
}

// cubic is Keys' cubic convolution kernel with parameter a, at |x| = x.
func cubic(x, a float64) float64 {
	switch {
	case x < 1:
		return ((a+2)*x-(a+3))*x*x + 1
	case x < 2:
		return (((x-5)*x+8)*x - 4) * a
	}
	return 0
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	if x == math.Trunc(x) {
		return 0 // exactly, where math.Sin(π·x) leaves a rounding error
	}
	x *= math.Pi
	return math.Sin(x) / x
}

func lanczos(x, lobes float64) float64 {
	if x <= -lobes || x >= lobes {
		return 0
	}
	return sinc(x) * sinc(x/lobes)
}
