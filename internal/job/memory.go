package job

import (
	"context"
	"fmt"

	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// The memory budget of a run.
//
// Every image is admitted before it is read whole, in input order, in one stage ("read"): its
// header (imageio.Decoder.Head) gives its size, and it is charged the most it will hold at
// once on its way through the run: the larger of what its decode holds (the file, the
// decoder's own image, the Image it makes) and what it holds from then on (its pixels, its
// part of a slot's buffers, twice over on the CPU device whose device buffers are host
// memory too, and its output until written). The charge is given back when its output is
// written or it fails. Admission in input order keeps the budget from deadlocking: the
// bytes an image waits for are held by images ahead of it, which never wait for it.
//
// What a run holds besides its images is set aside from the budget first (memoryBase): the
// Go runtime and the program, the decoders' pool of idle buffers, and the slot buffers kept
// between batches (engine.Options.Keep; a slot that grew past it for an outlier frees its
// buffers after that batch). imgpipe also sets the Go runtime's memory limit to the
// budget, so that garbage is collected before the heap passes it.

const (
	// runtimeBytes is what the Go runtime, the program and the queues' small items take.
	runtimeBytes = 48 << 20
	// The decoders' pool keeps a 32nd of the budget idle, at most maxPool: past a few
	// buffers, pooling saves little (a fresh buffer costs its page faults, well under a
	// millisecond per megabyte, next to tens of milliseconds of decoding) and only adds to
	// what a long run holds.
	poolShare = 32
	maxPool   = 8 << 20
	// A slot keeps a 192nd of the budget between batches, within [minKeep, maxKeep]: 8 MiB
	// of the 1.5 GiB default, a batch of a few photos decoded at thumbnail sizes on the CPU
	// device. Larger batches still run; their slot frees its buffers after them.
	keepShare        = 192
	minKeep, maxKeep = 8 << 20, 256 << 20
)

// DefaultMaxMemory is the budget of a run whose Config.MaxMemory is 0: 256 MiB per worker
// (decoder or encoder, whichever are more) and at least 1.5 GiB, which admits one image at
// the default pixel limit (100 megapixels) with the CPU device, but never more than half the
// machine's memory (or its control group's limit), so that imgpipe leaves room for the rest
// of the machine. On a small machine a very large image may then be refused (with the
// reason and --max-memory named); a user who knows better sets the budget.
func DefaultMaxMemory(workers int) int64 {
	b := max(int64(3)<<29, int64(workers)<<28)
	if m := machineMemory(); m > 0 {
		b = min(b, m/2)
	}
	return b
}

// memoryPlan is how a run splits its budget.
type memoryPlan struct {
	total int64 // Config.MaxMemory
	pool  int64 // the decoders' pool's bound
	keep  int   // engine.Options.Keep
	base  int64 // set aside: runtime, pool, kept slot buffers
}

func planMemory(cfg Config, devices int) memoryPlan {
	m := memoryPlan{total: cfg.MaxMemory}
	m.pool = min(maxPool, m.total/poolShare)
	m.keep = int(min(max(m.total/keepShare, minKeep), maxKeep))
	m.base = runtimeBytes + m.pool + int64(m.keep)*int64(cfg.Slots)*int64(max(devices, 1))
	return m
}

// batchBytes bounds the decoded pixels of a batch on the CPU device so that its slot buffers
// stay within what a slot keeps, a third of it each.
//
// A GPU's batches are not bounded: there the slots are sized up front for batches of camera
// photos (process.Reserve), which Keep never frees, and larger batches run faster.
func (m memoryPlan) batchBytes(hostDevice bool) int64 {
	if m.keep == 0 || !hostDevice {
		return 0
	}
	return int64(m.keep) / 3
}

// images is the part of the budget images are admitted against.
func (m memoryPlan) images() int64 { return max(m.total-m.base, 1) }

// admitted is a file whose memory is charged to the run's budget, on its way to its decoder.
type admitted struct {
	file   walk.File
	budget *pipeline.Budget
	charge int64
}

func (a *admitted) Label() string { return a.file.Label() }

// Release gives the charge back: the pipeline calls it for a file it drops (a failed decode,
// a cancelled run), Decoded.Release for a decoded image.
func (a *admitted) Release() {
	a.budget.Release(a.charge)
	a.charge = 0
}

// admit reads a file's head and waits until the budget has room for it. It runs in one
// goroutine, so files are admitted one at a time in the order they arrive (the order stage's:
// largest first). An image that alone needs more than the budget fails, with the budget and
// the flag that sets it named.
func (r *run) admit(ctx context.Context, f walk.File) (*admitted, error) {
	h, err := r.decoder.Head(ctx, f)
	if err != nil {
		return nil, err
	}
	need := r.imageCost(h)
	if err := r.budget.Acquire(ctx, need); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &imageio.Error{Path: f.Path(), Err: fmt.Errorf(
			"%dx%d %s needs %s to process, more than the memory budget of %s for images (--max-memory %s, less %s for the rest of the run)",
			h.Width, h.Height, h.Format, pipeline.FormatBytes(need), pipeline.FormatBytes(r.budget.Limit()),
			pipeline.FormatBytes(r.mem.total), pipeline.FormatBytes(r.mem.base))}
	}
	return &admitted{file: f, budget: r.budget, charge: need}, nil
}

// imageCost is the most an image of head h holds at once during the run (see above).
func (r *run) imageCost(h imageio.Head) int64 {
	m := raster.Image{Width: h.DecodedWidth, Height: h.DecodedHeight, Channels: h.Channels, Stride: h.DecodedWidth * h.Channels}
	s, err := r.plan.Sizes(kernels.NewBatch([]raster.Image{m}))
	if err != nil {
		return h.Peak // the plan refuses it before it reaches a slot
	}
	slot := int64(s.In) + int64(s.Out) // pinned host buffers
	switch {
	case r.mapsHost():
		slot += int64(s.Scratch) // device buffers in host memory; input and output mapped
	case r.hostDevice():
		slot += int64(s.In) + int64(s.Out) + int64(s.Scratch) // device buffers in host memory
	}
	after := h.Pixels() + slot + int64(s.Out) // the pixels while packed, the slot, the output
	return max(h.Peak, after)
}

// mapsHost reports whether every host-memory device maps its slots' input and output
// buffers onto the host's (gpu/cpu.Device.MapsHost), so that they are not held twice.
func (r *run) mapsHost() bool {
	mapped := false
	for _, d := range r.devs {
		m, ok := d.(interface{ MapsHost() bool })
		if d.Kind() == "cpu" && (!ok || !m.MapsHost()) {
			return false
		}
		mapped = mapped || ok
	}
	return mapped
}

// hostDevice reports whether a device keeps its device buffers in host memory (the CPU
// device).
func (r *run) hostDevice() bool {
	for _, d := range r.devs {
		if d.Kind() == "cpu" {
			return true
		}
	}
	return len(r.devs) == 0
}
