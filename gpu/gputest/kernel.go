package gputest

import (
	_ "embed"
	"errors"
	"fmt"
	"sync"

	"github.com/gpupipe/gpupipe/gpu"
)

//go:generate sh ../../scripts/gen-test-ptx.sh

// saxpyPTX is saxpy.cu compiled by nvcc for compute_75 (scripts/gen-test-ptx.sh, which also
// makes the PTX of gpu/cuda's tests); `scripts/gen-test-ptx.sh --check` (make ptx) checks that
// it assembles for sm_90 and matches its source.
//
//go:embed saxpy.ptx
var saxpyPTX []byte

// Kernel is the name of the suite's test kernel, gputest_saxpy(float* y, const float* x,
// float a, int n, int fail): y[i] = a*x[i] + y[i] for i < n, with the product and the sum
// rounded separately. When fail is not zero it faults instead (a trap on a GPU).
const Kernel = "gputest_saxpy"

// KernelArgs are the parameter kinds of Kernel.
var KernelArgs = []gpu.ArgKind{gpu.KindPtr, gpu.KindPtr, gpu.KindFloat32, gpu.KindInt32, gpu.KindInt32}

// ErrTrap is the error the Go implementation of Kernel returns when asked to fail.
var ErrTrap = errors.New("gputest: kernel trapped on request")

var register struct {
	once sync.Once
	err  error
}

// RegisterKernel registers Kernel, with its PTX and its Go implementation. Calling it again
// does nothing; Run calls it.
func RegisterKernel() error {
	register.once.Do(func() {
		register.err = gpu.RegisterKernel(gpu.KernelSpec{
			Name: Kernel,
			PTX:  saxpyPTX,
			Host: saxpyHost,
			Args: KernelArgs,
		})
	})
	return register.err
}

// Saxpy is the reference: what Kernel computes for y and x over the first n elements.
func Saxpy(y, x []float32, a float32, n int) {
	for i := range min(n, len(y), len(x)) {
		y[i] = float32(a*x[i]) + y[i]
	}
}

// saxpyHost is Kernel's Go implementation: every thread of the grid, like the device.
func saxpyHost(l *gpu.HostLaunch) error {
	ym, err := l.Mem(0)
	if err != nil {
		return err
	}
	xm, err := l.Mem(1)
	if err != nil {
		return err
	}
	a, err := l.Float32(2)
	if err != nil {
		return err
	}
	n, err := l.Int32(3)
	if err != nil {
		return err
	}
	fail, err := l.Int32(4)
	if err != nil {
		return err
	}
	if fail != 0 {
		return ErrTrap
	}
	m := min(int(n), l.Grid.Count()*l.Block.Count())
	if m <= 0 {
		return nil
	}
	y, err := gpu.Float32s(ym[:len(ym)/4*4])
	if err != nil {
		return err
	}
	x, err := gpu.Float32s(xm[:len(xm)/4*4])
	if err != nil {
		return err
	}
	if m > len(y) || m > len(x) {
		return fmt.Errorf("%w: %s over %d elements reaches past y (%d) or x (%d)", gpu.ErrOutOfRange, Kernel, m, len(y), len(x))
	}
	Saxpy(y, x, a, m)
	return nil
}
