package engine_test

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/pipeline"
)

// Pair is a batch for SAXPY: Y' = A·X + Y.
type Pair struct {
	A    float32
	X, Y []float32
}

// saxpyHost is the kernel's Go twin, which the CPU device runs: one Scan reads the launch's
// arguments, ParallelFor spreads the loop over every core.
func saxpyHost(l *gpu.HostLaunch) error {
	var out, x, y []float32
	var a float32
	var n int32
	if err := l.Scan(&out, &x, &y, &a, &n); err != nil {
		return err
	}
	if int(n) > min(len(out), len(x), len(y)) {
		return fmt.Errorf("n = %d is past the buffers", n)
	}
	gpu.ParallelFor(int(n), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = a*x[i] + y[i]
		}
	})
	return nil
}

// registerSaxpy registers the kernel once per process. A GPU kernel adds its PTX to the spec.
var registerSaxpy = sync.OnceValue(func() error {
	return gpu.RegisterKernel(gpu.KernelSpec{
		Name: "example_saxpy",
		Host: saxpyHost,
		Args: []gpu.ArgKind{gpu.KindPtr, gpu.KindPtr, gpu.KindPtr, gpu.KindFloat32, gpu.KindInt32},
	})
})

// cpuWithSaxpy registers the kernel and opens a CPU device.
func cpuWithSaxpy() (*cpu.Device, error) {
	if err := registerSaxpy(); err != nil {
		return nil, err
	}
	return cpu.New()
}

// saxpy is the Work: X and Y travel in one upload, the output comes back as []float32.
type saxpy struct{}

func (saxpy) Sizes(b Pair) (gpu.Sizes, error) {
	return gpu.Sizes{In: 8 * len(b.X), Out: 4 * len(b.X)}, nil
}

func (saxpy) Pack(b Pair, host []byte) error {
	in, err := gpu.Float32s(host)
	copy(in, b.X)
	copy(in[len(b.X):], b.Y)
	return err
}

func (saxpy) Enqueue(s gpu.Stream, b Pair, bufs gpu.SlotBuffers) error {
	k, err := s.Device().Kernel("example_saxpy") // the kernel on this stream's device
	if err != nil {
		return err
	}
	n := len(b.X)
	grid, block := gpu.Grid1D(n, 256)
	return s.Launch(k, grid, block, gpu.Ptr(bufs.Out, 0), gpu.Ptr(bufs.In, 0), gpu.Ptr(bufs.In, 4*n),
		gpu.Float32(b.A), gpu.Int32(int32(n)))
}

// Result copies the output out of the slot, which goes back to the engine when it returns.
func (saxpy) Result(_ Pair, out []byte) ([]float32, error) {
	y, err := gpu.Float32s(out)
	return slices.Clone(y), err
}

var pairs = []Pair{
	{A: 2, X: []float32{1, 2, 3}, Y: []float32{10, 20, 30}},
	{A: -1, X: []float32{4, 5}, Y: []float32{1, 1}},
	{A: 0.5, X: []float32{8}, Y: []float32{0}},
}

// A typed stage: batches in, results out, in order; the stage releases every slot itself.
func ExampleStage() {
	dev, err := cpuWithSaxpy()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Close()

	p := pipeline.New()
	batches := pipeline.FromSlice(p, pairs)
	ys := engine.Stage(batches, []gpu.Device{dev}, saxpy{}, engine.Options{Slots: 2})
	pipeline.ForEach(ys, func(_ context.Context, y []float32) error {
		fmt.Println(y)
		return nil
	})
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// [12 24 36]
	// [-3 -4]
	// [4]
}

// The zero-copy path: each View is the batch's output in the slot's pinned buffer, and the
// consumer releases it once done.
func ExampleViews() {
	dev, err := cpuWithSaxpy()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Close()

	p := pipeline.New()
	views := engine.Views(pipeline.FromSlice(p, pairs), []gpu.Device{dev}, saxpy{}, engine.Options{})
	pipeline.ForEach(views, func(_ context.Context, v *engine.View[Pair]) error {
		defer v.Release() // hands the slot back; v.Out is not valid after it
		y, err := v.Float32s()
		fmt.Println(v.Seq, y)
		return err
	})
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 0 [12 24 36]
	// 1 [-3 -4]
	// 2 [4]
}

// The engine without a pipeline: one goroutine submits, another takes results in order. The
// producer writes straight into the slot's pinned host buffer through a Lease.
func ExampleEngine_Acquire() {
	dev, err := cpuWithSaxpy()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Close()
	eng, err := engine.New[Pair](dev, saxpy{}, engine.Options{Slots: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer eng.Close()

	ctx := context.Background()
	go func() {
		defer eng.Finish()
		for _, b := range pairs {
			l, err := eng.Acquire(ctx, gpu.Sizes{In: 8 * len(b.X), Out: 4 * len(b.X)})
			if err != nil {
				return
			}
			in, _ := gpu.Float32s(l.Input())
			copy(in, b.X) // the batch's input, written once, where the upload reads it
			copy(in[len(b.X):], b.Y)
			if l.Submit(b) != nil {
				return
			}
		}
	}()
	for {
		v, err := eng.Next(ctx)
		if err != nil { // io.EOF once every batch is back
			break
		}
		y, _ := v.Float32s()
		fmt.Println(v.Seq, y)
		v.Release()
	}
	// Output:
	// 0 [12 24 36]
	// 1 [-3 -4]
	// 2 [4]
}
