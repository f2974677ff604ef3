// Package devkit holds what implementations of gpu.Device share and users of the device
// model never call: argument and range checks done at enqueue, and the resolution of a
// launch's arguments for a kernel's Go implementation. The devices of this module (gpu/cpu,
// gpu/cuda) use it, so that they refuse the same misuse with the same errors.
package devkit

import (
	"fmt"

	"github.com/gpupipe/gpupipe/gpu"
)

// CheckRange reports gpu.ErrOutOfRange when [off, off+n) is not inside a buffer of size
// size. what names the range in the error ("copy destination", "argument 2").
func CheckRange(what string, off, n, size int) error {
	if off < 0 || n < 0 || off > size || n > size-off {
		return fmt.Errorf("%w: %s [%d, %d+%d) of %d bytes", gpu.ErrOutOfRange, what, off, off, n, size)
	}
	return nil
}

// CheckArgs reports a gpu.ErrBadArg error when args do not match the parameter kinds of
// spec, or a pointer argument has no buffer. A spec without Args accepts anything.
func CheckArgs(spec gpu.KernelSpec, args []gpu.Arg) error {
	if spec.Args == nil {
		return nil
	}
	if len(args) != len(spec.Args) {
		return fmt.Errorf("%w: %s takes %d arguments, got %d", gpu.ErrBadArg, spec.Name, len(spec.Args), len(args))
	}
	for i, a := range args {
		if a.Kind != spec.Args[i] {
			return fmt.Errorf("%w: %s argument %d is %v, want %v", gpu.ErrBadArg, spec.Name, i, a.Kind, spec.Args[i])
		}
		if a.Kind == gpu.KindPtr && a.Buf == nil {
			return fmt.Errorf("%w: %s argument %d is a nil buffer", gpu.ErrBadArg, spec.Name, i)
		}
	}
	return nil
}

// NewHostLaunch resolves a launch for a kernel's Go implementation (gpu.HostFunc): scalar
// arguments keep their bits; pointer argument i becomes mem(i), the memory of its buffer,
// from the argument's offset to the buffer's end. An error from mem (a buffer freed since
// the launch was enqueued) is returned as it is.
func NewHostLaunch(grid, block gpu.Dim3, args []gpu.Arg, mem func(i int) ([]byte, error)) (*gpu.HostLaunch, error) {
	l := &gpu.HostLaunch{Grid: grid, Block: block, Args: make([]gpu.HostArg, len(args))}
	for i, a := range args {
		l.Args[i] = gpu.HostArg{Kind: a.Kind, Bits: a.Bits}
		if a.Kind != gpu.KindPtr {
			continue
		}
		m, err := mem(i)
		if err != nil {
			return nil, err
		}
		if err := CheckRange(fmt.Sprintf("argument %d", i), a.Off, 0, len(m)); err != nil {
			return nil, err
		}
		l.Args[i].Mem = m[a.Off:]
	}
	return l, nil
}
