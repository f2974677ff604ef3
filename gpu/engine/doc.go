// Package engine keeps several batches in flight on one or more devices, so that copies to
// the device, kernels and copies back of different batches overlap, and wraps that as a
// pipeline stage. It sits above the device model (package gpu) and the streaming framework
// (package pipeline); neither knows about it.
//
// # Slots
//
// A slot is everything one batch needs on a device: a stream, four events, a pinned host
// input buffer, device input, output and scratch buffers, and a pinned host output buffer.
// An Engine has Options.Slots of them (two by default). For each batch it takes a free slot,
// packs the batch into the slot's host input buffer (Enqueuer.Pack, or the producer writes
// there itself through Engine.Acquire and a Lease), and enqueues upload → kernels
// (Enqueuer.Enqueue) → download on the slot's stream. Buffers grow geometrically when a batch
// does not fit and are reused, never allocated per batch; Options.Reserve sizes them up
// front. A host buffer never changes while a copy that uses it is pending: a slot is reused
// only after its last event and its release.
//
// # Cost
//
// A batch holds its slot from its upload to its release. With upload, kernels and download
// each taking T, a batch holds its slot for at least 3T, so S slots carry at most S batches
// per 3T: two slots reach two thirds of what the device's engines allow, three reach all of
// it (with separate copy engines for each direction; with one shared copy engine two slots
// already do). In steady state a batch then costs the slowest phase, not the sum of the
// three. bench/overlap measures the engine against that bound. Each slot costs its buffers:
// about In+Out bytes of pinned host memory and In+Out+Scratch of device memory for the
// largest batch seen.
//
// # Work, results and release
//
// An Enqueuer[B] says what a batch of type B needs (Sizes), how it is packed (Pack) and which
// kernels run on it (Enqueue). A Work[B, R] adds Result, which turns a finished batch's output
// into a typed result R on the host. One work serves every device of a stage at once, so it
// must be safe for concurrent use; state per device is found through the stream,
// s.Device().
//
// The package offers two stages over one implementation, for one device or several:
//
//   - Stage emits each batch's R. It calls Result while the output still lies in the slot's
//     pinned buffer, then gives the slot back itself: there is nothing to release.
//   - Views emits each finished batch as a *View, the output in place, for a consumer that
//     reads it there (zero copy). The consumer must call View.Release once done with it:
//     this is the one place a release exists.
//
// With several devices, each has its engine and a feeder that takes the next batch as soon as
// its engine accepts one, so a faster device takes more; results come out in input order and
// View.Seq numbers batches across devices. A batch whose work fails alone is a *BatchError
// that goes through the stage's error policy (pipeline.SkipErrors skips it); a device fault
// on any device stops the run.
//
// # A consumer that holds every slot
//
// A slot whose View is never released never comes back. When every slot of an engine has
// been held by the consumer for longer than Options.HoldLimit (a minute by default) while
// the next batch waits for a slot, the engine returns a *HeldError and the stage stops the
// run with it, naming the stage, the device and what it waits for, instead of hanging. Device
// work does not count: a slot whose batch is on the device always comes back.
package engine
