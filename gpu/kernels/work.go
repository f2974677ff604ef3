package kernels

import (
	"fmt"
	"sync"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/raster"
)

// A Plan is the work the overlap engine drives, for batches of type *Batch and results of
// type Output: the engine asks Sizes, has Pack fill the slot's host buffer, copies it to the
// device, calls Enqueue, copies the outputs back and hands them to Result, which copies them
// out of the slot so that the slot can be reused at once. Views reads them in place instead.

// Batch is a group of images on its way through a plan: NewBatch makes one. The first call
// that needs the batch's layout (Sizes, usually) works it out from the images' sizes and
// keeps it, so that Pack, Enqueue and Result do not plan the batch again, and only Pack
// reads pixels: once Pack has returned, DropPixels lets them go. A Batch is laid out for the
// plan that asks; another plan asking lays it out again. Its methods are safe for concurrent
// use, but DropPixels must not race with Pack.
type Batch struct {
	images []raster.Image
	colors []*ColorMap // per image, for ToSRGB; nil when no image has one

	mu     sync.Mutex
	plan   *Plan // the plan layout belongs to
	layout *layout
}

// NewBatch makes a batch of images. The slice is copied; the pixels are not.
func NewBatch(images []raster.Image) *Batch {
	return &Batch{images: append([]raster.Image(nil), images...)}
}

// NewColorBatch makes a batch of images with the colour map of each (nil for an image that is
// sRGB or not colour-managed), which the chain's ToSRGB applies. Both slices are copied.
func NewColorBatch(images []raster.Image, colors []*ColorMap) (*Batch, error) {
	if len(colors) != len(images) {
		return nil, fmt.Errorf("kernels: NewColorBatch: %d colour maps for %d images", len(colors), len(images))
	}
	b := NewBatch(images)
	b.colors = append([]*ColorMap(nil), colors...)
	return b, nil
}

// Len is the number of images in the batch, which is the number of outputs.
func (b *Batch) Len() int { return len(b.images) }

// DropPixels forgets the batch's references to its images' pixels, so that the caller may
// give them back to a pool, or let them be collected, as soon as Pack has copied them. Sizes,
// Enqueue, Result and Views still work (they need only the sizes); Pack fails.
func (b *Batch) DropPixels() {
	for i := range b.images {
		b.images[i].Pix = nil
	}
}

// layoutFor returns b's layout under p, working it out the first time.
func (b *Batch) layoutFor(p *Plan) (*layout, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.plan == p && b.layout != nil {
		return b.layout, nil
	}
	l, err := p.plan(b.images, b.colors, false)
	if err != nil {
		return nil, err
	}
	b.plan, b.layout = p, l
	return l, nil
}

// Sizes reports the bytes batch b needs in a slot: In holds the pixels, the launch
// descriptions and the filter tables; Scratch the intermediate images; Out the results. An
// image the plan cannot process (see Shape) fails the batch.
func (p *Plan) Sizes(b *Batch) (gpu.Sizes, error) {
	l, err := b.layoutFor(p)
	if err != nil {
		return gpu.Sizes{}, err
	}
	return l.sizes, nil
}

// Pack writes batch b's input into host, which must hold Sizes(b).In bytes. It is the only
// method that reads the images' pixels.
func (p *Plan) Pack(b *Batch, host []byte) error {
	l, err := b.layoutFor(p)
	if err != nil {
		return err
	}
	return l.pack(b.images, host)
}

// Enqueue enqueues the plan's launches for batch b on s, reading bufs.In and writing bufs.Out
// (and bufs.Scratch). The kernels are looked up on s.Device() the first time the plan runs on
// that device, and kept in the plan: a plan holds a reference to every device it ran on.
func (p *Plan) Enqueue(s gpu.Stream, b *Batch, bufs gpu.SlotBuffers) error {
	l, err := b.layoutFor(p)
	if err != nil {
		return err
	}
	ks, err := p.kernelsOn(s.Device())
	if err != nil {
		return err
	}
	return l.enqueue(s, ks, bufs)
}

// Output is what a plan makes of a batch: one output per image, in order, as images, or as
// tensors when the plan ends with Normalize (Plan.Tensor).
type Output struct {
	Images  []raster.Image
	Tensors []raster.Tensor
}

// Result reads batch b's outputs from out, the bytes of the slot's Out buffer after the batch
// ran, and copies each into memory of its own, with compact rows: out may be reused as soon as
// Result returns. This one copy per output is all that leaving the slot costs.
func (p *Plan) Result(b *Batch, out []byte) (Output, error) {
	l, err := p.outputs(b, out)
	if err != nil {
		return Output{}, err
	}
	var o Output
	if p.tensor {
		o.Tensors = make([]raster.Tensor, len(l.outputs))
		for i, v := range l.outputs {
			t := raster.NewTensor(v.c, v.h, v.w)
			copy(floatBytes(t.Data), out[v.off:])
			o.Tensors[i] = t
		}
		return o, nil
	}
	o.Images = make([]raster.Image, len(l.outputs))
	for i, v := range l.outputs {
		m := raster.Image{Pix: make([]byte, v.stride*v.h), Width: v.w, Height: v.h, Stride: v.stride, Channels: v.c}
		copy(m.Pix, out[v.off:])
		o.Images[i] = m
	}
	return o, nil
}

// Views reads batch b's outputs in place: the images or tensors it returns are views into
// out, valid while out is (for a slot's buffer, until the slot is released). Nothing is
// copied. Tensors need out to be 4-byte aligned, as a slot's buffers are.
func (p *Plan) Views(b *Batch, out []byte) (Output, error) {
	l, err := p.outputs(b, out)
	if err != nil {
		return Output{}, err
	}
	return l.views(p.tensor, out)
}

// outputs is b's layout, checked against the output bytes out.
func (p *Plan) outputs(b *Batch, out []byte) (*layout, error) {
	l, err := b.layoutFor(p)
	if err != nil {
		return nil, err
	}
	if len(out) < l.sizes.Out {
		return nil, fmt.Errorf("kernels: %d output bytes for a batch that makes %d", len(out), l.sizes.Out)
	}
	return l, nil
}

// views returns the layout's outputs as views into out.
func (l *layout) views(tensor bool, out []byte) (Output, error) {
	var o Output
	if tensor {
		o.Tensors = make([]raster.Tensor, len(l.outputs))
		for i, v := range l.outputs {
			data, err := float32s(out[v.off:], v.c*v.w*v.h)
			if err != nil {
				return Output{}, fmt.Errorf("kernels: output %d: %w", i, err)
			}
			o.Tensors[i] = raster.Tensor{Data: data, Channels: v.c, Height: v.h, Width: v.w}
		}
		return o, nil
	}
	o.Images = make([]raster.Image, len(l.outputs))
	for i, v := range l.outputs {
		o.Images[i] = raster.Image{Pix: out[v.off : v.off+int64(v.stride*v.h)], Width: v.w, Height: v.h, Stride: v.stride, Channels: v.c}
	}
	return o, nil
}

// kernelsOn returns the plan's kernels prepared on dev, looking them up the first time.
func (p *Plan) kernelsOn(dev gpu.Device) (map[*kernelDef]gpu.Kernel, error) {
	if dev == nil {
		return nil, fmt.Errorf("kernels: Enqueue: the stream has no device")
	}
	if ks, ok := p.bound.Load(dev); ok {
		return ks.(map[*kernelDef]gpu.Kernel), nil
	}
	ks := map[*kernelDef]gpu.Kernel{}
	for _, s := range p.steps {
		for _, def := range s.kernels() {
			if ks[def] != nil {
				continue
			}
			k, err := dev.Kernel(def.name)
			if err != nil {
				return nil, fmt.Errorf("kernels: %v on %s: %w", p.chain, dev.Name(), err)
			}
			ks[def] = k
		}
	}
	got, _ := p.bound.LoadOrStore(dev, ks)
	return got.(map[*kernelDef]gpu.Kernel), nil
}

func (l *layout) pack(b []raster.Image, host []byte) error {
	if len(host) < l.sizes.In {
		return fmt.Errorf("kernels: Pack: %d-byte buffer for a %d-byte input", len(host), l.sizes.In)
	}
	if len(b) != len(l.inputs) {
		return fmt.Errorf("kernels: Pack: %d images for a layout of %d", len(b), len(l.inputs))
	}
	for i, m := range b {
		v := l.inputs[i]
		if err := m.Check(); err != nil {
			if m.Pix == nil {
				return fmt.Errorf("image %d: %w: no pixels (dropped before Pack?)", i, raster.ErrImage)
			}
			return fmt.Errorf("image %d: %w", i, err)
		}
		if m.Width != v.w || m.Height != v.h || m.Channels != v.c {
			return fmt.Errorf("image %d: %w: %d×%d×%d, laid out as %d×%d×%d", i, raster.ErrImage, m.Width, m.Height, m.Channels, v.w, v.h, v.c)
		}
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
			return fmt.Errorf("kernels: Enqueue: kernel %s was not looked up", pl.k.name)
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

// Shape reports the shape of the output the plan makes from a w×h image with c channels,
// or why it cannot. A batch fails as a whole when one of its images fails, so a stage that
// wants to skip bad images checks them with Shape before it batches them.
func (p *Plan) Shape(w, h, c int) (Shape, error) {
	l, err := p.plan([]raster.Image{{Width: w, Height: h, Channels: c, Stride: w * c}}, nil, true)
	if err != nil {
		return Shape{}, err
	}
	v := l.outputs[0]
	return Shape{Width: v.w, Height: v.h, Channels: v.c, Tensor: v.tensor}, nil
}
