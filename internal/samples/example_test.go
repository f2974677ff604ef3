package samples_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gpupipe/gpupipe/internal/samples"
)

func Example() {
	dir, err := os.MkdirTemp("", "samples")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	opts := samples.Options{
		Count: 4, Width: 320, Height: 240, Seed: 1,
		Formats: []string{"jpeg", "jpeg", "png"}, // every third image a PNG
		Folders: []string{"", "2024/summer"},     // alternately at the top and two levels down
	}
	paths, err := samples.Write(dir, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		fmt.Println(filepath.ToSlash(rel))
	}
	// A second call finds the files in place and writes nothing.
	again, err := samples.Write(dir, opts)
	fmt.Println(len(again), err)
	// Output:
	// sample-0000.jpg
	// 2024/summer/sample-0001.jpg
	// sample-0002.png
	// 2024/summer/sample-0003.jpg
	// 4 <nil>
}

func ExampleImage() {
	img, err := samples.Image(42, 0, 160, 120)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(img.Width, img.Height, img.Channels, len(img.Pix))
	// Output: 160 120 3 57600
}
