package cpu

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu"
)

// hostAlign is the alignment of host buffers: a cache line, and enough for any element type
// a kernel views the memory as.
const hostAlign = 64

// AllocHost allocates size bytes of 64-byte aligned Go memory. It is not page-locked
// (Pinned reports false); the device needs no pinning to copy asynchronously.
func (d *Device) AllocHost(size int) (gpu.HostBuffer, error) {
	if size <= 0 {
		return nil, fmt.Errorf("%w: AllocHost(%d)", errSize, size)
	}
	if total := systemMemory(); int64(size) > total {
		return nil, fmt.Errorf("%w: %d bytes of host memory asked, the machine has %d", gpu.ErrOutOfMemory, size, total)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, fmt.Errorf("%w: device", gpu.ErrClosed)
	}
	b := &hostBuffer{memory{dev: d, size: size, mem: alignedBytes(size)}}
	d.hosts[b] = struct{}{}
	return b, nil
}

// AllocDevice allocates size bytes of device memory, which on this device is Go memory. It
// fails with gpu.ErrOutOfMemory beyond the MemoryLimit.
func (d *Device) AllocDevice(size int) (gpu.DeviceBuffer, error) {
	if size <= 0 {
		return nil, fmt.Errorf("%w: AllocDevice(%d)", errSize, size)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, fmt.Errorf("%w: device", gpu.ErrClosed)
	}
	if total := d.total(); d.used+int64(size) > total {
		return nil, fmt.Errorf("%w: %d bytes asked, %d of %d free", gpu.ErrOutOfMemory, size, total-d.used, total)
	}
	b := &deviceBuffer{memory: memory{dev: d, size: size, mem: alignedBytes(size)}}
	d.devs[b] = struct{}{}
	d.used += int64(size)
	return b, nil
}

// MapHost returns a device buffer that is h's memory (gpu.HostMapper): copies between the
// two move nothing, and the buffer takes no device memory. It declines with
// errors.ErrUnsupported on a device that models copy times, delays, faults or a
// MemoryLimit: its copies and allocations are what such a device is for (tests of timing,
// ordering and out-of-memory paths).
func (d *Device) MapHost(h gpu.HostBuffer) (gpu.DeviceBuffer, error) {
	if !d.MapsHost() {
		return nil, fmt.Errorf("cpu device with a timing model, delays, faults or a memory limit: %w", errors.ErrUnsupported)
	}
	hb, err := d.hostOf("mapped host buffer", h)
	if err != nil {
		return nil, err
	}
	mem, err := hb.bytes("mapped host buffer")
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, fmt.Errorf("%w: device", gpu.ErrClosed)
	}
	b := &deviceBuffer{memory: memory{dev: d, size: len(mem), mem: mem}, mapped: true}
	d.devs[b] = struct{}{}
	return b, nil
}

// MapsHost reports whether MapHost maps (a device without a timing model, delays, faults
// or a MemoryLimit), so that a buffer pair takes its memory once.
func (d *Device) MapsHost() bool {
	return d.cfg.timing == (Timing{}) && d.cfg.memLimit <= 0 && d.cfg.delayMax <= 0 && len(d.cfg.faults) == 0
}

func alignedBytes(size int) []byte {
	raw := make([]byte, size+hostAlign-1)
	off := 0
	if rem := uintptr(unsafe.Pointer(&raw[0])) % hostAlign; rem != 0 {
		off = hostAlign - int(rem)
	}
	return raw[off : off+size : off+size]
}

// memory is the part shared by host and device buffers: a size and memory that Free takes
// away. Operations fetch the memory when they run, so one that runs after Free fails.
type memory struct {
	dev  *Device
	size int
	mu   sync.Mutex
	mem  []byte // nil once freed
}

func (m *memory) Len() int { return m.size }

// bytes returns the memory, or an ErrFreed error.
func (m *memory) bytes(what string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mem == nil {
		return nil, fmt.Errorf("%w: %s", gpu.ErrFreed, what)
	}
	return m.mem, nil
}

// release drops the memory and reports whether it was still there.
func (m *memory) release() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	live := m.mem != nil
	m.mem = nil
	return live
}

type hostBuffer struct{ memory }

func (b *hostBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mem
}

func (b *hostBuffer) Pinned() bool { return false }

func (b *hostBuffer) Free() error {
	if !b.release() {
		return fmt.Errorf("%w: host buffer freed twice", gpu.ErrFreed)
	}
	b.dev.forget(b)
	return nil
}

type deviceBuffer struct {
	memory
	mapped bool // a host buffer's memory (MapHost): not counted as device memory
}

func (b *deviceBuffer) Free() error {
	if !b.release() {
		return fmt.Errorf("%w: device buffer freed twice", gpu.ErrFreed)
	}
	b.dev.forget(b)
	return nil
}

// hostOf and devOf check at enqueue time that a buffer belongs to d and is not freed.
func (d *Device) hostOf(what string, hb gpu.HostBuffer) (*hostBuffer, error) {
	b, ok := hb.(*hostBuffer)
	if !ok || b == nil || b.dev != d {
		return nil, fmt.Errorf("%w: %s", gpu.ErrForeign, what)
	}
	_, err := b.bytes(what)
	return b, err
}

func (d *Device) devOf(what string, db gpu.DeviceBuffer) (*deviceBuffer, error) {
	b, ok := db.(*deviceBuffer)
	if !ok || b == nil || b.dev != d {
		return nil, fmt.Errorf("%w: %s", gpu.ErrForeign, what)
	}
	_, err := b.bytes(what)
	return b, err
}
