// Package process is the image stage: decoded images in, processed images or tensors out,
// through an operation chain (a *kernels.Plan) on one or more devices.
//
//	decoded ─▶ batch ─▶ pack ─▶ gpu ─────────────────────────────▶ unpack ─▶ results
//	           (up to    (bad    slots in flight on every device:   (one per
//	           Batch)    images  upload ▶ kernels ▶ download        image, in
//	                     fail                                       input order)
//	                     alone)
//
// The stage owns every buffer on the way: a decoded image's pixels go back to its decoder's
// pool as soon as they are in a slot's pinned buffer, each output is copied out of its slot
// once, and the slot goes back to the ring at once, so a slow consumer never holds the
// device. Results own their memory; nothing needs releasing unless the images carry a memory
// charge (Result.Release; imageio.Decoded.Hold). Images dropped by a failure or a
// cancellation are released by the pipeline.
//
// Results come out in input order. An image the chain cannot handle fails alone, before it
// is batched; a batch that fails on the device (a slot that cannot grow, a Work error) fails
// each of its images. With Options.OnError set, failures are reported and skipped, one call
// per image; without it the first failure stops the run.
package process

import (
	"context"
	"fmt"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/imageio"
)

// Options configure the image stage. The zero value is usable.
type Options struct {
	// Name names the device stage in statistics and errors ("gpu" by default); the stages
	// around it are Name.batch, Name.pack and Name.unpack.
	Name string
	// Batch is the number of images per batch (16 by default); MaxWait is how long a batch
	// waits for more images before it goes to the device incomplete (50 ms by default).
	Batch   int
	MaxWait time.Duration
	// MaxBatchBytes, when positive, also bounds the decoded pixels of a batch: an image
	// that would take a batch past it starts the next one (an image larger than it alone
	// is a batch of its own), so that slot buffers are sized by bytes, not only by count.
	MaxBatchBytes int64
	// Engine configures each device's overlap engine: Slots (batches in flight per device),
	// Reserve, HoldLimit. When Reserve is zero and a device is a GPU, the slots are sized up
	// front for a batch of camera photos decoded at the plan's smallest size (see Reserve).
	Engine engine.Options
	// OnError, when set, receives every image that failed, one call at a time, and the run
	// goes on; when nil, the first failure stops the run.
	OnError func(*pipeline.StageError)
	// Color, when set, gives each image its colour map for the chain's ToSRGB (nil: the
	// image is left as it is); package icc's Converter answers it from the image's profile.
	Color func(*imageio.Decoded) *kernels.ColorMap
}

// Result is one processed image: Image for chains that make images, Tensor for chains that
// end with Normalize. Both own their memory.
type Result struct {
	// Source is the decoded input. Its pixels are gone (returned to the decoder's pool);
	// its file, format and sizes remain.
	Source *imageio.Decoded
	Image  raster.Image
	Tensor raster.Tensor
}

// Label names the result by its source file.
func (r Result) Label() string { return r.Source.Label() }

// Release ends the source image's life: it calls what was attached to it with
// imageio.Decoded.Hold (its share of a memory budget, say). A consumer whose decoder charges
// a budget calls it once the result is used; without one it does nothing. The pipeline
// calls it for results it drops. Calling it again does nothing.
func (r Result) Release() {
	if r.Source != nil {
		r.Source.Release()
	}
}

// Images adds the image stage to in's pipeline: every decoded image goes through plan on
// one of devs. The plan is checked against each image before batching, so an image it
// cannot process fails alone.
func Images(in *pipeline.Stream[*imageio.Decoded], devs []gpu.Device, plan *kernels.Plan, opts Options) *pipeline.Stream[Result] {
	opts = opts.withDefaults()
	skip := func(name string) []pipeline.Option {
		o := []pipeline.Option{pipeline.Name(name)}
		if opts.OnError != nil {
			o = append(o, pipeline.SkipErrors(perImage(opts.OnError)))
		}
		return o
	}
	// Decoded images are most of the memory: groups and batches are handed on without a
	// queue, so a batch held before the device is the only one waiting.
	groups := pipeline.BatchWeighted(in, opts.Batch, opts.MaxBatchBytes, pixelBytes, opts.MaxWait,
		pipeline.Name(opts.Name+".batch"), pipeline.Buffer(0))
	batches := pipeline.Custom(groups, packer(plan, opts.Color), append(skip(opts.Name+".pack"), pipeline.Buffer(0))...)
	eopts := opts.Engine
	if eopts.Reserve == (gpu.Sizes{}) && anyGPU(devs) {
		eopts.Reserve = Reserve(plan, opts.Batch)
	}
	done := engine.Stage(batches, devs, work{plan}, eopts, append(skip(opts.Name), pipeline.Buffer(0))...)
	return pipeline.FlatMap(done, unpack, pipeline.Name(opts.Name+".unpack"))
}

func pixelBytes(d *imageio.Decoded) int64 { return int64(len(d.Image.Pix)) }

// Reserve is what a slot needs for a batch of n photos of 24 megapixels (6000×4000, either
// way up, 3 channels) decoded at the size plan.MinDecodeSize allows with libjpeg-turbo's
// scales: the size a slot should have from the start so that an ordinary run never grows it.
// On a GPU growing is expensive (cuMemFree, cuMemAlloc and cuMemHostAlloc wait for every
// stream of the device, tens to hundreds of milliseconds); larger batches still grow the
// slot. Reserve is zero when that would pin more than 256 MiB per slot (chains that keep the
// full size), since most runs would not need it.
func Reserve(plan *kernels.Plan, n int) gpu.Sizes {
	var r gpu.Sizes
	for _, wh := range [][2]int{{6000, 4000}, {4000, 6000}} {
		minW, minH := plan.MinDecodeSize(wh[0], wh[1])
		scale := imageio.ShrinkFactor(wh[0], wh[1], minW, minH)
		w, h := (wh[0]+scale-1)/scale, (wh[1]+scale-1)/scale
		images := make([]raster.Image, n)
		for i := range images {
			images[i] = raster.Image{Width: w, Height: h, Channels: 3, Stride: 3 * w}
		}
		s, err := plan.Sizes(kernels.NewBatch(images))
		if err != nil {
			return gpu.Sizes{}
		}
		r = gpu.Sizes{In: max(r.In, s.In), Out: max(r.Out, s.Out), Scratch: max(r.Scratch, s.Scratch)}
	}
	if r.In+r.Out+r.Scratch > 256<<20 {
		return gpu.Sizes{}
	}
	return r
}

// anyGPU reports whether a device is a GPU. The CPU device grows its buffers for nothing
// more than a Go allocation, and reserving there would only add to the process's memory.
func anyGPU(devs []gpu.Device) bool {
	for _, d := range devs {
		if d.Kind() != "cpu" {
			return true
		}
	}
	return false
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = "gpu"
	}
	if o.Batch <= 0 {
		o.Batch = 16
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 50 * time.Millisecond
	}
	return o
}

// perImage turns the failure of a batch into one failure per image, so that a handler sees
// files, never batches.
func perImage(handler func(*pipeline.StageError)) func(*pipeline.StageError) {
	return func(e *pipeline.StageError) {
		b, ok := e.Item.(*batch)
		if !ok {
			handler(e)
			return
		}
		for _, d := range b.files {
			handler(&pipeline.StageError{Stage: e.Stage, Item: d, Err: e.Err})
		}
	}
}

// batch is a group of decoded images on its way through a device.
type batch struct {
	files []*imageio.Decoded
	kb    *kernels.Batch
}

// Label names the batch in errors by its first and last file.
func (b *batch) Label() string {
	switch len(b.files) {
	case 0:
		return "empty batch"
	case 1:
		return b.files[0].Label()
	}
	return fmt.Sprintf("%d images, %s … %s", len(b.files), b.files[0].Label(), b.files[len(b.files)-1].Label())
}

// Release drops the batch: its pixels go back to their pools and its images are released.
// Calling it again does nothing.
func (b *batch) Release() {
	b.releasePixels()
	releaseAll(b.files)
}

// releasePixels gives the batch's pixels back to their pools once they are in a slot. The
// batch's layout, which is all its outputs need, stays, and so does what its images hold
// (Decoded.Hold) until their results are released.
func (b *batch) releasePixels() {
	if b.kb != nil {
		b.kb.DropPixels()
	}
	for _, d := range b.files {
		d.ReleasePixels()
	}
}

// packer checks every image of a group against the plan and makes a batch of those it can
// process; the others fail alone, through the stage's error policy.
func packer(plan *kernels.Plan, color func(*imageio.Decoded) *kernels.ColorMap) func(context.Context, *pipeline.IO[[]*imageio.Decoded, *batch]) error {
	return func(ctx context.Context, sio *pipeline.IO[[]*imageio.Decoded, *batch]) error {
		for {
			group, ok := sio.Recv()
			if !ok {
				return nil
			}
			start := time.Now()
			b, err := pack(plan, color, group, sio)
			sio.AddBusy(time.Since(start))
			if err != nil {
				return err
			}
			if b == nil {
				continue
			}
			if err := sio.Send(b); err != nil {
				return err // Send released the batch
			}
		}
	}
}

func pack(plan *kernels.Plan, color func(*imageio.Decoded) *kernels.ColorMap, group []*imageio.Decoded, sio *pipeline.IO[[]*imageio.Decoded, *batch]) (*batch, error) {
	b := &batch{files: make([]*imageio.Decoded, 0, len(group))}
	images := make([]raster.Image, 0, len(group))
	for i, d := range group {
		m := d.Image
		if _, err := plan.Shape(m.Width, m.Height, m.Channels); err != nil {
			// Fail releases d; the rest of the group is this stage's to release.
			if ferr := sio.Fail(d, fmt.Errorf("%s: %w", d.Label(), err)); ferr != nil {
				releaseAll(group[i+1:])
				b.Release()
				return nil, ferr
			}
			continue
		}
		b.files = append(b.files, d)
		images = append(images, m)
	}
	if len(b.files) == 0 {
		return nil, nil
	}
	if color == nil {
		b.kb = kernels.NewBatch(images)
		return b, nil
	}
	colors := make([]*kernels.ColorMap, len(b.files))
	for i, d := range b.files {
		colors[i] = color(d)
	}
	b.kb, _ = kernels.NewColorBatch(images, colors) // one map per image: cannot fail
	return b, nil
}

func releaseAll(ds []*imageio.Decoded) {
	for _, d := range ds {
		d.Release()
	}
}

// work runs the plan on batches: the engine's Work[*batch, []Result].
type work struct{ plan *kernels.Plan }

func (w work) Sizes(b *batch) (gpu.Sizes, error) { return w.plan.Sizes(b.kb) }

// Pack copies the pixels into the slot's pinned buffer, after which they are no longer
// needed: they go back to the decoder's pool here, not when the batch comes out.
func (w work) Pack(b *batch, host []byte) error {
	err := w.plan.Pack(b.kb, host)
	b.releasePixels()
	return err
}

func (w work) Enqueue(s gpu.Stream, b *batch, bufs gpu.SlotBuffers) error {
	return w.plan.Enqueue(s, b.kb, bufs)
}

// Result copies each output out of the slot, so that the slot goes back to the ring at once.
func (w work) Result(b *batch, out []byte) ([]Result, error) {
	o, err := w.plan.Result(b.kb, out)
	if err != nil {
		return nil, err
	}
	rs := make([]Result, len(b.files))
	for i, d := range b.files {
		rs[i].Source = d
		if o.Tensors != nil {
			rs[i].Tensor = o.Tensors[i]
		} else {
			rs[i].Image = o.Images[i]
		}
	}
	return rs, nil
}

// unpack hands on a batch's results one by one. Once it has emitted one, the rest are its to
// release when the run stops (FlatMap releases only the result emit could not hand on).
func unpack(_ context.Context, rs []Result, emit func(Result) error) error {
	for i, r := range rs {
		if err := emit(r); err != nil {
			for _, rest := range rs[i+1:] {
				rest.Release()
			}
			return err
		}
	}
	return nil
}
