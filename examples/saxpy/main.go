// Saxpy runs a CUDA kernel of its own, out = a·x + y, over a stream of vectors: the kernel in
// CUDA C (saxpy.cu, its PTX embedded), its Go twin for the CPU device, and the Work that
// packs a batch, launches the kernel and turns the slot's output into a []float32. The
// engine keeps two batches in flight and gives each slot back by itself.
//
//	go run ./examples/saxpy                    # the CPU device
//	go run -tags cuda ./examples/saxpy -device cuda
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/device"
	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/pipeline"
)

//go:generate nvcc -ptx -arch=compute_75 -fmad=false -prec-div=true -prec-sqrt=true -ftz=false -o saxpy.ptx saxpy.cu
//go:embed saxpy.ptx
var saxpyPTX []byte

// saxpyHost is the kernel's Go twin, which the CPU device runs on every core.
func saxpyHost(l *gpu.HostLaunch) error {
	var out, x, y []float32
	var a float32
	var n int32
	if err := l.Scan(&out, &x, &y, &a, &n); err != nil {
		return err
	}
	n = min(n, int32(l.Grid.Count()*l.Block.Count())) // the threads that exist
	if int(n) > min(len(out), len(x), len(y)) {
		return fmt.Errorf("%w: saxpy over %d elements", gpu.ErrOutOfRange, n)
	}
	gpu.ParallelFor(int(n), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = float32(a*x[i]) + y[i]
		}
	})
	return nil
}

// register makes both forms of the kernel known under one name, once per process.
var register = sync.OnceValue(func() error {
	return gpu.RegisterKernel(gpu.KernelSpec{Name: "example_saxpy", PTX: saxpyPTX, Host: saxpyHost,
		Args: []gpu.ArgKind{gpu.KindPtr, gpu.KindPtr, gpu.KindPtr, gpu.KindFloat32, gpu.KindInt32}})
})

// vectors is one batch: a·x + y is what the device computes.
type vectors struct {
	a    float32
	x, y []float32
}

// saxpy is the engine's Work: vectors in, []float32 out.
type saxpy struct{}

func (saxpy) Sizes(v vectors) (gpu.Sizes, error) {
	return gpu.Sizes{In: 8 * len(v.x), Out: 4 * len(v.x)}, nil
}

func (saxpy) Pack(v vectors, host []byte) error {
	h, err := gpu.Float32s(host)
	copy(h[copy(h, v.x):], v.y)
	return err
}

func (saxpy) Enqueue(s gpu.Stream, v vectors, b gpu.SlotBuffers) error {
	k, err := s.Device().Kernel("example_saxpy")
	if err != nil {
		return err
	}
	n := len(v.x)
	grid, block := gpu.Grid1D(n, 256)
	return s.Launch(k, grid, block, gpu.Ptr(b.Out, 0), gpu.Ptr(b.In, 0), gpu.Ptr(b.In, 4*n), gpu.Float32(v.a), gpu.Int32(int32(n)))
}

func (saxpy) Result(_ vectors, out []byte) ([]float32, error) {
	v, err := gpu.Float32s(out)
	return slices.Clone(v), err
}

func main() {
	name := flag.String("device", "auto", "device: auto, cpu, cuda or cuda:N")
	batches := flag.Int("batches", 64, "vectors to compute")
	flag.Parse()
	if err := run(context.Background(), *name, *batches); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, name string, batches int) error {
	dev, err2 := device.Open(name)
	if err := errors.Join(register(), err2); err != nil {
		return err
	}
	defer dev.Close()
	p := pipeline.New()
	in := make([]vectors, batches)
	for i := range in {
		in[i] = vectors{a: rand.Float32(), x: random(1 << 16), y: random(1 << 16)}
	}
	outs := engine.Stage(pipeline.FromSlice(p, in), []gpu.Device{dev}, saxpy{}, engine.Options{Slots: 2})
	got := pipeline.Collect(outs)
	if err := p.Run(ctx); err != nil {
		return err
	}
	for i, out := range got.Value() {
		for j, v := range in[i].x {
			if want := float32(in[i].a*v) + in[i].y[j]; out[j] != want {
				return fmt.Errorf("vector %d, element %d: got %v, want %v", i, j, out[j], want)
			}
		}
	}
	fmt.Printf("%d vectors of %d computed on %s, all equal to the host's\n", batches, 1<<16, dev.Name())
	return nil
}

func random(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = rand.Float32()*2 - 1
	}
	return v
}
