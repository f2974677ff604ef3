// Customkernel runs a kernel of its own through gpupipe: a vignette that darkens images
// towards their corners, written once in CUDA C (vignette.cu) and once in Go (vignette.go).
//
//	walk ─▶ decode ─▶ batch ─▶ engine.Stage(vignetteWork) ─▶ unbatch ─▶ write
//
// The operations of gpu/kernels go through process.Images, which batches and unbatches by
// itself; a Work of your own goes through engine.Stage, as here. The pieces, all in this
// folder:
//
//   - vignette.cu, the kernel, in the plain subset of CUDA C (one thread per pixel);
//   - vignette.ptx, its PTX, made by `go generate ./examples/customkernel` (nvcc), committed
//     and embedded with go:embed, so that building needs no CUDA toolkit;
//   - vignetteHost, the Go implementation, which the CPU device runs on every core;
//   - gpu.RegisterKernel, which makes both forms known under one name;
//   - vignetteWork, the engine.Work: it packs a batch of decoded images into a slot, launches
//     the kernel once per image and copies each result out; engine.Stage keeps two batches
//     in flight and gives each slot back by itself.
//
// Run it with no arguments to darken generated sample photos on the CPU device:
//
//	go run ./examples/customkernel
//	go run ./examples/customkernel -in ~/Pictures -out /tmp/vignetted -strength 200
//	go run -tags cuda ./examples/customkernel -device auto   # the PTX, on a GPU
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/device"
	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/internal/samples"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/output"
	"github.com/gpupipe/gpupipe/stages/walk"
)

func main() {
	in := flag.String("in", "", "folder of images (default: sample photos generated in a temporary folder)")
	out := flag.String("out", "", "folder for the results (default: a new temporary folder)")
	dev := flag.String("device", "auto", "device: auto, cpu, cuda or cuda:N (GPUs need a build with -tags cuda)")
	strength := flag.Int("strength", 160, "how much the corners lose, from 0 (nothing) to 256 (all)")
	format := flag.String("format", "jpeg", "output format: jpeg or png")
	batch := flag.Int("batch", 8, "images per batch on the device")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := config{In: *in, Out: *out, Strength: *strength, Format: *format, Batch: *batch}
	if err := run(ctx, *dev, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "customkernel:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, devName string, cfg config) error {
	var err error
	if cfg.Format, err = imageio.ParseFormat(cfg.Format); err != nil {
		return err
	}
	if cfg.In == "" {
		if cfg.In, err = sampleFolder(); err != nil {
			return err
		}
	}
	if cfg.Out == "" {
		if cfg.Out, err = os.MkdirTemp("", "customkernel-"); err != nil {
			return err
		}
	}
	dev, err := device.Open(devName)
	if err != nil {
		return err
	}
	defer dev.Close()

	form := "its Go implementation"
	if dev.Kind() == "cuda" {
		form = "its PTX, compiled by the driver for this GPU"
	}
	fmt.Printf("%s on %s runs %s\n", kernelName, dev.Name(), form)
	res, err := vignette(ctx, dev, cfg)
	if err != nil {
		return err
	}
	printResult(os.Stdout, cfg, res)
	return nil
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
	In, Out  string
	Strength int    // 0 to 256
	Format   string // imageio.JPEG or imageio.PNG
	Batch    int    // images per batch
}

// result is what a run did.
type result struct {
	Written  []string // output paths, sorted
	Failures []error  // the files skipped, each error naming its file
	Elapsed  time.Duration
	Device   map[string]float64 // the gpu stage's figures: "batches", "bytes_in", "wait_slot_ms", ...
}

// vignette darkens every image under cfg.In into cfg.Out on dev. Files that cannot be
// decoded or written are skipped and listed in the result.
func vignette(ctx context.Context, dev gpu.Device, cfg config) (result, error) {
	work, err := newVignetteWork(cfg.Strength)
	if err != nil {
		return result{}, err
	}
	// The decoder has no pool: its images are garbage once their batch is done.
	v := &vignetter{decoder: &imageio.Decoder{}, encoder: &imageio.Encoder{Format: cfg.Format}}
	v.writer = &output.Writer{Dir: cfg.Out, Ext: v.encoder.Ext(), Options: output.Options{Overwrite: true}}

	p := pipeline.New()
	skip := pipeline.SkipErrors(v.fail)
	files := pipeline.Generate(p, func(ctx context.Context, emit func(walk.File) error) error {
		return walk.Walk(ctx, []string{cfg.In}, walk.Options{Exts: walk.ImageExts}, emit)
	}, pipeline.Name("walk"))
	decoded := pipeline.Map(files, v.decoder.Decode, pipeline.Name("decode"), pipeline.AllCores(), skip)
	batches := pipeline.Batch(decoded, cfg.Batch, 50*time.Millisecond, pipeline.Name("batch"))
	done := engine.Stage(batches, []gpu.Device{dev}, work, engine.Options{Slots: 2}, pipeline.Name("gpu"), skip)
	images := pipeline.Unbatch(done, pipeline.Name("unbatch"))
	pipeline.ForEach(images, v.write, pipeline.Name("write"), pipeline.Workers(2), skip)

	start := time.Now()
	err = p.Run(ctx)
	res := result{Written: v.written, Failures: v.failures, Elapsed: time.Since(start)}
	slices.Sort(res.Written)
	for _, s := range p.Stats() {
		if s.Name == "gpu" {
			res.Device = s.Extra
		}
	}
	return res, err
}

// vignetter holds what the stages share.
type vignetter struct {
	decoder *imageio.Decoder
	encoder *imageio.Encoder
	writer  *output.Writer

	mu       sync.Mutex // the stages report and write at once
	written  []string
	failures []error
}

// fail records a skipped file, or a batch that failed as a whole.
func (v *vignetter) fail(e *pipeline.StageError) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.failures = append(v.failures, e)
}

// write encodes a darkened image and writes it atomically.
func (v *vignetter) write(ctx context.Context, img vignetted) error {
	path, err := v.writer.Write(ctx, img.File, func(w io.Writer) error { return v.encoder.Encode(w, img.Image) })
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.written = append(v.written, path)
	return nil
}

func printResult(w io.Writer, cfg config, r result) {
	fmt.Fprintf(w, "%d images darkened (strength %d) into %s in %.2fs (%.1f images/s), %d failed\n",
		len(r.Written), cfg.Strength, cfg.Out, r.Elapsed.Seconds(), float64(len(r.Written))/r.Elapsed.Seconds(), len(r.Failures))
	// Time spent waiting for a free slot is time the device made the rest of the pipeline wait.
	fmt.Fprintf(w, "device: %.0f batches through %.0f slots, %.1f MB up, %.1f MB down; %.0f ms waiting for a free slot\n",
		r.Device["batches"], r.Device["slots"], r.Device["bytes_in"]/1e6, r.Device["bytes_out"]/1e6, r.Device["wait_slot_ms"])
	for _, p := range r.Written[:min(3, len(r.Written))] {
		fmt.Fprintln(w, " ", p)
	}
	if len(r.Written) > 3 {
		fmt.Fprintf(w, "  ... and %d more\n", len(r.Written)-3)
	}
	for _, err := range r.Failures {
		fmt.Fprintln(w, "  failed:", err)
	}
}
