// Package gpu is the device model: devices, streams, events, host and device buffers and
// kernels, shaped after the CUDA driver API so that a real GPU and the goroutine-based CPU
// device (package gpu/cpu) are interchangeable.
//
// The model in one paragraph: a Device owns memory and streams. Work is enqueued on a Stream
// and runs asynchronously, in the order it was enqueued on that stream; work on different
// streams may overlap. An Event recorded on a stream completes when everything enqueued on the
// stream before it has completed; another stream can Wait on it, and the host can Query or
// Synchronize it. A HostBuffer handed to an asynchronous copy belongs to the stream until an
// event recorded after the copy has completed: the copy reads (or writes) the host memory when
// the stream reaches it, not when it is enqueued.
//
// Errors come in two kinds, as in CUDA. Misuse that can be seen when an operation is enqueued
// (a range outside a buffer, a freed buffer, a closed stream, a kernel argument of the wrong
// kind) is returned by the enqueuing call and nothing is enqueued. A failure while the
// operation runs (a device fault) is sticky: it is reported by the next Synchronize, by
// Event.Synchronize or Event.Query of any later event on that stream, and every later operation
// on the stream is skipped. Such errors are *OpError values that name the operation.
//
// Nothing in this package panics on misuse.
package gpu

import (
	"errors"
	"fmt"
	"time"
)

// Device is one accelerator (or its stand-in). All methods are safe for concurrent use.
type Device interface {
	// Name is a human-readable name, such as "NVIDIA H100 80GB HBM3" or "cpu (8 cores)".
	Name() string
	// Kind is "cpu" or "cuda".
	Kind() string
	// Memory reports free and total device memory in bytes.
	Memory() (free, total int64, err error)
	// AllocHost allocates size bytes of host memory for transfers. On a real GPU it is
	// page-locked (pinned), which is what lets copies run asynchronously.
	AllocHost(size int) (HostBuffer, error)
	// AllocDevice allocates size bytes of device memory. Its contents are undefined.
	AllocDevice(size int) (DeviceBuffer, error)
	// NewStream creates a stream: an in-order queue of asynchronous work.
	NewStream() (Stream, error)
	// NewEvent creates an event that can time and order work across streams.
	NewEvent() (Event, error)
	// Kernel looks up a kernel registered with RegisterKernel and prepares it for this device.
	Kernel(name string) (Kernel, error)
	// Close releases the device. Buffers, streams and events created from it become unusable.
	Close() error
}

// UploadAllocator is implemented by a Device that can allocate host memory meant only for
// host→device copies, such as write-combined pinned memory on a GPU: fast for the host to
// write and for the device to read over the bus, very slow for the host to read. It is an
// optional capability, tested with a type assertion as io tests for WriterTo:
//
//	alloc := dev.AllocHost
//	if u, ok := dev.(gpu.UploadAllocator); ok {
//		alloc = u.AllocUploadHost
//	}
//
// The overlap engine (package gpu/engine) allocates its slots' input buffers this way, since
// it only ever writes them; output buffers, which consumers read, come from AllocHost.
type UploadAllocator interface {
	// AllocUploadHost allocates size bytes of host memory for host→device copies. The
	// buffer behaves as one from AllocHost; only reading it from the host may be slow.
	AllocUploadHost(size int) (HostBuffer, error)
}

// HostMapper is implemented by a Device whose kernels can read and write host memory in
// place, as the CPU device's can: MapHost returns a device buffer that is h's own memory, so
// that a copy between the two moves nothing and a buffer pair takes its memory once. Like
// UploadAllocator it is optional and tested with a type assertion; a device that implements
// it may still decline (errors.ErrUnsupported), as the CPU device does when it models copy
// times or a memory limit, which mapping would bypass.
//
// The mapped buffer must be freed before h, and h's memory must not be written while work
// that uses the mapped buffer is pending. The overlap engine maps its slots' input and output
// buffers where it can.
type HostMapper interface {
	MapHost(h HostBuffer) (DeviceBuffer, error)
}

// HostBuffer is host memory that asynchronous copies read from or write to.
type HostBuffer interface {
	// Bytes is the buffer's memory; nil after Free. Producers may write into it directly,
	// but only while no copy that uses it is pending on a stream.
	Bytes() []byte
	// Len is the size in bytes given to AllocHost.
	Len() int
	// Pinned reports whether the memory is page-locked.
	Pinned() bool
	// Free releases the memory. Using the buffer afterwards is an error (ErrFreed).
	Free() error
}

// DeviceBuffer is device memory. Its bytes are reached only through copies and kernels.
type DeviceBuffer interface {
	// Len is the size in bytes given to AllocDevice.
	Len() int
	// Free releases the memory. Using the buffer afterwards is an error (ErrFreed).
	Free() error
}

// Stream is an in-order queue of asynchronous device work. Its methods enqueue and return at
// once; the returned error reports misuse only (see the package documentation). A Stream is
// safe for concurrent use, but the order of operations enqueued concurrently is unspecified.
type Stream interface {
	// CopyHtoD copies n bytes from src[srcOff:] to dst[dstOff:].
	CopyHtoD(dst DeviceBuffer, dstOff int, src HostBuffer, srcOff, n int) error
	// CopyDtoH copies n bytes from src[srcOff:] to dst[dstOff:].
	CopyDtoH(dst HostBuffer, dstOff int, src DeviceBuffer, srcOff, n int) error
	// CopyDtoD copies n bytes between device buffers. The ranges must not overlap.
	CopyDtoD(dst DeviceBuffer, dstOff int, src DeviceBuffer, srcOff, n int) error
	// Launch enqueues kernel k over grid×block threads with the given arguments.
	Launch(k Kernel, grid, block Dim3, args ...Arg) error
	// Record enqueues e: it completes when all work enqueued before it has completed.
	Record(e Event) error
	// Wait makes all work enqueued after it wait until e (recorded on any stream) completes.
	Wait(e Event) error
	// Synchronize blocks until all enqueued work has completed and returns the stream's
	// sticky error, if any.
	Synchronize() error
	// Close waits for enqueued work and releases the stream.
	Close() error
	// Device is the device that created the stream (as cuStreamGetCtx names a stream's
	// context), also after Close. Work that runs on several devices resolves its
	// per-device state from it, such as kernels: s.Device().Kernel(name).
	Device() Device
}

// Event marks a point in a stream.
type Event interface {
	// Query reports whether the work before the last Record has completed, without blocking.
	// An event never recorded is done. A device fault before it is returned as the error.
	Query() (done bool, err error)
	// Synchronize blocks until the event completes.
	Synchronize() error
	// Elapsed is the device time from this event to end. Both must have completed.
	Elapsed(end Event) (time.Duration, error)
	// Close releases the event.
	Close() error
}

// Kernel is a device function ready to launch on the device that returned it.
type Kernel interface {
	Name() string
}

// Dim3 is a grid or block shape. Zero components count as 1.
type Dim3 struct{ X, Y, Z int }

// Count is the number of elements X·Y·Z, with zero components counted as 1.
func (d Dim3) Count() int {
	return max(d.X, 1) * max(d.Y, 1) * max(d.Z, 1)
}

// Grid1D returns the launch shape that covers n elements with blocks of the given size, one
// thread per element.
func Grid1D(n, block int) (grid, blk Dim3) {
	if block <= 0 {
		block = 256
	}
	return Dim3{X: max((n+block-1)/block, 1)}, Dim3{X: block}
}

// Sentinel errors. Errors returned by devices wrap them, so test with errors.Is.
var (
	// ErrFreed: a buffer was used after Free.
	ErrFreed = errors.New("gpu: buffer used after free")
	// ErrOutOfRange: a copy or argument reaches outside a buffer.
	ErrOutOfRange = errors.New("gpu: range outside buffer")
	// ErrClosed: the device, stream or event was closed.
	ErrClosed = errors.New("gpu: use of closed object")
	// ErrForeign: an object from another device (or another implementation) was passed.
	ErrForeign = errors.New("gpu: object belongs to another device")
	// ErrNoKernel: no kernel of that name is registered, or the device cannot run it.
	ErrNoKernel = errors.New("gpu: no such kernel")
	// ErrBadArg: a kernel argument has the wrong kind or value.
	ErrBadArg = errors.New("gpu: bad kernel argument")
	// ErrDevice: a fault while an operation ran on the device (wrapped by OpError).
	ErrDevice = errors.New("gpu: device error")
)

// OpError is a failure of one operation on a stream, reported when it ran or at the next
// synchronization.
type OpError struct {
	Stream int    // the stream's number on its device
	Seq    int64  // the operation's number on its stream, from 1
	Op     string // what ran: "copy host→device 4096 B", "launch resize_h", ...
	Err    error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("gpu: stream %d op %d (%s): %v", e.Stream, e.Seq, e.Op, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }
