// Mlprep turns a folder of images into training tensors: each image is resized so that its
// shorter side is 256 pixels, centre-cropped to 224×224 and normalised with ImageNet's mean
// and standard deviation on the device (torchvision's Resize(256), CenterCrop(224), ToTensor
// and Normalize), and the float32 tensors are written in input order into .npy shards that
// numpy.load, PyTorch and JAX read, with an index that names the source file of every row.
//
//	walk ─▶ decode ─▶ process.Images ─▶ shards
//	        (all cores, in  (resize, crop,      (one writer: rows in input
//	         input order)    normalize)          order, the index beside them)
//
// What it shows: the image stage making tensors rather than images, the plan answering the
// shards' row shape (FixedShape) before the first image, and input order kept from the walk
// to the last row, with no gap where a file fails.
//
// Run it with no arguments to prepare generated sample photos on the CPU device:
//
//	go run ./examples/mlprep
//	go run ./examples/mlprep -in ~/datasets/val -out /tmp/val-shards -rows 1024
//	go run -tags cuda ./examples/mlprep -device auto   # on a GPU
//
// Then, in Python: x = numpy.load("/tmp/.../train-00000.npy")  # x.shape == (32, 3, 224, 224)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/device"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/internal/samples"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/npy"
	"github.com/gpupipe/gpupipe/stages/process"
	"github.com/gpupipe/gpupipe/stages/walk"
)

func main() {
	in := flag.String("in", "", "folder of images (default: sample photos generated in a temporary folder)")
	out := flag.String("out", "", "folder for the shards (default: a new temporary folder)")
	dev := flag.String("device", "auto", "device: auto, cpu, cuda or cuda:N (GPUs need a build with -tags cuda)")
	resize := flag.Int("resize", 256, "shorter side after the resize, in pixels")
	crop := flag.Int("crop", 224, "side of the centre crop, in pixels")
	batch := flag.Int("batch", 32, "images per batch on the device")
	rows := flag.Int("rows", 32, "rows (images) per shard")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := config{In: *in, Out: *out, Resize: *resize, Crop: *crop, Batch: *batch, RowsPerShard: *rows}
	if err := run(ctx, *dev, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "mlprep:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, devName string, cfg config) error {
	var err error
	if cfg.In == "" {
		if cfg.In, err = sampleFolder(); err != nil {
			return err
		}
	}
	if cfg.Out == "" {
		if cfg.Out, err = os.MkdirTemp("", "mlprep-"); err != nil {
			return err
		}
	}
	dev, err := device.Open(devName)
	if err != nil {
		return err
	}
	defer dev.Close()

	fmt.Printf("tensors of %s into %s on %s\n", cfg.In, cfg.Out, dev.Name())
	res, err := prepare(ctx, dev, cfg)
	if err != nil {
		return err
	}
	return printResult(os.Stdout, res)
}

// sampleFolder generates sample photos once into a folder that later runs reuse.
func sampleFolder() (string, error) {
	dir, paths, err := samples.WriteShared()
	if err != nil {
		return "", err
	}
	fmt.Printf("%d sample photos in %s\n", len(paths), dir)
	return dir, nil
}

// config describes one run.
type config struct {
	In, Out      string
	Resize, Crop int // shorter side after resizing; side of the square centre crop
	Batch        int // images per batch
	RowsPerShard int
}

// result is what a run wrote.
type result struct {
	Rows        int
	Shards      []string // paths, in order
	Index       string   // the index's path
	Failures    []*pipeline.StageError
	Elapsed     time.Duration
	Bottleneck  string
	Utilization float64
}

// chain is the preprocessing of torchvision's ImageNet evaluation transform; bilinear is
// torchvision's default filter (antialiased when downscaling, as here).
func chain(resize, crop int) kernels.Chain {
	return kernels.NewChain().ResizeShorter(resize, raster.Linear).CenterCrop(crop, crop).Normalize(kernels.ImageNet)
}

// newDecoder decodes every image to RGB, since every row of a shard has one shape.
//
// It decodes at full size, as torchvision does, rather than at the plan's MinDecodeSize: a
// JPEG that libjpeg-turbo shrinks while decoding gives tensors that differ from the
// full-size ones by more than the test allows (none: rows must be the host's chain on the
// full-size image, bit for bit). On the sample photos (1600×1200, decoded at 800×600 for
// Resize(256)), elements moved by up to 7/255 before normalising (0.12 after), 0.2/255 on
// average: small, but no longer what a model trained on torchvision's tensors saw.
func newDecoder() *imageio.Decoder {
	return &imageio.Decoder{Channels: 3, Pool: &imageio.Pool{}}
}

// prepare runs the pipeline on dev. An unreadable or undecodable file is skipped and listed
// in the result; rows follow the input order (walk's sorted order) without gaps.
func prepare(ctx context.Context, dev gpu.Device, cfg config) (result, error) {
	plan, err := chain(cfg.Resize, cfg.Crop).Plan()
	if err != nil {
		return result{}, err
	}
	// Every row of a shard has one shape, which the plan knows before the first image.
	shape, ok := plan.FixedShape(3)
	if !ok {
		return result{}, fmt.Errorf("a %d×%d crop of a shorter side of %d: the tensors would not all have one shape", cfg.Crop, cfg.Crop, cfg.Resize)
	}
	shards, err := npy.NewShardWriter(npy.Options{Dir: cfg.Out, Prefix: "train", Layout: npy.CHWFloat32,
		Height: shape.Height, Width: shape.Width, Channels: shape.Channels, RowsPerShard: cfg.RowsPerShard})
	if err != nil {
		return result{}, err
	}
	pr := &preparer{shards: shards}

	p := pipeline.New()
	files := pipeline.Generate(p, func(ctx context.Context, emit func(walk.File) error) error {
		return walk.Walk(ctx, []string{cfg.In}, walk.Options{Exts: walk.ImageExts}, emit)
	}, pipeline.Name("walk"))
	// OrderedMap decodes on every core and hands the images on in input order, a skipped file
	// leaving no gap; the image stage keeps that order, and one writer keeps it in the shards.
	decoded := pipeline.OrderedMap(files, newDecoder().Decode, pipeline.Name("decode"), pipeline.AllCores(),
		pipeline.SkipErrors(pr.fail))
	tensors := process.Images(decoded, []gpu.Device{dev}, plan, process.Options{Batch: cfg.Batch, OnError: pr.fail})
	pipeline.ForEach(tensors, pr.write, pipeline.Name("write"))

	start := time.Now()
	if err := p.Run(ctx); err != nil {
		shards.Abort() // keeps the complete shards, listed in the index
		return result{}, err
	}
	if err := shards.Close(); err != nil {
		return result{}, err
	}
	res := result{Elapsed: time.Since(start), Failures: pr.failures, Index: shards.IndexPath()}
	n, rows := shards.Written()
	res.Rows = rows
	for i := range n {
		res.Shards = append(res.Shards, shards.ShardPath(i))
	}
	b, util, _ := p.Bottleneck()
	res.Bottleneck, res.Utilization = b.Name, util
	return res, nil
}

// preparer holds what the stages share.
type preparer struct {
	shards *npy.ShardWriter

	mu       sync.Mutex // fail is called by several stages at once
	failures []*pipeline.StageError
}

// fail records a skipped file.
func (pr *preparer) fail(e *pipeline.StageError) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.failures = append(pr.failures, e)
}

// write appends an image's tensor to the shards as their next row. A failure to write stops
// the run.
func (pr *preparer) write(ctx context.Context, r process.Result) error {
	if err := pr.shards.AddFloat32s(r.Tensor.Data, r.Source.File.Path()); err != nil {
		return pipeline.Fatal(err)
	}
	return nil
}

// printResult lists the shards with the shapes their headers give.
func printResult(w io.Writer, r result) error {
	for _, path := range r.Shards {
		h, err := readHeader(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s  %s %v\n", path, h.Descr, h.Shape)
	}
	fmt.Fprintf(w, "index: %s\n", r.Index)
	fmt.Fprintf(w, "%d rows in %d shards, %d files failed, in %.2fs (%.1f images/s); bottleneck: %s (%.0f%% busy)\n",
		r.Rows, len(r.Shards), len(r.Failures), r.Elapsed.Seconds(), float64(r.Rows)/r.Elapsed.Seconds(),
		r.Bottleneck, 100*r.Utilization)
	for _, f := range r.Failures {
		// The stages' errors start with the file's path already.
		fmt.Fprintf(w, "  failed in %s: %v\n", f.Stage, f.Err)
	}
	return nil
}

func readHeader(path string) (npy.Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return npy.Header{}, err
	}
	defer f.Close()
	return npy.ReadHeader(f)
}
