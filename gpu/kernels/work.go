package kernels

import (
	"fmt"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Work runs a Plan on one device: it implements gpu.Work for batches of images, for the
// overlap engine. Its kernels are looked up once, by Bind. A Work keeps no state between calls
// and is safe for concurrent use.
type Work struct {
	plan    *Plan
	kernels map[*kernelDef]gpu.Kernel
}

var _ gpu.Work[[]raster.Image] = (*Work)(nil)

// Bind prepares the plan's kernels on dev.
func (p *Plan) Bind(dev gpu.Device) (*Work, error) {
	w := &Work{plan: p, kernels: map[*kernelDef]gpu.Kernel{}}
	for _, s := range p.steps {
		for _, def := range s.kernels() {
			if w.kernels[def] != nil {
				continue
			}
			k, err := dev.Kernel(def.name)
			if err != nil {
				return nil, fmt.Errorf("kernels: binding %v: %w", p.chain, err)
			}
			w.kernels[def] = k
		}
	}
	return w, nil
}

// Plan returns the plan w runs.
func (w *Work) Plan() *Plan { return w.plan }

// Sizes reports the bytes batch b needs: In holds the pixels, the launch descriptions and the
// filter tables; Scratch the intermediate images; Out the results.
func (w *Work) Sizes(b []raster.Image) (gpu.Sizes, error) {
	l, err := w.plan.layout(b)
	if err != nil {
		return gpu.Sizes{}, err
	}
	return l.sizes, nil
}

// Pack writes batch b's input into host, which must hold Sizes(b).In bytes.
func (w *Work) Pack(b []raster.Image, host []byte) error {
	l, err := w.plan.layout(b)
	if err != nil {
		return err
	}
	return l.pack(b, host)
}

// Enqueue enqueues the plan's launches for batch b on s, reading bufs.In and writing bufs.Out.
func (w *Work) Enqueue(s gpu.Stream, b []raster.Image, bufs gpu.SlotBuffers) error {
	l, err := w.plan.layout(b)
	if err != nil {
		return err
	}
	return l.enqueue(s, w.kernels, bufs)
}

func (l *layout) pack(b []raster.Image, host []byte) error {
	if len(host) < l.sizes.In {
		return fmt.Errorf("kernels: Pack: %d-byte buffer for a %d-byte input", len(host), l.sizes.In)
	}
	for i, m := range b {
		v := l.inputs[i]
		row := rowBytes(m)
		for y := range m.Height {
			copy(host[v.off+int64(y*v.stride):][:row], m.Pix[y*m.Stride:])
		}
	}
	for _, t := range l.tables {
		copy(host[t.at:], t.data)
	}
	for _, pl := range l.launches {
		encodeJobs(host[pl.jobsAt:], pl.jobs)
	}
	return nil
}

func (l *layout) enqueue(s gpu.Stream, kernels map[*kernelDef]gpu.Kernel, bufs gpu.SlotBuffers) error {
	bufOf := [3]gpu.DeviceBuffer{bufIn: bufs.In, bufScratch: bufs.Scratch, bufOut: bufs.Out}
	need := [3]int{l.sizes.In, l.sizes.Scratch, l.sizes.Out}
	for i, n := range need {
		if n > 0 && (bufOf[i] == nil || bufOf[i].Len() < n) {
			return fmt.Errorf("kernels: Enqueue: slot buffer %d is missing or smaller than %d bytes", i, n)
		}
	}
	for _, pl := range l.launches {
		if pl.grid == 0 {
			continue
		}
		k := kernels[pl.k]
		if k == nil {
			return fmt.Errorf("kernels: Enqueue: kernel %s was not bound", pl.k.name)
		}
		err := s.Launch(k, gpu.Dim3{X: pl.grid}, gpu.Dim3{X: blockSize},
			gpu.Ptr(bufs.In, int(pl.jobsAt)), gpu.Int32(int32(len(pl.jobs))),
			gpu.Ptr(bufOf[areaBuffer[pl.src]], 0), gpu.Ptr(bufOf[areaBuffer[pl.dst]], 0), gpu.Ptr(bufOf[areaBuffer[pl.tab]], 0))
		if err != nil {
			return err
		}
	}
	return nil
}

// Images returns views of batch b's output images inside out, the bytes of the Out buffer
// after the batch ran. Only b's sizes are read, so its pixels may be gone. Nothing is
// copied: the views are valid while out is.
func (p *Plan) Images(b []raster.Image, out []byte) ([]raster.Image, error) {
	if p.tensor {
		return nil, fmt.Errorf("kernels: the plan %v makes tensors, not images", p.chain)
	}
	l, err := p.outputs(b, out)
	if err != nil {
		return nil, err
	}
	ims := make([]raster.Image, len(l.outputs))
	for i, v := range l.outputs {
		ims[i] = raster.Image{Pix: out[v.off : v.off+int64(v.stride*v.h)], Width: v.w, Height: v.h, Stride: v.stride, Channels: v.c}
	}
	return ims, nil
}

// Tensors returns views of batch b's output tensors inside out, the bytes of the Out buffer
// after the batch ran. Nothing is copied: the views are valid while out is.
func (p *Plan) Tensors(b []raster.Image, out []byte) ([]raster.Tensor, error) {
	if !p.tensor {
		return nil, fmt.Errorf("kernels: the plan %v makes images, not tensors", p.chain)
	}
	l, err := p.outputs(b, out)
	if err != nil {
		return nil, err
	}
	ts := make([]raster.Tensor, len(l.outputs))
	for i, v := range l.outputs {
		data, err := float32s(out[v.off:], v.c*v.w*v.h)
		if err != nil {
			return nil, fmt.Errorf("kernels: output %d: %w", i, err)
		}
		ts[i] = raster.Tensor{Data: data, Channels: v.c, Height: v.h, Width: v.w}
	}
	return ts, nil
}

// Shape is the size of an output: an image of Channels channels, or a tensor of Channels
// planes.
type Shape struct {
	Width, Height, Channels int
	Tensor                  bool
}

// Bytes is the size of the output in bytes.
func (s Shape) Bytes() int {
	n := s.Width * s.Height * s.Channels
	if s.Tensor {
		return 4 * n
	}
	return n
}

// Output reports the shape of the output the plan makes from a w×h image with c channels,
// or why it cannot. A batch fails as a whole when one of its images fails, so a stage that
// wants to skip bad images checks them with Output before it batches them.
func (p *Plan) Output(w, h, c int) (Shape, error) {
	l, err := p.plan([]raster.Image{{Width: w, Height: h, Channels: c, Stride: w * c}}, true)
	if err != nil {
		return Shape{}, err
	}
	v := l.outputs[0]
	return Shape{Width: v.w, Height: v.h, Channels: v.c, Tensor: v.tensor}, nil
}

// outputs lays out batch b for reading its outputs: only the images' sizes matter, so their
// pixels may already have been released.
func (p *Plan) outputs(b []raster.Image, out []byte) (*layout, error) {
	l, err := p.plan(b, true)
	if err != nil {
		return nil, err
	}
	if len(out) < l.sizes.Out {
		return nil, fmt.Errorf("kernels: %d output bytes for a batch that makes %d", len(out), l.sizes.Out)
	}
	return l, nil
}
