// Package cpu is a gpu.Device made of goroutines. It behaves like a GPU in every way that
// matters for the correctness of code written against package gpu, so that such code can be
// built, tested and measured on machines without one.
//
// # Streams
//
// Each stream has a goroutine that runs the stream's operations one at a time, in the order
// they were enqueued, while the caller goes on. A copy reads its source when the stream
// reaches it, not when it is enqueued: a host buffer rewritten before the event recorded
// after its copy has completed shows up as wrong data, exactly as on a GPU. (Under the race
// detector the same mistake is also reported as a data race.)
//
// # Engines
//
// Like a GPU, the device has a host→device copy engine, a device→host copy engine and a
// compute engine, each running one operation at a time, in the order operations reach it.
// Operations of different streams overlap when they use different engines. With
// CopyEngines(1) both copy directions share one engine, like GPUs with a single DMA engine.
// Device→device copies run on the compute engine. Kernels are the Go implementations
// registered with gpu.RegisterKernel; they use all cores themselves, and the compute engine
// runs one launch at a time.
//
// # Test options
//
// WithTiming holds each engine for a modelled duration (copy bandwidth, launch latency,
// kernel time), so that overlap can be measured; RandomDelays makes every operation start
// late by a random amount, which shakes out code that reuses a buffer too early; FailCopy,
// FailLaunch and FailWhen inject device faults; MemoryLimit makes AllocDevice fail with
// gpu.ErrOutOfMemory.
package cpu
