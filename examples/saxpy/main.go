// Saxpy runs a CUDA kernel of its own, out = a·x + y, over a stream of vectors. Its parts:
//
//   - saxpy.cu, the kernel in CUDA C, and saxpy.ptx, its PTX, made by go generate (nvcc),
//     committed and embedded, so that building needs no CUDA toolkit;
//   - saxpyHost, its Go twin, which the CPU device runs on every core;
//   - the registration of both forms under one name;
//   - saxpy, the engine's Work: it packs a batch, launches the kernel and turns the slot's
//     output into a []float32;
//   - saxpyOn, the stage: two batches in flight, results in input order, every slot given
//     back by the engine itself.
//
// main_test.go checks the device's results against a·x + y computed on the host.
//
//	go run ./examples/saxpy            # the CPU device
//	go run -tags cuda ./examples/saxpy # a GPU, when there is one
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log"
	"slices"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/device"
	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/pipeline"
)

// The flags are gpu/kernels': compute_75 PTX, which the driver compiles for the GPU it finds,
// and arithmetic rounded as written, so that the GPU computes the Go twin's bits.
//
//go:generate nvcc -ptx -arch=compute_75 -fmad=false -prec-div=true -prec-sqrt=true -ftz=false -o saxpy.ptx saxpy.cu
//go:embed saxpy.ptx
var saxpyPTX []byte

// saxpyHost is the kernel's Go twin: one Scan reads the launch's arguments, ParallelFor
// spreads the threads that exist over every core. Go's bounds checks turn a launch past the
// buffers into a device fault.
func saxpyHost(l *gpu.HostLaunch) error {
	var out, x, y []float32
	var a float32
	var n int32
	if err := l.Scan(&out, &x, &y, &a, &n); err != nil {
		return err
	}
	gpu.ParallelFor(min(int(n), l.Grid.Count()*l.Block.Count()), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = float32(a*x[i]) + y[i]
		}
	})
	return nil
}

// errRegister is the registration of both forms of the kernel, once per process: a device
// runs whichever it can. Args are the C parameters' kinds; a launch with others is refused.
var errRegister = gpu.RegisterKernel(gpu.KernelSpec{Name: "example_saxpy", PTX: saxpyPTX, Host: saxpyHost,
	Args: []gpu.ArgKind{gpu.KindPtr, gpu.KindPtr, gpu.KindPtr, gpu.KindFloat32, gpu.KindInt32}})

// vectors is one batch.
type vectors struct{ x, y []float32 }

// saxpy is the engine's Work: vectors in, a·x + y out as a []float32. x and y travel in one
// upload. One Work serves every device: the kernel is found on the stream's.
type saxpy struct{ a float32 }

func (saxpy) Sizes(v vectors) (gpu.Sizes, error) {
	return gpu.Sizes{In: 8 * len(v.x), Out: 4 * len(v.x)}, nil
}

func (saxpy) Pack(v vectors, host []byte) error {
	h, err := gpu.Float32s(host)
	copy(h[copy(h, v.x):], v.y)
	return err
}

func (w saxpy) Enqueue(s gpu.Stream, v vectors, b gpu.SlotBuffers) error {
	k, err := s.Device().Kernel("example_saxpy")
	if err != nil {
		return err
	}
	grid, block := gpu.Grid1D(len(v.x), 256)
	return s.Launch(k, grid, block, gpu.Ptr(b.Out, 0), gpu.Ptr(b.In, 0), gpu.Ptr(b.In, 4*len(v.x)), gpu.Float32(w.a), gpu.Int32(int32(len(v.x))))
}

// Result copies the output out of the slot, which goes back to the engine when it returns.
func (saxpy) Result(_ vectors, out []byte) ([]float32, error) {
	y, err := gpu.Float32s(out)
	return slices.Clone(y), err
}

// saxpyOn computes a·x + y for every batch on the device named name ("auto": a GPU in a
// build with -tags cuda, else the CPU), with two batches in flight, in input order.
func saxpyOn(name string, a float32, in []vectors) ([][]float32, error) {
	dev, err := device.Open(name)
	if err = errors.Join(err, errRegister); err != nil {
		return nil, err
	}
	defer dev.Close()
	p := pipeline.New()
	outs := pipeline.Collect(engine.Stage(pipeline.FromSlice(p, in), []gpu.Device{dev}, saxpy{a}, engine.Options{Slots: 2}))
	err = p.Run(context.Background())
	return outs.Value(), err
}

func main() {
	out, err := saxpyOn("auto", 2, []vectors{{[]float32{1, 2, 3}, []float32{10, 20, 30}}, {[]float32{4, 5}, []float32{0.5, -1}}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("2·x + y:", out)
}
