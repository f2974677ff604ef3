package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/blob"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/npy"
	"github.com/gpupipe/gpupipe/stages/output"
	"github.com/gpupipe/gpupipe/stages/process"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// process adds the stages from decoding to writing.
func (r *run) process(files *pipeline.Stream[walk.File]) {
	cfg := r.cfg
	// One goroutine admits files against the memory budget, in input order (memory.go).
	admitted := pipeline.Map(files, r.admit, pipeline.Name("read"), pipeline.SkipErrors(r.fail))
	// Tensor rows keep the input order; images are written each to its own file, so any
	// decoder that is free takes the next one, however long an earlier one takes.
	decodeOpts := []pipeline.Option{pipeline.Name("decode"), pipeline.Workers(cfg.DecodeWorkers), pipeline.SkipErrors(r.fail)}
	var decoded *pipeline.Stream[*imageio.Decoded]
	if cfg.Tensors != nil {
		decoded = pipeline.OrderedMap(admitted, r.decode, append(decodeOpts, pipeline.Window(4*cfg.DecodeWorkers))...)
	} else {
		decoded = pipeline.Map(admitted, r.decode, decodeOpts...)
	}
	opts := process.Options{Batch: cfg.Batch, MaxBatchBytes: r.mem.batchBytes(r.hostDevice()),
		Engine: engine.Options{Slots: cfg.Slots, Keep: r.mem.keep}, OnError: r.fail}
	if cfg.Color == ColorSRGB {
		opts.Color = r.colorMap
	}
	results := process.Images(decoded, r.devs, r.plan, opts)
	if cfg.Tensors != nil {
		pipeline.ForEach(results, r.writeRow, pipeline.Name("write"), pipeline.Buffer(cfg.Batch))
		return
	}
	pipeline.ForEach(results, r.writeImage, pipeline.Name("write"), pipeline.Workers(cfg.EncodeWorkers),
		pipeline.Buffer(2*cfg.EncodeWorkers), pipeline.SkipErrors(r.fail))
}

// writeImage encodes one image and writes it atomically. A full disk stops the run: every
// later file would fail the same way. An output that appeared since the pending stage found
// none is already there: the plan made sure no other input of this run makes it, so another
// run (on the same folder at the same time) did.
func (r *run) writeImage(ctx context.Context, o process.Result) error {
	defer o.Release() // the image's memory charge
	_, err := r.out.Write(ctx, o.Source.File, func(w io.Writer) error {
		return r.encoder.EncodeMetadata(w, o.Image, r.metadata(o.Source))
	})
	switch {
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
		return pipeline.Fatal(err)
	case r.sink != nil && err != nil && blob.Fatal(err):
		return pipeline.Fatal(err) // access refused or no bucket: every write would fail
	case errors.Is(err, output.ErrExists):
		r.skipped()
		r.settle(o.Source.File.Path(), nil)
		return nil
	case err == nil:
		r.rec.Done()
		r.settle(o.Source.File.Path(), nil)
	}
	return err
}

// writeRow appends a result to the shards as a row. Every row has the chain's fixed shape
// (fixedShape checked it), so a failure here is the disk's and stops the run. Rows count as
// done when their shard is committed (OnCommit), not here: a cancelled run drops its open
// shard.
func (r *run) writeRow(ctx context.Context, res process.Result) error {
	defer res.Release() // the image's memory charge
	var err error
	if res.Tensor.Data != nil {
		err = r.shards.AddFloat32s(res.Tensor.Data, res.Source.File.Path())
	} else {
		err = r.shards.Add(res.Image.Pix, res.Source.File.Path())
	}
	if err != nil {
		return pipeline.Fatal(err)
	}
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
	if s := r.cfg.Shard; s.Count > 1 {
		prefix += fmt.Sprintf("-s%dof%d", s.Index, s.Count)
	}
	r.shards, err = npy.NewShardWriter(npy.Options{
		Dir: r.cfg.Output, Prefix: prefix, Layout: layout, RowsPerShard: t.RowsPerShard,
		Height: shape.Height, Width: shape.Width, Channels: shape.Channels, Overwrite: r.cfg.Overwrite,
		Config: r.rowConfig(), OnCommit: func(rows []string) { r.rec.AddDone(len(rows)) },
	})
	if errors.Is(err, npy.ErrNotResumable) {
		return fmt.Errorf("%w; run with --overwrite to replace them", err)
	}
	return err
}

// rowConfig is what makes the rows, which a resumed run must share: the operations, the
// channels and the input.
func (r *run) rowConfig() string {
	return fmt.Sprintf("ops=%s channels=%d in=%s ext=%s", r.cfg.Chain.String(), r.cfg.Channels,
		strings.Join(r.cfg.Inputs, ","), strings.Join(r.cfg.Exts, ","))
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
		r.cfg.Chain.String())
}
