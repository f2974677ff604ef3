package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/device"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/imagebatch"
	"github.com/gpupipe/gpupipe/stages/npy"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// process adds the stages from decoding to writing.
func (r *run) process(files *pipeline.Stream[walk.File]) {
	cfg := r.cfg
	decoded := pipeline.OrderedMap(files, imagebatch.Decode(r.decoder, r.plan), pipeline.Name("decode"),
		pipeline.Workers(cfg.DecodeWorkers), pipeline.Window(4*cfg.DecodeWorkers), pipeline.SkipErrors(r.fail))
	// Batches of decoded images are the bulk of the memory, so they are handed on without
	// queueing: a batch held by the stage before the device is already one batch ready.
	groups := pipeline.Batch(decoded, cfg.Batch, batchWait, pipeline.Name("batch"))
	batches := pipeline.Map(groups, imagebatch.New, pipeline.Name("pack"), pipeline.Buffer(0))
	done := device.Stage(batches, r.devs, imagebatch.Bind(r.plan), gpu.EngineOptions{Slots: cfg.Slots},
		pipeline.Name("gpu"), pipeline.SkipErrors(r.fail), pipeline.Buffer(0))
	if cfg.Tensors != nil {
		rows := pipeline.FlatMap(done, r.unpackRows, pipeline.Name("unpack"))
		pipeline.ForEach(rows, r.writeRow, pipeline.Name("write"), pipeline.Buffer(cfg.Batch))
		return
	}
	outs := pipeline.FlatMap(done, r.unpackImages, pipeline.Name("unpack"))
	pipeline.ForEach(outs, r.writeImage, pipeline.Name("write"), pipeline.Workers(cfg.EncodeWorkers),
		pipeline.Buffer(2*cfg.EncodeWorkers), pipeline.SkipErrors(r.fail))
}

// outImage is one output image, copied out of its slot so the slot can be reused at once.
type outImage struct {
	file walk.File
	img  raster.Image
}

func (o outImage) Label() string { return o.file.Label() }

// unpackImages splits a finished batch into its images, copied out of the slot, and gives
// the slot back.
func (r *run) unpackImages(ctx context.Context, d *gpu.Done[*imagebatch.Batch], emit func(outImage) error) error {
	defer d.Release()
	defer d.Batch.Release()
	res, err := r.plan.Result(d.Batch.Kernels(), d.Out)
	if err != nil {
		return err
	}
	for i, img := range res.Images {
		if err := emit(outImage{file: d.Batch.Files[i].File, img: img}); err != nil {
			return err
		}
	}
	return nil
}

// writeImage encodes one image and writes it atomically. A full disk stops the run: every
// later file would fail the same way.
func (r *run) writeImage(ctx context.Context, o outImage) error {
	_, err := r.writer.Write(ctx, o.file, func(w io.Writer) error { return r.encoder.Encode(w, o.img) })
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return pipeline.Fatal(err)
	}
	if err == nil {
		r.rec.Done()
	}
	return err
}

// row is one tensor-shard row, float32 values or bytes, and the file it came from.
type row struct {
	floats []float32
	pix    []byte
	source string
}

// unpackRows turns a finished batch into shard rows, in order, copied out of the slot.
func (r *run) unpackRows(ctx context.Context, d *gpu.Done[*imagebatch.Batch], emit func(row) error) error {
	defer d.Release()
	defer d.Batch.Release()
	res, err := r.plan.Result(d.Batch.Kernels(), d.Out)
	if err != nil {
		return err
	}
	for i, t := range res.Tensors {
		if err := emit(row{floats: t.Data, source: d.Batch.Files[i].File.Path()}); err != nil {
			return err
		}
	}
	for i, img := range res.Images {
		if err := emit(row{pix: img.Pix, source: d.Batch.Files[i].File.Path()}); err != nil {
			return err
		}
	}
	return nil
}

// writeRow appends a row to the shards. Every row has the chain's fixed shape (fixedShape
// checked it), so a failure here is the disk's and stops the run.
func (r *run) writeRow(ctx context.Context, rw row) error {
	var err error
	if rw.floats != nil {
		err = r.shards.AddFloat32s(rw.floats, rw.source)
	} else {
		err = r.shards.Add(rw.pix, rw.source)
	}
	if err != nil {
		return pipeline.Fatal(err)
	}
	r.rec.Done()
	return nil
}

// openShards creates the shard writer for the chain's output size.
func (r *run) openShards() error {
	t := r.cfg.Tensors
	shape, err := r.fixedShape()
	if err != nil {
		return err
	}
	layout := npy.HWCUint8
	if r.plan.Tensor() {
		layout = npy.CHWFloat32
	}
	if t.Layout != layout {
		return fmt.Errorf("tensor layout %v does not match the operations, which make %v rows", t.Layout, layout)
	}
	prefix := t.Prefix
	if prefix == "" {
		prefix = "shard"
	}
	r.shards, err = npy.NewShardWriter(npy.Options{
		Dir: r.cfg.Output, Prefix: prefix, Layout: layout, RowsPerShard: t.RowsPerShard,
		Height: shape.Height, Width: shape.Width, Channels: shape.Channels, Overwrite: r.cfg.Overwrite,
	})
	return err
}

// fixedShape is the output shape of the chain, which must not depend on the input's size.
func (r *run) fixedShape() (kernels.Shape, error) {
	channels := r.cfg.Channels
	if channels == 0 {
		channels = 3
	}
	if s, ok := r.plan.FixedShape(channels); ok {
		return s, nil
	}
	return kernels.Shape{}, fmt.Errorf("tensor shards need one output size, but the size of what the operations %q make depends on the input's: end them with a fixed size (resize=WxH, fill=WxH, or centercrop=WxH after shorter=S)",
		r.cfg.Ops.Chain.String())
}
