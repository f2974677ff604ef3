// Mlprep turns a folder of images into training tensors: each image is resized so that its
// shorter side is 256 pixels, centre-cropped to 224×224 and normalised with ImageNet's mean
// and standard deviation on the device (torchvision's Resize(256), CenterCrop(224), ToTensor
// and Normalize, in two kernel launches), and the float32 tensors are written in input order
// into .npy shards that numpy.load, PyTorch and JAX read, with an index that names the
// source file of every row.
//
//	walk ─▶ decode ─▶ batch ─▶ gpu ─▶ shards
//	        (all cores, in     (resize, crop,  (rows in input order,
//	         input order)       normalize)      index beside them)
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
	"github.com/gpupipe/gpupipe/stages/imagebatch"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/npy"
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

// newDecoder decodes every image to RGB, since every row of a shard has one shape. It decodes
// at full size, as torchvision does, so that the tensors match what a model was trained on.
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
	shards, err := npy.NewShardWriter(npy.Options{Dir: cfg.Out, Prefix: "train", Layout: npy.CHWFloat32,
		Height: cfg.Crop, Width: cfg.Crop, Channels: 3, RowsPerShard: cfg.RowsPerShard})
	if err != nil {
		return result{}, err
	}
	pr := &preparer{plan: plan, decoder: newDecoder(), shards: shards}

	p := pipeline.New()
	files := pipeline.Generate(p, func(ctx context.Context, emit func(walk.File) error) error {
		return walk.Walk(ctx, []string{cfg.In}, walk.Options{Exts: walk.ImageExts}, emit)
	}, pipeline.Name("walk"))
	// OrderedMap decodes on every core and hands the images on in input order; a skipped file
	// leaves no gap.
	decoded := pipeline.OrderedMap(files, imagebatch.Decode(pr.decoder, pr.plan), pipeline.Name("decode"), pipeline.AllCores(),
		pipeline.SkipErrors(pr.fail))
	groups := pipeline.Batch(decoded, cfg.Batch, 50*time.Millisecond, pipeline.Name("batch"))
	batches := pipeline.Map(groups, imagebatch.New, pipeline.Name("pack"))
	// gpu.Stage hands batches on in input order; one writer keeps it.
	done := gpu.Stage(batches, dev, imagebatch.Work{Plan: plan}, gpu.EngineOptions{Slots: 2}, pipeline.Name("gpu"),
		pipeline.SkipErrors(pr.fail))
	pipeline.ForEach(done, pr.write, pipeline.Name("write"))

	start := time.Now()
	err = p.Run(ctx)
	if err != nil {
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

// preparer holds the stages' shared state.
type preparer struct {
	plan    *kernels.Plan
	decoder *imageio.Decoder
	shards  *npy.ShardWriter

	mu       sync.Mutex // fail is called by several stages at once
	failures []*pipeline.StageError
}

// fail records a skipped item. A batch that failed as a whole gives its files back.
func (pr *preparer) fail(e *pipeline.StageError) {
	pr.mu.Lock()
	pr.failures = append(pr.failures, e)
	pr.mu.Unlock()
	imagebatch.ReleaseItem(e.Item)
}

// write appends a finished batch's tensors to the shards, in order, then gives the slot and
// the decoded images back. A failure to write stops the run.
func (pr *preparer) write(ctx context.Context, d *gpu.Done[*imagebatch.Batch]) error {
	defer d.Release()
	defer d.Batch.Release()
	views, err := pr.plan.Views(d.Batch.Kernels(), d.Out) // written before the slot goes back
	if err != nil {
		return err
	}
	for i, t := range views.Tensors {
		if err := pr.shards.AddFloat32s(t.Data, d.Batch.Files[i].File.Path()); err != nil {
			return pipeline.Fatal(err)
		}
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
