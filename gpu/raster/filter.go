package raster

import (
	"fmt"
	"strings"
)

// Filter is a resampling filter. When downscaling, its support is stretched by the scale
// factor, so that every input pixel contributes to the output (antialiasing), as in Pillow and
// libvips. The resampling is in package gpu/kernels.
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

var filterNames = [...]string{"", "box", "linear", "catmullrom", "lanczos3"}

// String returns the filter's name as ParseFilter accepts it.
func (f Filter) String() string {
	if f.Valid() {
		return filterNames[f]
	}
	return fmt.Sprintf("Filter(%d)", uint8(f))
}

// Valid reports whether f is one of the four filters.
func (f Filter) Valid() bool { return f >= Box && f <= Lanczos3 }

// ParseFilter returns the filter with the given name: box (or area), linear (or bilinear,
// triangle), catmullrom (or cubic, bicubic) or lanczos3 (or lanczos). Case is ignored.
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
	return 0, fmt.Errorf("raster: unknown filter %q (want box, linear, catmullrom or lanczos3)", name)
}
