package process_test

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/device"
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

// The whole path from files to thumbnails: decode on every core at the smallest size the
// plan allows, the image stage, and a sink; failures are reported and skipped.
func ExampleImages_files() {
	dir, _ := os.MkdirTemp("", "process-example-")
	defer os.RemoveAll(dir)
	var paths []string
	for i, size := range [][2]int{{400, 300}, {120, 360}} {
		path := filepath.Join(dir, fmt.Sprintf("photo%d.png", i))
		f, _ := os.Create(path)
		png.Encode(f, image.NewRGBA(image.Rect(0, 0, size[0], size[1])))
		f.Close()
		paths = append(paths, path)
	}
	paths = append(paths, filepath.Join(dir, "missing.png"))
	report := func(e *pipeline.StageError) {
		var ie *imageio.Error // decoding errors name their file
		if errors.As(e.Err, &ie) {
			fmt.Println("skipped:", filepath.Base(ie.Path), errors.Is(e.Err, fs.ErrNotExist))
		}
	}

	dev, err := device.Open("cpu")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Close()
	chain, err := kernels.ParseChain("fit=100") // or kernels.NewChain().ResizeFit(100, 100, raster.Lanczos3)
	if err != nil {
		fmt.Println(err)
		return
	}
	plan, err := chain.Plan()
	if err != nil {
		fmt.Println(err)
		return
	}
	p := pipeline.New()
	files := pipeline.FromSlice(p, paths)
	decoded := pipeline.OrderedMap(files, (&imageio.Decoder{MinSize: plan.MinDecodeSize}).DecodeFile,
		pipeline.AllCores(), pipeline.SkipErrors(report))
	thumbs := process.Images(decoded, []gpu.Device{dev}, plan, process.Options{OnError: report})
	pipeline.ForEach(thumbs, func(ctx context.Context, r process.Result) error {
		fmt.Printf("%s: %dx%d\n", filepath.Base(r.Label()), r.Image.Width, r.Image.Height)
		return nil
	})
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// skipped: missing.png true
	// photo0.png: 100x75
	// photo1.png: 33x100
}
