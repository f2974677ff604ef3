// Thumbnails makes a thumbnail of every image in a folder. It shows how a whole job composes
// from gpupipe's stages on one screen (the function thumbnails):
//
//	walk ─▶ decode ─▶ process.Images ─▶ write
//	        (all cores,  (ResizeFit, Lanczos3,  (all cores: encode, then
//	         bad files    batched on the         write atomically)
//	         skipped)     device)
//
// with a progress bar while it runs and, at the end, the statistics of every stage and the
// one that limited the run. The image stage batches, packs, runs the plan, copies each
// thumbnail out and gives back every buffer itself: nothing here releases anything.
//
// Run it with no arguments to make thumbnails of generated sample photos on the CPU device:
//
//	go run ./examples/thumbnails
//	go run ./examples/thumbnails -in ~/Pictures -out /tmp/thumbs -size 320
//	go run -tags cuda ./examples/thumbnails -device auto   # on a GPU
//
// A second run with the same -out skips the images whose thumbnails are there.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/device"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/internal/samples"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/pipeline/progress"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/output"
	"github.com/gpupipe/gpupipe/stages/process"
	"github.com/gpupipe/gpupipe/stages/walk"
)

func main() {
	in := flag.String("in", "", "folder of images (default: sample photos generated in a temporary folder)")
	out := flag.String("out", "", "folder for the thumbnails (default: a new temporary folder)")
	dev := flag.String("device", "auto", "device: auto, cpu, cuda or cuda:N (GPUs need a build with -tags cuda)")
	size := flag.Int("size", 256, "largest side of a thumbnail, in pixels")
	batch := flag.Int("batch", 16, "images per batch on the device")
	format := flag.String("format", "jpeg", "thumbnail format: jpeg or png")
	prog := flag.String("progress", "auto", "progress display: auto, bar, plain or none")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *in, *out, *dev, *size, *batch, *format, *prog); err != nil {
		fmt.Fprintln(os.Stderr, "thumbnails:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, in, out, devName string, size, batch int, format, prog string) error {
	mode, err := progress.ParseMode(prog)
	if err != nil {
		return err
	}
	if format, err = imageio.ParseFormat(format); err != nil {
		return err
	}
	if in == "" {
		dir, paths, err := samples.WriteShared()
		if err != nil {
			return err
		}
		fmt.Printf("%d sample photos in %s\n", len(paths), dir)
		in = dir
	}
	if out == "" {
		if out, err = os.MkdirTemp("", "thumbnails-"); err != nil {
			return err
		}
	}
	dev, err := device.Open(devName)
	if err != nil {
		return err
	}
	defer dev.Close()

	cfg := config{In: in, Out: out, Size: size, Batch: batch, Format: format, Progress: mode, ProgressOutput: os.Stderr}
	fmt.Printf("thumbnails of %s into %s on %s\n", in, out, dev.Name())
	res, err := thumbnails(ctx, dev, cfg)
	if err != nil {
		return err
	}
	printResult(os.Stdout, res)
	return nil
}

// config describes one run.
type config struct {
	In, Out        string
	Size           int    // the thumbnails' largest side
	Batch          int    // images per batch
	Format         string // imageio.JPEG or imageio.PNG
	Progress       progress.Mode
	ProgressOutput io.Writer
}

// result is what a run did.
type result struct {
	Written, Skipped int64 // thumbnails written; inputs whose thumbnail was already there
	Failures         []*pipeline.StageError
	Elapsed          time.Duration
	Stages           []pipeline.StageStats // every stage's statistics at the end
}

// thumbnails is the pipeline, run on dev. A file that cannot be read, decoded, resized or
// written is skipped and listed in the result's Failures; a device fault, a full disk or a
// cancellation stops the run with an error.
func thumbnails(ctx context.Context, dev gpu.Device, cfg config) (result, error) {
	plan, err := kernels.NewChain().ResizeFit(cfg.Size, cfg.Size, raster.Lanczos3).Plan()
	if err != nil {
		return result{}, err
	}
	encoder := &imageio.Encoder{Format: cfg.Format}
	t := &thumbnailer{cfg: cfg, encoder: encoder, writer: &output.Writer{Dir: cfg.Out, Ext: encoder.Ext()}}
	skip := pipeline.SkipErrors(t.fail)

	p := pipeline.New()
	files := pipeline.Generate(p, t.walk, pipeline.Name("walk"))
	decoded := pipeline.OrderedMap(files, newDecoder(plan).Decode, pipeline.Name("decode"), pipeline.AllCores(), skip)
	thumbs := process.Images(decoded, []gpu.Device{dev}, plan, process.Options{Batch: cfg.Batch, OnError: t.fail})
	pipeline.ForEach(thumbs, t.write, pipeline.Name("write"), pipeline.AllCores(), skip)

	total, _ := walk.Count(ctx, []string{cfg.In}, walk.Options{Exts: walk.ImageExts}) // 0 (unknown) on failure
	t.bar = progress.Start(p, progress.Options{Mode: cfg.Progress, Output: cfg.ProgressOutput,
		Stage: "write", Total: int64(total), Unit: "images"})
	start := time.Now()
	err = p.Run(ctx)
	t.bar.Stop()

	return result{Written: t.written.Load(), Skipped: t.skipped.Load(), Failures: t.failures,
		Elapsed: time.Since(start), Stages: p.Stats()}, err
}

// newDecoder decodes at the smallest size that still leaves the plan's resize enough pixels:
// with libjpeg-turbo, a 4000×3000 JPEG becomes 1000×750 inside the decoder for a 256
// thumbnail. Its pool takes the pixels back once the image stage has copied them to a slot.
func newDecoder(plan *kernels.Plan) *imageio.Decoder {
	return &imageio.Decoder{MinSize: plan.MinDecodeSize, Pool: &imageio.Pool{}}
}

// thumbnailer holds what the stages share.
type thumbnailer struct {
	cfg     config
	encoder *imageio.Encoder
	writer  *output.Writer
	bar     *progress.Progress

	written, skipped atomic.Int64
	mu               sync.Mutex // fail is called by several stages at once
	failures         []*pipeline.StageError
}

// walk emits the input files whose thumbnail is not there yet.
func (t *thumbnailer) walk(ctx context.Context, emit func(walk.File) error) error {
	return walk.Walk(ctx, []string{t.cfg.In}, walk.Options{Exts: walk.ImageExts}, func(f walk.File) error {
		if done, err := t.writer.Done(f); err == nil && done {
			t.skipped.Add(1)
			t.bar.AddTotal(-1) // it will never reach the write stage
			return nil
		}
		return emit(f)
	})
}

// fail records a skipped file.
func (t *thumbnailer) fail(e *pipeline.StageError) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failures = append(t.failures, e)
}

// write encodes a thumbnail and writes it atomically. A full disk stops the run, since every
// later file would fail the same way.
func (t *thumbnailer) write(ctx context.Context, r process.Result) error {
	_, err := t.writer.Write(ctx, r.Source.File, func(w io.Writer) error { return t.encoder.Encode(w, r.Image) })
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return pipeline.Fatal(err)
	}
	if err == nil {
		t.written.Add(1)
	}
	return err
}

func printResult(w io.Writer, r result) {
	rate := float64(r.Written) / r.Elapsed.Seconds()
	fmt.Fprintf(w, "%d thumbnails written, %d already there, %d failed in %.2fs (%.1f images/s, %d cores)\n",
		r.Written, r.Skipped, len(r.Failures), r.Elapsed.Seconds(), rate, runtime.GOMAXPROCS(0))
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  failed in %s: %v\n", f.Stage, f.Err) // the errors start with the file's path
	}
	pipeline.WriteStats(w, r.Stages) // a table of the stages; the bottleneck, named below it
}
