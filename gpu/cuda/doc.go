// Package cuda is the real GPU behind the device model of package gpu: an NVIDIA device driven
// through the CUDA driver API with gorgonia.org/cu.
//
// # Build
//
// The device is compiled only with the build tag cuda (go build -tags cuda), which needs the
// CUDA headers (cuda.h) and the driver library (libcuda) at build time. Without the tag this
// package holds only the pure-Go parts (kernel argument marshalling) and never imports
// gorgonia.org/cu: that package's init calls os.Exit(1) when no CUDA driver or GPU is found,
// so a binary built with -tags cuda runs only on a machine with a working GPU. Package
// gpu/device chooses between this device and the CPU device by name.
//
// # Threads and contexts
//
// A CUDA context is current per OS thread. Each device retains its GPU's primary context, and
// every method that calls the driver locks its goroutine to its OS thread and makes the
// context current first (runtime.LockOSThread and cuCtxSetCurrent, a thread-local store in
// the driver), then unlocks when it returns. That costs one extra cgo call, well under a
// microsecond, instead of the channel round trip to a dedicated driver thread (a few
// microseconds and a second goroutine wake-up per call), and it lets several goroutines
// enqueue on different streams at once.
//
// Starting the driver (cuInit, in gorgonia.org/cu's package init) and creating the primary
// context cost seconds per process on a GPU whose persistence mode is off, and little where
// it is on. The primary context lives while any Device of the process holds it, so a program
// that opens and closes devices repeatedly should keep one open. PTX modules are compiled by
// the driver when loaded, and cached on disk by it (CUDA_CACHE_PATH).
//
// # Memory
//
// AllocHost returns page-locked memory from cuMemHostAlloc, which is what lets copies run
// asynchronously and at full bus speed. AllocHostKind also gives write-combined pinned memory
// (fast for the host to write and the GPU to read, very slow for the host to read) and
// ordinary pageable memory, for comparison. AllocUploadHost returns the kind chosen for upload
// buffers with WithWriteCombinedUploads.
//
// # Kernels
//
// Kernel looks a kernel up in the registry of package gpu, loads its PTX module once per
// device (the driver compiles it for the GPU it runs on; a compile failure returns the
// compiler's log in the error) and caches the function. Launch checks the arguments against
// the kernel's spec and passes each one at its true C size.
//
// # Errors
//
// Misuse (a freed, foreign or closed object, a range outside a buffer, a bad argument) is
// found before anything is enqueued and returned at once, like the CPU device does. A driver
// failure is returned as a *gpu.OpError wrapping gpu.ErrDevice and the driver's error code; on
// a stream it is also sticky, as the device model requires: later work on the stream is
// skipped and every later Synchronize reports it. A fault inside a kernel (an illegal address)
// breaks the whole CUDA context, so every stream of the device then reports errors; when the
// driver then refuses even to make the context current, streams and events still report the
// sticky *gpu.OpError, and Close releases the context so that the next Open starts afresh.
package cuda

// The tests' kernels, testdata/cudatest.ptx, at compute_75 like the image kernels;
// `scripts/gen-test-ptx.sh --check` (make ptx) checks that they assemble for sm_90 and match
// their source.
//
//go:generate sh ../../scripts/gen-test-ptx.sh
