package gpu

// Sizes are the bytes one batch needs in a slot of the overlap engine (package gpu/engine): In
// is copied host→device, Out is copied device→host, Scratch is device memory for
// intermediate results that never leaves the device.
type Sizes struct {
	In, Out, Scratch int
}

// SlotBuffers are the device buffers of one slot of the overlap engine. Each is at least as
// large as the Sizes the batch asked for, and may be larger: slots grow and are reused, never
// allocated per batch. Scratch is nil when no scratch was asked for.
//
// Sizes and SlotBuffers live here rather than in package gpu/engine so that a package of
// kernels can implement the engine's work without importing the engine or the pipeline.
type SlotBuffers struct {
	In, Out, Scratch DeviceBuffer
}
