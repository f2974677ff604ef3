package engine

import "github.com/gpupipe/gpupipe/gpu"

// Enqueuer is the device half of a Work: what the engine does with each batch of type B on
// the way to the device. For each batch the engine calls Sizes, then Pack into the slot's
// pinned host input buffer, then copies the input to the device, calls Enqueue to put the
// kernels on the slot's stream, and copies the output back.
//
// One Enqueuer serves every engine of a stage, that is every device, at once: its methods
// must be safe for concurrent use. A Work that needs state per device (kernels resolved on
// it, tables uploaded to it) finds the device from the stream it is given, s.Device(), and
// keeps that state in a map guarded by a mutex, or resolves it on each call when that is
// cheap (Device.Kernel is a map look-up after its first call).
//
// Implementations must not keep the host or device buffers they are given beyond the call:
// the engine reuses them for later batches. A panic in a method fails that batch alone, as an
// error would.
type Enqueuer[B any] interface {
	// Sizes reports how many bytes batch b needs.
	Sizes(b B) (gpu.Sizes, error)
	// Pack writes b's input into host, which has exactly Sizes.In bytes.
	Pack(b B, host []byte) error
	// Enqueue enqueues the kernels that turn bufs.In into bufs.Out on stream s. It must
	// only enqueue: the work runs after Enqueue returns.
	Enqueue(s gpu.Stream, b B, bufs gpu.SlotBuffers) error
}

// Work is an Enqueuer that also turns a finished batch's output into a typed result R, for
// Stage. Result runs on the host once the batch's output is in the slot's pinned buffer;
// the slot goes back to the engine when it returns.
//
// out is valid only during the call: R must not keep it (or slices of it), but copy what it
// needs. Like the rest of a Work, Result must be safe for concurrent use.
type Work[B, R any] interface {
	Enqueuer[B]
	// Result makes batch b's result from out, its Sizes.Out bytes of output. An error fails
	// batch b alone.
	Result(b B, out []byte) (R, error)
}
