package main

import (
	"context"
	"fmt"
	"sync"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/pipeline"
)

// Approach 3, the seed's Example 3: one process. Batches of images go through a gpupipe
// pipeline on the CPU device: the overlap engine packs each batch into a slot's host buffer,
// copies it to the device, runs the two kernels (normalize into scratch, convolve into the
// output), copies the result back, and the sink stores it. Both kernels use all cores.

// span is a batch: images lo to hi−1.
type span struct{ lo, hi int }

func (s span) Label() string { return fmt.Sprintf("images %d-%d", s.lo, s.hi-1) }

const (
	normalizeKernel = "seed_normalize"
	convolveKernel  = "seed_convolve"
)

var registerKernels = sync.OnceValue(func() error {
	args := []gpu.ArgKind{gpu.KindPtr, gpu.KindPtr, gpu.KindInt32}
	if err := gpu.RegisterKernel(gpu.KernelSpec{Name: normalizeKernel, Host: imagesKernel(normalize), Args: args}); err != nil {
		return err
	}
	return gpu.RegisterKernel(gpu.KernelSpec{Name: convolveKernel, Host: imagesKernel(convolve), Args: args})
})

// imagesKernel makes a kernel's Go implementation, kernel(dst, src, n), that applies f to
// each of n images on all cores.
func imagesKernel(f func(dst, src []float32)) gpu.HostFunc {
	return func(l *gpu.HostLaunch) error {
		dm, err := l.Mem(0)
		if err != nil {
			return err
		}
		sm, err := l.Mem(1)
		if err != nil {
			return err
		}
		n, err := l.Int32(2)
		if err != nil {
			return err
		}
		if n < 0 || int(n)*imageSize > min(len(dm), len(sm)) {
			return fmt.Errorf("%w: %d images do not fit the buffers", gpu.ErrOutOfRange, n)
		}
		dst, _ := gpu.Float32s(dm[:int(n)*imageSize])
		src, _ := gpu.Float32s(sm[:int(n)*imageSize])
		forImages(int(n), 0, func(i, _ int, _ []float32) {
			f(dst[i*imageLen:(i+1)*imageLen], src[i*imageLen:(i+1)*imageLen])
		})
		return nil
	}
}

// imagesWork is the engine.Work of one batch of images: its Result copies the batch's
// output into out.
type imagesWork struct {
	in, out             []float32
	normalize, convolve gpu.Kernel
}

func (w imagesWork) Sizes(s span) (gpu.Sizes, error) {
	n := (s.hi - s.lo) * imageSize
	return gpu.Sizes{In: n, Out: n, Scratch: n}, nil
}

func (w imagesWork) Pack(s span, host []byte) error {
	copy(host, floatBytes(w.in[s.lo*imageLen:s.hi*imageLen]))
	return nil
}

func (w imagesWork) Enqueue(st gpu.Stream, s span, bufs gpu.SlotBuffers) error {
	n := gpu.Int32(int32(s.hi - s.lo))
	one := gpu.Dim3{X: 1}
	if err := st.Launch(w.normalize, one, one, gpu.Ptr(bufs.Scratch, 0), gpu.Ptr(bufs.In, 0), n); err != nil {
		return err
	}
	return st.Launch(w.convolve, one, one, gpu.Ptr(bufs.Out, 0), gpu.Ptr(bufs.Scratch, 0), n)
}

func (w imagesWork) Result(s span, out []byte) (span, error) {
	copy(floatBytes(w.out[s.lo*imageLen:s.hi*imageLen]), out)
	return s, nil
}

func runPipeline(in, out []float32, n, batch, slots int) error {
	if err := registerKernels(); err != nil {
		return err
	}
	dev, err := cpu.New()
	if err != nil {
		return err
	}
	defer dev.Close()
	work := imagesWork{in: in, out: out}
	if work.normalize, err = dev.Kernel(normalizeKernel); err != nil {
		return err
	}
	if work.convolve, err = dev.Kernel(convolveKernel); err != nil {
		return err
	}
	var spans []span
	for lo := 0; lo < n; lo += batch {
		spans = append(spans, span{lo, min(lo+batch, n)})
	}
	p := pipeline.New()
	done := engine.Stage(pipeline.FromSlice(p, spans), []gpu.Device{dev}, work, engine.Options{Slots: slots}, pipeline.Name("cpu-device"))
	pipeline.Discard(done)
	return p.Run(context.Background())
}

// floatBytes views float32s as their bytes, in the machine's byte order, as the device does.
func floatBytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}
