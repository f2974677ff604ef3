// Package imagebatch carries batches of decoded image files through a device. A Batch pairs
// the files, which name the outputs and the errors, with the images that a kernels plan takes;
// Work runs a plan on Batches for the overlap engine and returns each batch's pixels to the
// decoder's pool as soon as they are in the slot's pinned buffer, so that decoded images do
// not pile up while their batch is on the device.
//
//	batches := pipeline.Map(pipeline.Batch(decoded, 16, 50*time.Millisecond), imagebatch.New)
//	done := gpu.Stage(batches, dev, work, gpu.EngineOptions{Slots: 2})
package imagebatch

import (
	"context"
	"fmt"
	"sync"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// Batch is a group of decoded files on its way through a device.
type Batch struct {
	Files []*imageio.Decoded
	// Images are the files' images, Images[i] being Files[i].Image. Once the batch is
	// released only their sizes remain.
	Images []raster.Image

	kb       *kernels.Batch // the images as a kernels plan takes them
	released sync.Once
}

// New makes a batch of files. It has the shape of a pipeline.Map function, to follow
// pipeline.Batch.
func New(_ context.Context, files []*imageio.Decoded) (*Batch, error) {
	b := &Batch{Files: files, Images: make([]raster.Image, len(files))}
	for i, d := range files {
		b.Images[i] = d.Image
	}
	b.kb = kernels.NewBatch(b.Images)
	return b, nil
}

// Kernels is the batch as a kernels plan takes it, for reading its outputs with the plan's
// Result or Views.
func (b *Batch) Kernels() *kernels.Batch {
	if b.kb == nil {
		b.kb = kernels.NewBatch(b.Images)
	}
	return b.kb
}

// Label names the batch in errors by its first and last file.
func (b *Batch) Label() string {
	switch len(b.Files) {
	case 0:
		return "empty batch"
	case 1:
		return b.Files[0].Label()
	}
	return fmt.Sprintf("%d images, %s … %s", len(b.Files), b.Files[0].Label(), b.Files[len(b.Files)-1].Label())
}

// Release gives the pixels back to the decoder's pool. Calling it again does nothing; the
// images' sizes stay.
func (b *Batch) Release() {
	b.released.Do(func() {
		for i, d := range b.Files {
			d.Release()
			b.Images[i].Pix = nil
		}
		if b.kb != nil {
			b.kb.DropPixels()
		}
	})
}

// Work runs a kernels plan on Batches: a gpu.Work[*Batch], and Result for reading outputs.
type Work struct {
	Plan *kernels.Plan
}

var _ gpu.Work[*Batch] = Work{}

// Bind returns the function that gives the work of plan to each device, in the shape that
// device.Stage takes. The plan looks its kernels up on each device itself.
func Bind(plan *kernels.Plan) func(gpu.Device) (gpu.Work[*Batch], error) {
	return func(gpu.Device) (gpu.Work[*Batch], error) { return Work{plan}, nil }
}

// Sizes reports the bytes the batch needs on the device.
func (w Work) Sizes(b *Batch) (gpu.Sizes, error) { return w.Plan.Sizes(b.Kernels()) }

// Pack writes the batch's pixels and tables into the slot's host buffer.
func (w Work) Pack(b *Batch, host []byte) error { return w.Plan.Pack(b.Kernels(), host) }

// Enqueue launches the plan's kernels. The pixels are in the slot's pinned buffer by now
// (Pack ran before), so the batch is released here rather than when it comes out.
func (w Work) Enqueue(s gpu.Stream, b *Batch, bufs gpu.SlotBuffers) error {
	err := w.Plan.Enqueue(s, b.Kernels(), bufs)
	b.Release()
	return err
}

// Result copies the batch's outputs out of out, the slot's output bytes.
func (w Work) Result(b *Batch, out []byte) (kernels.Output, error) {
	return w.Plan.Result(b.Kernels(), out)
}

// Decode returns a function, in the shape pipeline.Map takes, that decodes a file with dec and
// checks that plan can make an output of it: a plan fails a whole batch when one of its
// images cannot be processed, so a bad image is better refused alone, before batching.
func Decode(dec *imageio.Decoder, plan *kernels.Plan) func(context.Context, walk.File) (*imageio.Decoded, error) {
	return func(ctx context.Context, f walk.File) (*imageio.Decoded, error) {
		d, err := dec.Decode(ctx, f)
		if err != nil {
			return nil, err
		}
		if _, err := plan.Shape(d.Image.Width, d.Image.Height, d.Image.Channels); err != nil {
			d.Release()
			return nil, fmt.Errorf("%s: %w", f.Label(), err)
		}
		return d, nil
	}
}

// ReleaseItem gives back the pixels held by an item that failed and was skipped: a *Batch or
// an *imageio.Decoded; other items are left alone. Call it from pipeline.SkipErrors handlers.
func ReleaseItem(item any) {
	switch it := item.(type) {
	case *Batch:
		it.Release()
	case *imageio.Decoded:
		it.Release()
	}
}
