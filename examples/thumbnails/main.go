// Thumbnails makes a thumbnail of every image in a folder, with a pipeline composed from
// gpupipe's building blocks rather than the ready-made internal/job:
//
//	walk ─▶ decode ─▶ batch ─▶ gpu ─▶ unpack ─▶ write
//	        (all cores,          (resize on    (all cores: encode and
//	         bad files skipped)   the device)   write atomically)
//
// It shows how the pieces fit: a pipeline.Map that skips undecodable files, pipeline.Batch,
// gpu.Stage running a gpu/kernels plan (ResizeFit, Lanczos3) with two batches in flight,
// a stage that copies each output out of its slot and releases the slot, atomic writes with
// stages/output, a progress bar, and at the end the statistics of every stage and the one
// that limited the run.
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
	"text/tabwriter"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/device"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/internal/samples"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/pipeline/progress"
	"github.com/gpupipe/gpupipe/stages/imagebatch"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/output"
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
		if in, err = sampleFolder(); err != nil {
			return err
		}
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
	Stages           []pipeline.StageStats
	Bottleneck       pipeline.StageStats
	Utilization      float64 // the bottleneck's: the fraction of its workers' time spent working
}

// thumbnails runs the pipeline on dev. An unreadable or undecodable file is skipped and
// listed in the result's Failures; a device fault, a full disk or a cancellation stops the
// run with an error.
func thumbnails(ctx context.Context, dev gpu.Device, cfg config) (result, error) {
	plan, err := kernels.NewChain().ResizeFit(cfg.Size, cfg.Size, raster.Lanczos3).Plan()
	if err != nil {
		return result{}, err
	}
	t := &thumbnailer{
		cfg:     cfg,
		plan:    plan,
		decoder: newDecoder(plan),
		encoder: &imageio.Encoder{Format: cfg.Format},
	}
	t.writer = &output.Writer{Dir: cfg.Out, Ext: t.encoder.Ext()}

	p := pipeline.New()
	skip := pipeline.SkipErrors(t.fail)
	files := pipeline.Generate(p, t.walk, pipeline.Name("walk"))
	decoded := pipeline.Map(files, imagebatch.Decode(t.decoder, t.plan), pipeline.Name("decode"), pipeline.AllCores(), skip)
	groups := pipeline.Batch(decoded, cfg.Batch, 50*time.Millisecond, pipeline.Name("batch"))
	batches := pipeline.Map(groups, imagebatch.New, pipeline.Name("pack"))
	done := gpu.Stage(batches, dev, imagebatch.Work{Plan: plan}, gpu.EngineOptions{Slots: 2}, pipeline.Name("gpu"), skip)
	thumbs := pipeline.FlatMap(done, t.unpack, pipeline.Name("unpack"))
	pipeline.ForEach(thumbs, t.write, pipeline.Name("write"), pipeline.AllCores(), skip)

	total, _ := walk.Count(ctx, []string{cfg.In}, walk.Options{Exts: walk.ImageExts}) // 0, unknown, on failure
	t.bar = progress.Start(p, progress.Options{Mode: cfg.Progress, Output: cfg.ProgressOutput,
		Stage: "write", Total: int64(total), Unit: "images"})
	start := time.Now()
	err = p.Run(ctx)
	t.bar.Stop()

	res := result{Written: t.written.Load(), Skipped: t.skipped.Load(), Failures: t.failures, // the run is over: no more appends
		Elapsed: time.Since(start), Stages: p.Stats()}
	res.Bottleneck, res.Utilization, _ = p.Bottleneck()
	return res, err
}

// newDecoder decodes at the smallest size that still leaves the plan's resize enough pixels:
// with libjpeg-turbo, a 4000×3000 JPEG becomes 1000×750 inside the decoder for a 256
// thumbnail.
func newDecoder(plan *kernels.Plan) *imageio.Decoder {
	return &imageio.Decoder{MinSize: plan.MinDecodeSize, Pool: &imageio.Pool{}}
}

// thumbnailer holds the stages' shared state.
type thumbnailer struct {
	cfg     config
	plan    *kernels.Plan
	decoder *imageio.Decoder
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

// fail records a skipped item. A batch that failed as a whole gives its files back.
func (t *thumbnailer) fail(e *pipeline.StageError) {
	t.mu.Lock()
	t.failures = append(t.failures, e)
	t.mu.Unlock()
	imagebatch.ReleaseItem(e.Item)
}

// thumb is one finished thumbnail and the file it was made from.
type thumb struct {
	file walk.File
	img  raster.Image
}

// Label names the thumbnail by its source in errors.
func (th thumb) Label() string { return th.file.Label() }

// unpack copies each thumbnail out of the batch's slot, then releases the slot (so the device
// can take the next batch while the thumbnails are encoded) and the decoded images.
func (t *thumbnailer) unpack(ctx context.Context, d *gpu.Done[*imagebatch.Batch], emit func(thumb) error) error {
	defer d.Release()
	defer d.Batch.Release()
	res, err := t.plan.Result(d.Batch.Kernels(), d.Out)
	if err != nil {
		return err
	}
	for i, img := range res.Images {
		if err := emit(thumb{file: d.Batch.Files[i].File, img: img}); err != nil {
			return err
		}
	}
	return nil
}

// write encodes a thumbnail and writes it atomically. A full disk stops the run, since every
// later file would fail the same way.
func (t *thumbnailer) write(ctx context.Context, th thumb) error {
	_, err := t.writer.Write(ctx, th.file, func(w io.Writer) error { return t.encoder.Encode(w, th.img) })
	if errors.Is(err, syscall.ENOSPC) {
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
		// The stages' errors start with the file's path already.
		fmt.Fprintf(w, "  failed in %s: %v\n", f.Stage, f.Err)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tworkers\tin\tout\tbusy\twaiting for input\tblocked on output\tutilization\t")
	for _, s := range r.Stages {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2fs\t%.2fs\t%.2fs\t%.0f%%\t\n", s.Name, s.Workers, s.In, s.Out,
			s.Busy.Seconds(), s.WaitIn.Seconds(), s.WaitOut.Seconds(), 100*s.Utilization())
	}
	tw.Flush()
	fmt.Fprintf(w, "bottleneck: %s (%.0f%% busy)\n", r.Bottleneck.Name, 100*r.Utilization)
}
