package kernels

import (
	"fmt"
	"math"
	"strings"
)

// Filter is a resampling filter. When downscaling, its support is stretched by the scale
// factor, so that every input pixel contributes to the output (antialiasing), as in Pillow and
// libvips.
type Filter uint8

// The resampling filters, from fastest to sharpest.
const (
	// Box averages the input pixels that fall in each output pixel (area averaging); when
	// upscaling it repeats pixels.
	Box Filter = iota + 1
	// Linear is the triangle filter: bilinear interpolation, antialiased when downscaling.
	Linear
	// CatmullRom is the cubic convolution filter with a = -0.5 (Pillow's BICUBIC).
	CatmullRom
	// Lanczos3 is the windowed sinc with three lobes: the sharpest, with slight ringing.
	Lanczos3
)

var filterNames = map[Filter]string{Box: "box", Linear: "linear", CatmullRom: "catmullrom", Lanczos3: "lanczos3"}

// String returns the filter's name as ParseFilter accepts it.
func (f Filter) String() string {
	if s, ok := filterNames[f]; ok {
		return s
	}
	return fmt.Sprintf("Filter(%d)", uint8(f))
}

// ParseFilter returns the filter with the given name: box, linear (or bilinear, triangle),
// catmullrom (or cubic, bicubic) or lanczos3 (or lanczos). Case is ignored.
func ParseFilter(name string) (Filter, error) {
	switch strings.ToLower(name) {
	case "box", "area":
		return Box, nil
	case "linear", "bilinear", "triangle":
		return Linear, nil
	case "catmullrom", "cubic", "bicubic":
		return CatmullRom, nil
	case "lanczos3", "lanczos":
		return Lanczos3, nil
	}
	return 0, fmt.Errorf("kernels: unknown filter %q (want box, linear, catmullrom or lanczos3)", name)
}

func (f Filter) valid() bool { _, ok := filterNames[f]; return ok }

// support is the filter's half-width at scale 1.
func (f Filter) support() float64 {
	switch f {
	case Box:
		return 0.5
	case Linear:
		return 1
	case CatmullRom:
		return 2
	}
	return 3
}

// at evaluates the filter at x (in input pixels at scale 1).
func (f Filter) at(x float64) float64 {
	switch f {
	case Box:
		// Half-open, so that a pixel centre on the boundary belongs to one output only.
		if x > -0.5 && x <= 0.5 {
			return 1
		}
		return 0
	case Linear:
		return max(0, 1-math.Abs(x))
	case CatmullRom:
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
