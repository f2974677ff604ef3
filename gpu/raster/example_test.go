package raster_test

import (
	"fmt"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

func ExampleOriented() {
	// A photo stored sideways, with EXIF orientation 6: turn it upright.
	src, _ := raster.NewImage(3, 2, 1)
	copy(src.Pix, []byte{1, 2, 3, 4, 5, 6})
	up, _ := raster.Oriented(src, raster.Orientation(6))
	fmt.Println(up.Width, up.Height, up.Pix)
	// Output: 2 3 [4 1 5 2 6 3]
}

func ExampleImage_CenterCrop() {
	m, _ := raster.NewImage(640, 480, 3)
	v, _ := m.CenterCrop(224, 224)
	fmt.Println(v.Width, v.Height, v.Stride, &v.Pix[0] == &m.Pix[(128*640+208)*3])
	// Output: 224 224 1920 true
}
