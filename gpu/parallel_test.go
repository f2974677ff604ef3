package gpu_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gpupipe/gpupipe/gpu"
)

func TestParallelForCoversEveryIndexOnce(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 7, 4095, 4096, 8191, 8192, 100_003, 1 << 20} {
		hits := make([]int32, max(n, 0))
		var calls atomic.Int32
		gpu.ParallelFor(n, func(lo, hi int) {
			calls.Add(1)
			if lo >= hi {
				t.Errorf("n=%d: empty chunk [%d, %d)", n, lo, hi)
			}
			for i := lo; i < hi; i++ {
				atomic.AddInt32(&hits[i], 1)
			}
		})
		for i, h := range hits {
			if h != 1 {
				t.Fatalf("n=%d: index %d visited %d times", n, i, h)
			}
		}
		if n > 0 && n < 8192 && calls.Load() != 1 {
			t.Errorf("n=%d: %d calls, want one inline call for a small n", n, calls.Load())
		}
		if want := min(runtime.GOMAXPROCS(0), n/4096); want > 1 && int(calls.Load()) != want {
			t.Errorf("n=%d: %d chunks, want %d (GOMAXPROCS %d)", n, calls.Load(), want, runtime.GOMAXPROCS(0))
		}
	}
}

func TestParallelForUsesSeveralGoroutines(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	// Each of the two chunks waits for the other to have started: this ends only if they
	// run at once.
	var started sync.WaitGroup
	started.Add(2)
	gpu.ParallelFor(2*4096, func(lo, hi int) {
		started.Done()
		started.Wait()
	})
}

func TestParallelForPanicReachesTheCaller(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want the panic of a chunk", r)
		}
	}()
	gpu.ParallelFor(1<<20, func(lo, hi int) {
		if lo > 0 {
			panic("boom")
		}
	})
	t.Error("ParallelFor returned after a panic")
}
