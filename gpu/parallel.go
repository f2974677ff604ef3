package gpu

import (
	"runtime"
	"sync"
)

// parallelGrain is the fewest elements ParallelFor gives a goroutine: below that, starting
// one costs about as much as the work it takes over from a kernel twin's simple loop.
const parallelGrain = 4096

// ParallelFor calls fn on contiguous chunks [lo, hi) that together cover [0, n) once each,
// on up to GOMAXPROCS goroutines, and returns when every call has returned. It is how a
// kernel's Go implementation (a HostFunc) uses every core, as the kernel's threads would use
// the GPU:
//
//	gpu.ParallelFor(n, func(lo, hi int) {
//		for i := lo; i < hi; i++ {
//			y[i] += a * x[i]
//		}
//	})
//
// Chunks are of about equal size and at least a few thousand elements: a small n runs
// inline, in one call fn(0, n), and n ≤ 0 calls nothing. fn runs concurrently on disjoint
// ranges. A panic in fn is raised again in the caller once every call has ended, so the CPU
// device reports it as a device fault like any panic of a kernel twin.
func ParallelFor(n int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	chunks := min(runtime.GOMAXPROCS(0), n/parallelGrain)
	if chunks <= 1 {
		fn(0, n)
		return
	}
	var (
		wg      sync.WaitGroup
		once    sync.Once
		failure any
	)
	run := func(lo, hi int) {
		defer func() {
			if r := recover(); r != nil {
				once.Do(func() { failure = r })
			}
		}()
		fn(lo, hi)
	}
	for c := 1; c < chunks; c++ {
		wg.Go(func() { run(n*c/chunks, n*(c+1)/chunks) })
	}
	run(0, n/chunks)
	wg.Wait()
	if failure != nil {
		panic(failure)
	}
}
