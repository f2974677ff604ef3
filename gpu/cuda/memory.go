//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu"
	"gorgonia.org/cu"
)

// HostMemory is a kind of host memory for transfers.
type HostMemory int

// Kinds of host memory.
const (
	// Pinned is page-locked memory (cuMemHostAlloc): copies from and to it are DMA transfers
	// that run asynchronously at full bus speed.
	Pinned HostMemory = iota
	// WriteCombined is pinned memory the CPU writes through write-combining buffers instead
	// of its caches. Good for upload buffers the host only writes; reading it is very slow.
	WriteCombined
	// Pageable is ordinary memory. The driver stages copies through a pinned buffer of its
	// own, so they are slower and do not overlap with host work.
	Pageable
)

func (k HostMemory) String() string {
	switch k {
	case Pinned:
		return "pinned"
	case WriteCombined:
		return "write-combined"
	case Pageable:
		return "pageable"
	}
	return fmt.Sprintf("HostMemory(%d)", int(k))
}

// hostBuffer is host memory allocated outside the Go heap.
type hostBuffer struct {
	dev   *Device
	kind  HostMemory
	base  unsafe.Pointer
	n     int
	freed atomic.Bool
}

var _ gpu.HostBuffer = (*hostBuffer)(nil)

// AllocHost allocates size bytes of pinned host memory.
func (d *Device) AllocHost(size int) (gpu.HostBuffer, error) {
	return d.AllocHostKind(size, Pinned)
}

var _ gpu.UploadAllocator = (*Device)(nil)

// AllocUploadHost allocates host memory for host→device copies: write-combined when the
// device was opened WithWriteCombinedUploads, pinned otherwise.
func (d *Device) AllocUploadHost(size int) (gpu.HostBuffer, error) {
	if d.cfg.writeCombined {
		return d.AllocHostKind(size, WriteCombined)
	}
	return d.AllocHostKind(size, Pinned)
}

// AllocHostKind allocates size bytes of host memory of the given kind.
func (d *Device) AllocHostKind(size int, kind HostMemory) (gpu.HostBuffer, error) {
	if size <= 0 {
		return nil, fmt.Errorf("cuda: AllocHost: size %d is not positive", size)
	}
	if kind < Pinned || kind > Pageable {
		return nil, fmt.Errorf("cuda: AllocHost: unknown memory kind %d", int(kind))
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	b := &hostBuffer{dev: d, kind: kind, n: size}
	var err error
	if kind == Pageable {
		b.base, err = pageableAlloc(size)
	} else {
		b.base, err = hostAlloc(size, kind == WriteCombined)
	}
	if err != nil {
		return nil, d.fail(fmt.Sprintf("allocate %d bytes of %v host memory", size, kind), err)
	}
	d.track(b)
	return b, nil
}

// Bytes is the buffer's memory; nil after Free or after the device is closed.
func (b *hostBuffer) Bytes() []byte {
	if b.freed.Load() || b.dev.closed.Load() {
		return nil
	}
	return unsafe.Slice((*byte)(b.base), b.n)
}

// Len is the size given to AllocHost.
func (b *hostBuffer) Len() int { return b.n }

// Pinned reports whether the memory is page-locked.
func (b *hostBuffer) Pinned() bool { return b.kind != Pageable }

// Kind is the kind of memory the buffer was allocated as.
func (b *hostBuffer) Kind() HostMemory { return b.kind }

// Free releases the memory.
func (b *hostBuffer) Free() error {
	if b.freed.Swap(true) {
		return fmt.Errorf("cuda: host buffer Free: %w", gpu.ErrFreed)
	}
	return b.dev.release(b)
}

func (b *hostBuffer) release() error {
	if b.kind == Pageable {
		pageableFree(b.base)
		return nil
	}
	if err := hostFree(b.base); err != nil {
		return b.dev.fail(fmt.Sprintf("free %d bytes of %v host memory", b.n, b.kind), err)
	}
	return nil
}

// at is the address of byte off, which the caller has checked to be inside the buffer.
func (b *hostBuffer) at(off int) unsafe.Pointer { return unsafe.Add(b.base, off) }

// deviceBuffer is device memory from cuMemAlloc.
type deviceBuffer struct {
	dev   *Device
	ptr   cu.DevicePtr
	n     int
	freed atomic.Bool
}

var _ gpu.DeviceBuffer = (*deviceBuffer)(nil)

// AllocDevice allocates size bytes of device memory.
func (d *Device) AllocDevice(size int) (gpu.DeviceBuffer, error) {
	if size <= 0 {
		return nil, fmt.Errorf("cuda: AllocDevice: size %d is not positive", size)
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	p, err := cu.MemAlloc(int64(size))
	if errors.Is(err, cu.OutOfMemory) {
		return nil, fmt.Errorf("cuda: device %d: allocate %d bytes: %w (%w)", d.ordinal, size, gpu.ErrOutOfMemory, err)
	}
	if err != nil {
		return nil, d.fail(fmt.Sprintf("allocate %d bytes of device memory", size), err)
	}
	b := &deviceBuffer{dev: d, ptr: p, n: size}
	d.track(b)
	return b, nil
}

// Len is the size given to AllocDevice.
func (b *deviceBuffer) Len() int { return b.n }

// Free releases the memory. It waits for work that uses it, as cuMemFree does.
func (b *deviceBuffer) Free() error {
	if b.freed.Swap(true) {
		return fmt.Errorf("cuda: device buffer Free: %w", gpu.ErrFreed)
	}
	return b.dev.release(b)
}

func (b *deviceBuffer) release() error {
	if err := cu.MemFree(b.ptr); err != nil {
		return b.dev.fail(fmt.Sprintf("free %d bytes of device memory", b.n), err)
	}
	return nil
}

// hostBuf checks that h is a live host buffer of this device.
func (d *Device) hostBuf(h gpu.HostBuffer, what string) (*hostBuffer, error) {
	b, ok := h.(*hostBuffer)
	switch {
	case !ok || b == nil:
		return nil, fmt.Errorf("cuda: %s host buffer %T: %w", what, h, gpu.ErrForeign)
	case b.dev != d:
		return nil, fmt.Errorf("cuda: %s host buffer of device %d: %w", what, b.dev.ordinal, gpu.ErrForeign)
	case b.freed.Load():
		return nil, fmt.Errorf("cuda: %s host buffer: %w", what, gpu.ErrFreed)
	}
	return b, nil
}

// devBuf checks that buf is a live device buffer of this device.
func (d *Device) devBuf(buf gpu.DeviceBuffer, what string) (*deviceBuffer, error) {
	b, ok := buf.(*deviceBuffer)
	switch {
	case !ok || b == nil:
		return nil, fmt.Errorf("cuda: %s device buffer %T: %w", what, buf, gpu.ErrForeign)
	case b.dev != d:
		return nil, fmt.Errorf("cuda: %s device buffer of device %d: %w", what, b.dev.ordinal, gpu.ErrForeign)
	case b.freed.Load():
		return nil, fmt.Errorf("cuda: %s device buffer: %w", what, gpu.ErrFreed)
	}
	return b, nil
}

// argAddr resolves a pointer argument of a launch to a device address. It formats nothing
// unless the argument is bad: it runs for every pointer of every launch.
func (d *Device) argAddr(i int, a gpu.Arg) (uint64, error) {
	b, err := d.devBuf(a.Buf, "kernel argument")
	if err != nil {
		return 0, fmt.Errorf("argument %d: %w", i, err)
	}
	if a.Off < 0 || a.Off > b.n {
		return 0, fmt.Errorf("%w: argument %d: offset %d into a buffer of %d bytes", gpu.ErrOutOfRange, i, a.Off, b.n)
	}
	return uint64(b.ptr) + uint64(a.Off), nil
}
