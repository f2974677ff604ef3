package cuda

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu"
)

// This file holds the parts of a launch that need no driver, so that they are compiled and
// tested in every build.

// params is one launch's kernel parameters in the form cuLaunchKernel reads them: ptrs[i]
// points at slots[i], which holds argument i in its first Kind.Size() bytes, in the machine's
// byte order, followed by zeros.
//
// Every slot is 8 bytes, whatever the argument's C size, because gorgonia.org/cu's
// Function.Launch copies 8 bytes from each kernelParams pointer into memory of its own before
// calling the driver (argv[i] = *(*uint64)(kernelParams[i])). The driver then reads from each
// copy exactly as many bytes as the kernel's parameter has: 4 for int and float, 8 for
// pointers, long long and double. A 4-byte value stored on its own would make cu read 4 bytes
// past it; stored in the first half of a zeroed 8-byte slot it is read back exactly.
type params struct {
	slots []uint64
	ptrs  []unsafe.Pointer
}

// addrFunc returns the device address a pointer argument stands for (its buffer's address
// plus its offset), or an error when the buffer cannot be used.
type addrFunc func(i int, a gpu.Arg) (uint64, error)

// marshalParams lays args out for a launch. addr resolves pointer arguments.
func marshalParams(args []gpu.Arg, addr addrFunc) (*params, error) {
	p := &params{slots: make([]uint64, len(args)), ptrs: make([]unsafe.Pointer, len(args))}
	for i, a := range args {
		if err := p.set(i, a, addr); err != nil {
			return nil, err
		}
		p.ptrs[i] = unsafe.Pointer(&p.slots[i])
	}
	return p, nil
}

func (p *params) set(i int, a gpu.Arg, addr addrFunc) error {
	cell := (*[8]byte)(unsafe.Pointer(&p.slots[i]))
	switch a.Kind {
	case gpu.KindInt32, gpu.KindUint32, gpu.KindFloat32:
		binary.NativeEndian.PutUint32(cell[:4], uint32(a.Bits))
	case gpu.KindInt64, gpu.KindFloat64:
		binary.NativeEndian.PutUint64(cell[:], a.Bits)
	case gpu.KindPtr:
		v, err := addr(i, a)
		if err != nil {
			return err
		}
		binary.NativeEndian.PutUint64(cell[:], v)
	default:
		return fmt.Errorf("%w: argument %d has kind %v", gpu.ErrBadArg, i, a.Kind)
	}
	return nil
}

// limits are a device's launch limits, read from its attributes when it is opened.
type limits struct {
	blockThreads int    // threads in one block
	block        [3]int // block extent per dimension
	grid         [3]int // grid extent per dimension
}

// shape checks a launch's grid and block against lim and returns them with zero components
// counted as 1, as gpu.Dim3 defines.
func shape(grid, block gpu.Dim3, lim limits) (g, b [3]int, err error) {
	g, err = dims("grid", grid, lim.grid)
	if err != nil {
		return g, b, err
	}
	b, err = dims("block", block, lim.block)
	if err != nil {
		return g, b, err
	}
	if n := b[0] * b[1] * b[2]; n > lim.blockThreads {
		return g, b, fmt.Errorf("%w: block of %d threads, the device allows %d", gpu.ErrBadArg, n, lim.blockThreads)
	}
	return g, b, nil
}

func dims(what string, d gpu.Dim3, most [3]int) ([3]int, error) {
	v := [3]int{d.X, d.Y, d.Z}
	for i, n := range v {
		if n < 0 {
			return v, fmt.Errorf("%w: %s %+v has a negative extent", gpu.ErrBadArg, what, d)
		}
		v[i] = max(n, 1)
		if v[i] > most[i] {
			return v, fmt.Errorf("%w: %s %+v: extent %d of dimension %c exceeds the device's %d",
				gpu.ErrBadArg, what, d, v[i], "xyz"[i], most[i])
		}
	}
	return v, nil
}
