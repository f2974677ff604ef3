package process_test

import (
	"context"
	"fmt"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/process"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// Thumbnails of three images on the CPU device: decoded images in, results in input order
// out. Nothing is released by hand: the stage gives each image's pixels back once they are
// on the device, and each result owns its memory.
func ExampleImages() {
	dev, err := cpu.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Close()
	plan, err := kernels.NewChain().ResizeFit(64, 64, raster.Lanczos3).Plan()
	if err != nil {
		fmt.Println(err)
		return
	}
	var decoded []*imageio.Decoded
	for i, size := range [][2]int{{640, 480}, {300, 900}, {50, 40}} {
		m, _ := raster.NewImage(size[0], size[1], 3)
		decoded = append(decoded, &imageio.Decoded{Image: m, File: walk.File{Rel: fmt.Sprintf("img%d.png", i)}})
	}

	p := pipeline.New()
	results := process.Images(pipeline.FromSlice(p, decoded), []gpu.Device{dev}, plan, process.Options{Batch: 2})
	pipeline.ForEach(results, func(ctx context.Context, r process.Result) error {
		fmt.Printf("%s: %dx%d\n", r.Label(), r.Image.Width, r.Image.Height)
		return nil
	})
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// img0.png: 64x48
	// img1.png: 21x64
	// img2.png: 64x51
}
