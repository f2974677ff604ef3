package gpu

// Sizes are the bytes one batch needs in a slot: In is copied host→device, Out is copied
// device→host, Scratch is device memory for intermediate results that never leaves the
// device.
type Sizes struct {
	In, Out, Scratch int
}

// SlotBuffers are the device buffers of one slot. Each is at least as large as the Sizes the
// batch asked for, and may be larger: slots grow and are reused, never allocated per batch.
// Scratch is nil when no scratch was asked for.
type SlotBuffers struct {
	In, Out, Scratch DeviceBuffer
}

// Work is what the overlap engine does with each batch of type B. The engine calls Sizes,
// then Pack into the slot's host input buffer, then copies the input to the device, calls
// Enqueue to put the kernel chain on the slot's stream, and copies the output back.
//
// Implementations must not keep host or device buffers beyond the call that received them:
// the engine reuses them for later batches.
type Work[B any] interface {
	// Sizes reports how many bytes batch b needs.
	Sizes(b B) (Sizes, error)
	// Pack writes b's input into host, which has exactly Sizes.In bytes.
	Pack(b B, host []byte) error
	// Enqueue enqueues the kernels that turn bufs.In into bufs.Out on stream s. It must only
	// enqueue: the work runs after Enqueue returns.
	Enqueue(s Stream, b B, bufs SlotBuffers) error
}
