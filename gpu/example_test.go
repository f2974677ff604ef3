package gpu_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/pipeline"
)

// square is a Work that squares a batch of float32 values with one kernel launch.
type square struct{ k gpu.Kernel }

func (square) Sizes(xs []float32) (gpu.Sizes, error) {
	return gpu.Sizes{In: 4 * len(xs), Out: 4 * len(xs)}, nil
}

func (square) Pack(xs []float32, host []byte) error {
	f, err := gpu.Float32s(host)
	copy(f, xs)
	return err
}

func (w square) Enqueue(s gpu.Stream, xs []float32, bufs gpu.SlotBuffers) error {
	grid, block := gpu.Grid1D(len(xs), 256)
	return s.Launch(w.k, grid, block, gpu.Ptr(bufs.Out, 0), gpu.Ptr(bufs.In, 0), gpu.Int32(int32(len(xs))))
}

// squareHost is the kernel's Go implementation, which the CPU device runs.
func squareHost(l *gpu.HostLaunch) error {
	out, _ := l.Mem(0)
	in, _ := l.Mem(1)
	n, err := l.Int32(2)
	if err != nil {
		return err
	}
	o, _ := gpu.Float32s(out[:4*n])
	x, err := gpu.Float32s(in[:4*n])
	for i := range x {
		o[i] = x[i] * x[i]
	}
	return err
}

// registerSquare registers the kernel once per process (examples may run in any order).
var registerSquare = sync.OnceValue(func() error {
	return gpu.RegisterKernel(gpu.KernelSpec{
		Name: "example_square",
		Host: squareHost,
		Args: []gpu.ArgKind{gpu.KindPtr, gpu.KindPtr, gpu.KindInt32},
	})
})

func squareKernel(dev gpu.Device) (gpu.Kernel, error) {
	if err := registerSquare(); err != nil {
		return nil, err
	}
	return dev.Kernel("example_square")
}

func ExampleStage() {
	dev, err := cpu.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Close()
	k, err := squareKernel(dev)
	if err != nil {
		fmt.Println(err)
		return
	}

	p := pipeline.New()
	batches := pipeline.FromSlice(p, [][]float32{{1, 2, 3}, {4, 5}, {6}})
	done := gpu.Stage(batches, dev, square{k}, gpu.EngineOptions{Slots: 2}, pipeline.Name("square"))
	pipeline.ForEach(done, func(_ context.Context, d *gpu.Done[[]float32]) error {
		defer d.Release() // hands the slot back; d.Out is not valid after it
		out, err := gpu.Float32s(d.Out)
		fmt.Println(d.Seq, d.Batch, "→", out)
		return err
	})
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 0 [1 2 3] → [1 4 9]
	// 1 [4 5] → [16 25]
	// 2 [6] → [36]
}

// The engine without a pipeline: one goroutine submits, another takes results in order. The
// producer writes straight into the slot's pinned host buffer through a Lease.
func ExampleEngine_Acquire() {
	dev, err := cpu.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Close()
	k, err := squareKernel(dev)
	if err != nil {
		fmt.Println(err)
		return
	}
	eng, err := gpu.NewEngine[[]float32](dev, square{k}, gpu.EngineOptions{Slots: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer eng.Close()

	ctx := context.Background()
	go func() {
		defer eng.Finish()
		for i := range 3 {
			xs := []float32{float32(i), float32(i + 1)}
			l, err := eng.Acquire(ctx, gpu.Sizes{In: 8, Out: 8})
			if err != nil {
				return
			}
			in, _ := gpu.Float32s(l.Input())
			copy(in, xs) // the batch's input, written once, where the upload reads it
			if l.Submit(xs) != nil {
				return
			}
		}
	}()
	for {
		d, err := eng.Next(ctx)
		if err != nil { // io.EOF once every batch is back
			break
		}
		out, _ := gpu.Float32s(d.Out)
		fmt.Println(d.Seq, out)
		d.Release()
	}
	// Output:
	// 0 [0 1]
	// 1 [1 4]
	// 2 [4 9]
}
