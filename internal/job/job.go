// Package job runs imgpipe's work: a folder of images through an operation chain on a device,
// into image files or tensor shards, with progress and a run report. The command imgpipe is
// a thin layer of flags over Run; Go programs can call Run directly.
//
// The pipeline:
//
//	walk ─▶ pending ─▶ read ─▶ decode ─▶ batch ─▶ gpu ─▶ unpack ─▶ write
//	         (skip done)  (memory  (N workers,        (slots in    (N workers: encode and
//	                      budget)   ordered)           flight)       atomic write, or shards)
//
// The read stage admits each file against the run's memory budget (Config.MaxMemory) from its
// header, before it is read whole (memory.go).
//
// A file that cannot be read, decoded or written is reported and skipped; the others go on.
// A full disk, a device fault or a cancellation stops the run. Outputs appear only when
// complete, so a rerun of the same command finishes what is left.
//
// Before any work, a run plans its output names (output.Writer.Plan): it walks the inputs
// once, and stops with an *output.CollisionError when two of them would make one output.
// Every output is then written beneath the output folder whatever links it holds
// (output.Root), never over an input of the run, and an output folder inside an input
// folder is left out of the walk.
package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/device"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/internal/metrics"
	"github.com/gpupipe/gpupipe/internal/termsafe"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/pipeline/progress"
	"github.com/gpupipe/gpupipe/pipeline/report"
	"github.com/gpupipe/gpupipe/stages/blob"
	"github.com/gpupipe/gpupipe/stages/icc"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/npy"
	"github.com/gpupipe/gpupipe/stages/output"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// Config describes one run.
type Config struct {
	// Inputs are the folders (or files) to read; Output is the folder to write to. Each
	// may instead be a store URL, s3://BUCKET/PREFIX?QUERY and the other schemes of
	// package stages/blob (see OpenInput and OpenOutput); tensor shards are written to a
	// local folder only.
	Inputs []string
	Output string
	// Exts keeps input files with these extensions; nil means walk.ImageExts.
	Exts []string
	// Shard takes one part of the sorted input, for runs split between machines.
	Shard walk.Shard

	// Chain is the operations every image goes through (kernels.ParseChain reads them from
	// text).
	Chain kernels.Chain

	// Format ("jpeg", "png", "webp" or "avif"), Quality, Lossless (WebP) and Background (for
	// alpha in JPEG) describe image outputs; Template names them (nil:
	// output.DefaultTemplate); Overwrite replaces existing outputs instead of skipping their
	// inputs.
	Format     string
	Quality    int
	Lossless   bool
	Background [3]uint8
	Template   *output.Template
	Overwrite  bool

	// Tensors, when set, writes .npy shards instead of image files.
	Tensors *Tensors

	// Devices run the chain; when nil, Device names them (see package gpu/device) and Run
	// opens and closes them.
	Device  string
	Devices []gpu.Device
	// Batch is the number of images per batch; Slots the batches in flight per device.
	Batch, Slots int
	// DecodeWorkers and EncodeWorkers default to the number of cores.
	DecodeWorkers, EncodeWorkers int
	// MaxPixels refuses larger images from their header (0: imageio.DefaultMaxPixels).
	MaxPixels int64
	// ShrinkOnLoad is the margin of JPEG shrink-on-load: a JPEG is decoded at 1/2, 1/4 or
	// 1/8 of its size when that leaves at least this many times the first resize's output
	// on each side (kernels.Plan.MinDecodeSizeMargin). 0 is the default: 2 for images
	// (vipsthumbnail's rule, chosen by measurement), kernels.DraftMargin for tensors (Pillow's
	// draft, as ML loaders use it); negative decodes at full size.
	ShrinkOnLoad float64
	// Channels converts every image to 1, 3 or 4 channels; 0 keeps each image's own.
	Channels int
	// Color is what happens to images with an embedded ICC profile: ColorSRGB (the
	// default) converts them to sRGB, ColorKeep leaves their pixels and embeds the profile
	// in the outputs, ColorIgnore leaves their pixels and drops the profile.
	Color ColorMode
	// KeepMetadata copies EXIF (its orientation reset to 1: the pixels are upright), XMP
	// and the ICC profile (where it still describes the pixels) into outputs whose format
	// holds them; by default outputs carry none.
	KeepMetadata bool
	// MaxMemory is the run's memory budget in bytes: images are admitted against it before
	// they are read, and one that alone needs more fails (see memory.go). 0 means
	// DefaultMaxMemory for the worker counts; a negative value means no budget.
	MaxMemory int64

	// Progress shows progress on ProgressOutput (default: none).
	Progress       progress.Mode
	ProgressOutput io.Writer
	// Log receives one line per failed file as it happens; nil discards them.
	Log io.Writer
	// DryRun lists what would be written, without decoding anything.
	DryRun bool

	// Queue, when set, is where the input files come from instead of walking Inputs: each
	// is acknowledged once its output is written or found already there, terminated when
	// it fails for good, retried when writing failed or the run stopped on an error, and
	// handed back when the run is cancelled (see queue.go). Run returns when the queue
	// ends. The outputs were planned by whoever filled the queue (Plan); image outputs only.
	Queue pipeline.Queue[walk.File]
	// Metrics, when set, exports the run's statistics (stages, device, files) from the
	// moment its pipeline starts; see package internal/metrics.
	Metrics *metrics.Metrics
}

// Tensors describes .npy output: shards of RowsPerShard rows named Prefix-00000.npy, ...,
// with an index Prefix-index.jsonl and a manifest Prefix-manifest.json; a run of one part of
// the input (Config.Shard i/n) adds -s{i}of{n} to the prefix, so that the parts can share a
// folder. The chain must make images (Layout npy.HWCUint8) or tensors (npy.CHWFloat32, a
// chain that ends with normalize) of one size. A rerun resumes: the rows already in
// committed shards are skipped (and counted as already there), the others appended, so that
// the shards end as an uninterrupted run leaves them; see package npy.
type Tensors struct {
	Layout       npy.Layout
	RowsPerShard int
	Prefix       string
}

// Run processes every input file and returns the run's report. The error is nil when the
// run went through, even if some files failed (they are in the report); it is the cause when
// the run stopped early: ctx's error after a cancellation, a device fault, a full disk, or an
// *output.CollisionError from the plan, before any work.
func Run(ctx context.Context, cfg Config) (report.Report, error) {
	r, err := newRun(cfg)
	if err != nil {
		return report.Report{}, err
	}
	defer r.close()
	runErr := r.run(ctx)
	if ctx.Err() == nil {
		// Decodes abandoned over their time budget end soon after (package imageio): a Run
		// that went through leaves no goroutine behind. A cancelled one returns at once.
		r.decoder.Wait(ctx)
	}
	return r.rec.Report(r.p.Stats(), runErr), runErr
}

// run is the state of one Run.
type run struct {
	cfg     Config
	rec     *report.Recorder
	p       *pipeline.Pipeline
	plan    *kernels.Plan
	devs    []gpu.Device
	ownDevs bool
	inputs  []Input
	out     Output         // where image outputs go: writer, or a store's sink
	writer  *output.Writer // a local output folder; nil for a store
	sink    *blob.Sink     // a store's output; nil for a local folder
	encoder *imageio.Encoder
	decoder *imageio.Decoder
	shards  *npy.ShardWriter
	colors  icc.Converter
	pool    *imageio.Pool
	budget  *pipeline.Budget // nil: no budget
	mem     memoryPlan
	prog    *progress.Progress
	total   int // the files of this run (its shard), from the plan
	logMu   sync.Mutex
	acks    acks // the acknowledgements of a queue-fed run's files in flight
}

func newRun(cfg Config) (*run, error) {
	cfg = withDefaults(cfg)
	if cfg.Color == "" {
		cfg.Color = ColorSRGB
	}
	if cfg.Color != ColorSRGB && cfg.Color != ColorKeep && cfg.Color != ColorIgnore {
		return nil, fmt.Errorf("colour mode %q: want srgb, keep or ignore", cfg.Color)
	}
	if cfg.Color == ColorSRGB {
		// The planner moves the conversion to after the resize, into its vertical pass.
		cfg.Chain = kernels.NewChain().ToSRGB().Then(cfg.Chain)
	}
	plan, err := cfg.Chain.Plan()
	if err != nil {
		return nil, err
	}
	if cfg.Queue != nil && (cfg.Tensors != nil || cfg.DryRun) {
		return nil, fmt.Errorf("a run fed by a queue writes image files: tensor shards and dry runs need the whole input")
	}
	if cfg.Tensors == nil && plan.Tensor() {
		return nil, fmt.Errorf("the operations end with normalize, which makes tensors: write them as tensor shards")
	}
	r := &run{cfg: cfg, plan: plan, rec: report.NewRecorder(), p: pipeline.New(), pool: &imageio.Pool{}}
	r.rec.Inputs, r.rec.Output, r.rec.Shard = cfg.Inputs, cfg.Output, shardName(cfg.Shard)
	r.decoder = &imageio.Decoder{
		MaxPixels: cfg.MaxPixels, Channels: cfg.Channels, Background: cfg.Background, Pool: r.pool,
		MinSize: func(w, h int) (int, int) { return plan.MinDecodeSizeMargin(w, h, cfg.shrinkMargin()) },
		// The profile is read unless nothing would use it.
		IgnoreICC: cfg.Color == ColorIgnore && !cfg.KeepMetadata, Metadata: cfg.KeepMetadata && cfg.Tensors == nil,
	}
	if cfg.Color != ColorIgnore {
		// Outputs are RGB: CMYK pixels reach sRGB through their profile in every mode
		// that manages colour.
		r.decoder.ConvertCMYK = r.colors.CMYK
	}
	r.encoder = &imageio.Encoder{Format: cfg.Format, Quality: cfg.Quality, Lossless: cfg.Lossless, Background: cfg.Background, Pool: r.pool}
	if !blob.IsURL(cfg.Output) {
		r.writer = &output.Writer{Dir: cfg.Output, Template: cfg.Template, Ext: r.encoder.Ext(), Options: output.Options{Overwrite: cfg.Overwrite}}
		r.out = r.writer
	}
	return r, nil
}

func withDefaults(cfg Config) Config {
	cores := runtime.GOMAXPROCS(0)
	if cfg.Exts == nil {
		cfg.Exts = walk.ImageExts
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 16
	}
	if cfg.Slots <= 0 {
		cfg.Slots = 2
	}
	if cfg.DecodeWorkers <= 0 {
		cfg.DecodeWorkers = cores
	}
	if cfg.EncodeWorkers <= 0 {
		cfg.EncodeWorkers = cores
	}
	if cfg.Device == "" {
		cfg.Device = "auto"
	}
	if cfg.ProgressOutput == nil {
		cfg.Progress = progress.None
	}
	if cfg.MaxMemory == 0 {
		cfg.MaxMemory = DefaultMaxMemory(max(cfg.DecodeWorkers, cfg.EncodeWorkers))
	}
	if cfg.Tensors != nil && cfg.Channels == 0 {
		cfg.Channels = 3 // every row of a shard has the same shape
	}
	return cfg
}

func shardName(s walk.Shard) string {
	if s.Count <= 1 {
		return ""
	}
	return s.String()
}

func (r *run) close() {
	if r.ownDevs {
		_ = device.CloseAll(r.devs)
	}
	if r.out != nil {
		_ = r.out.Close()
	}
	_ = CloseInputs(r.inputs)
}

// shrinkMargin is ShrinkOnLoad with its default filled in.
func (c *Config) shrinkMargin() float64 {
	switch {
	case c.ShrinkOnLoad != 0:
		return c.ShrinkOnLoad
	case c.Tensors != nil:
		return kernels.DraftMargin
	}
	return 2
}

// lookahead is how many listed files a local run chooses the next one to decode from: the
// largest first. A big photo decodes for up to ten times as long as a small one, and one
// decoding alone at the end of a run leaves the other cores idle; started first, it overlaps
// the small ones (measured on 44 wallpaper photos of 1 to 18 megapixels, 2 cores: one core
// idle for 0.6 of the run's 2.4 s in input order). Queue workers take messages as they come:
// holding them would only delay their acks.
const lookahead = 256

func largerFile(a, b walk.File) bool { return a.Size > b.Size }

// run builds the pipeline and runs it.
func (r *run) run(ctx context.Context) (err error) {
	if err := r.prepare(ctx); err != nil {
		return err
	}
	var files *pipeline.Stream[walk.File]
	if r.cfg.Queue != nil {
		files = r.queueSource()
		defer func() { r.settleRest(ctx, err) }()
	} else {
		files = r.source()
	}
	if r.cfg.Tensors == nil {
		workers := 2
		if r.cfg.DryRun {
			workers = 1 // the listing keeps the walk's sorted order
		}
		files = pipeline.Filter(files, r.pending, pipeline.Name("pending"), pipeline.Workers(workers),
			pipeline.SkipErrors(r.fail))
		if r.cfg.Queue == nil && !r.cfg.DryRun {
			files = pipeline.Prioritize(files, lookahead, largerFile, pipeline.Name("order"))
		}
	} else if r.shards != nil {
		files = pipeline.Filter(files, r.pendingRow, pipeline.Name("pending"))
	}
	if r.cfg.DryRun {
		pipeline.ForEach(files, r.dryRun, pipeline.Name("dry-run"))
	} else {
		r.process(files)
	}
	if r.cfg.Progress != progress.None {
		r.prog = progress.Start(r.p, progress.Options{Mode: r.cfg.Progress, Output: r.cfg.ProgressOutput,
			Stage: "write", Total: int64(r.total), Unit: "images"})
		defer func() { r.prog.Finish(err) }()
	}
	if r.cfg.Metrics != nil {
		names := make([]string, len(r.devs))
		for i, d := range r.devs {
			names[i] = d.Name()
		}
		r.cfg.Metrics.Watch(metrics.Run{Stats: r.p.Stats, Counts: r.rec.Counts, Devices: names})
	}
	err = r.p.Run(ctx)
	if err == nil && r.shards != nil {
		err = r.shards.Close()
	} else if r.shards != nil {
		r.shards.Abort()
	}
	return err
}

// prepare plans the outputs; then, unless this is a dry run, which changes nothing, it
// opens (creating) the output folder, sweeps stale temporary files, and opens the devices
// and the shard writer. A plan that fails leaves no trace, not even the output folder.
func (r *run) prepare(ctx context.Context) error {
	if r.cfg.Output == "" {
		return fmt.Errorf("no output folder")
	}
	if r.writer == nil && r.cfg.Tensors != nil {
		return fmt.Errorf("output %s: tensor shards are written to a local folder", termsafe.Name(r.cfg.Output))
	}
	if err := r.open(ctx); err != nil {
		return err
	}
	if r.cfg.Queue == nil {
		if err := r.planOutputs(ctx); err != nil {
			return err
		}
	}
	if r.cfg.DryRun {
		return nil
	}
	if r.writer != nil {
		root, err := r.writer.Root(true)
		if err != nil {
			return err
		}
		if _, err := root.Sweep(output.DefaultSweepAge); err != nil {
			return err
		}
	}
	if err := r.openDevices(); err != nil {
		return err
	}
	if r.cfg.MaxMemory > 0 {
		r.mem = planMemory(r.cfg, len(r.devs))
		r.pool.MaxBytes = r.mem.pool
		r.budget = pipeline.NewBudget(r.mem.images())
	}
	if r.cfg.Tensors != nil {
		return r.openShards()
	}
	return nil
}

// open opens the run's inputs and, when the output is a store URL, its sink; close closes
// them.
func (r *run) open(ctx context.Context) error {
	var err error
	if r.inputs, err = OpenInputs(ctx, r.cfg.Inputs); err != nil {
		return err
	}
	if r.writer == nil {
		if r.sink, err = blob.OpenSink(ctx, r.cfg.Output); err != nil {
			return err
		}
		r.sink.Template, r.sink.Ext, r.sink.Overwrite = r.cfg.Template, r.encoder.Ext(), r.cfg.Overwrite
		r.out = r.sink
	}
	return nil
}

// planOutputs walks every input once before any work: for image outputs the writer checks
// that no two inputs share an output and learns the inputs, which no output may replace; for
// both kinds the count sizes the progress bar.
//
// The plan covers the whole input, every shard's files and not only this shard's, so that
// shards writing into one folder cannot collide, and every shard reaches the same verdict.
// It costs a walk (reading folders, no file) and about 24 bytes per input file.
func (r *run) planOutputs(ctx context.Context) error {
	opts := r.walkOptions()
	opts.Shard, opts.OnError = walk.Shard{}, func(string, error) error { return nil } // the walk stage reports problems
	n := 0
	if r.cfg.Tensors != nil {
		var err error
		if n, err = CountInputs(ctx, r.inputs, opts); err != nil {
			return err
		}
	} else {
		planner := r.writer
		if planner == nil {
			// The template and the extension make the names; the folder only names them
			// in messages.
			planner = &output.Writer{Template: r.cfg.Template, Ext: r.encoder.Ext()}
		}
		plan, err := planner.Plan(ctx, seqInputs(ctx, r.inputs, opts))
		var ce *output.CollisionError
		if errors.As(err, &ce) && r.sink != nil {
			for i := range ce.Collisions {
				ce.Collisions[i].Output = r.sink.Name(ce.Collisions[i].Output)
			}
		}
		if err != nil {
			return err
		}
		if r.writer != nil {
			r.writer.Protect = plan.Protect
		} else {
			r.sink.Protect = plan.ProtectID
		}
		n = plan.Files()
	}
	lo, hi := r.cfg.Shard.Range(n)
	r.total = hi - lo
	return nil
}

// walkOptions select the inputs: their extensions and shard, and never the output folder.
func (r *run) walkOptions() walk.Options {
	return walk.Options{Exts: r.cfg.Exts, Shard: r.cfg.Shard, Exclude: []string{r.cfg.Output}}
}

func (r *run) openDevices() (err error) {
	r.devs = r.cfg.Devices
	if r.devs == nil {
		devs, err := device.OpenAll(r.cfg.Device)
		if err != nil {
			return err
		}
		r.devs, r.ownDevs = devs, true
	}
	names := ""
	for i, d := range r.devs {
		if i > 0 {
			names += ", "
		}
		names += d.Name()
	}
	r.rec.Device = names
	return nil
}

// source walks the inputs. A problem with one path is reported and skipped; a missing input
// folder stops the run.
func (r *run) source() *pipeline.Stream[walk.File] {
	opts := r.walkOptions()
	opts.OnError = func(path string, err error) error {
		// A *walk.Error names the path and the stage already; the failure line says both.
		var we *walk.Error
		if errors.As(err, &we) {
			err = we.Err
		}
		r.logFailure(path, "walk", err)
		r.rec.Found(1) // found, and failed: the counts add up
		r.rec.Fail(path, "walk", err)
		return nil
	}
	return pipeline.Generate(r.p, func(ctx context.Context, emit func(walk.File) error) error {
		return WalkInputs(ctx, r.inputs, opts, func(f walk.File) error {
			r.rec.Found(1)
			return emit(f)
		})
	}, pipeline.Name("walk"))
}

// pending keeps the files whose output is not there yet.
func (r *run) pending(ctx context.Context, f walk.File) (bool, error) {
	keep, err := r.out.Pending(ctx, f)
	if err == nil && !keep {
		r.skipped()
		r.settle(f.Path(), nil)
	}
	return keep, err
}

// skipped counts a file whose output is already there.
func (r *run) skipped() {
	r.rec.Skipped()
	if r.prog != nil {
		r.prog.AddTotal(-1)
	}
}

// pendingRow keeps the files whose rows are not in committed shards yet.
func (r *run) pendingRow(_ context.Context, f walk.File) (bool, error) {
	if !r.shards.Committed(f.Path()) {
		return true, nil
	}
	r.skipped()
	return false, nil
}

func (r *run) dryRun(ctx context.Context, f walk.File) error {
	path, err := r.out.Path(f)
	if err != nil {
		return err
	}
	r.logf("%s -> %s\n", termsafe.Name(f.Path()), termsafe.Name(path))
	return nil
}

// fail records a skipped item of any stage and names it on the log.
func (r *run) fail(e *pipeline.StageError) {
	r.logFailure(e.ItemLabel(), e.Stage, e.Err)
	r.rec.FailStage(e)
	r.settleFailure(e)
}

// logFailure names a failed file on the log. The name is escaped, and so is the reason, in
// case an error from elsewhere holds a name as it is.
func (r *run) logFailure(path, stage string, err error) {
	reason := strings.TrimPrefix(err.Error(), path+": ")
	r.logf("imgpipe: %s: %s: %s\n", termsafe.Name(path), stage, termsafe.Name(reason))
}

// logf writes to the log; when the log is where progress is shown, through the progress
// display, so that its bars are not drawn over the line.
func (r *run) logf(format string, args ...any) {
	if r.cfg.Log == nil {
		return
	}
	r.logMu.Lock()
	defer r.logMu.Unlock()
	var w io.Writer = r.cfg.Log
	if r.prog != nil && r.cfg.Log == r.cfg.ProgressOutput {
		w = r.prog
	}
	fmt.Fprintf(w, format, args...)
}

const batchWait = 50 * time.Millisecond
