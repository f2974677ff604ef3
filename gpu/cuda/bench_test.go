//go:build cuda

package cuda

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
)

// smallBenchmarks (GPUPIPE_BENCH_SMALL=1) shrinks the benchmarks' data so that they run in
// moments: CI runs them that way against the mock driver, to check that they work and that
// run.sh collects their results. Numbers from it measure nothing.
var smallBenchmarks = os.Getenv("GPUPIPE_BENCH_SMALL") == "1"

// benchSize is a benchmark's data size n, or n/64 (at least 64 KiB) with smallBenchmarks.
func benchSize(n int) int {
	if !smallBenchmarks {
		return n
	}
	return max(n/64, 64<<10)
}

// Helpers of the benchmarks. Device work is timed with events, which the GPU stamps when it
// reaches them: the numbers are device time, free of host scheduling noise.

func newStream(t testing.TB, d *Device) gpu.Stream {
	t.Helper()
	s, err := d.NewStream()
	must(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newEvent(t testing.TB, d *Device) gpu.Event {
	t.Helper()
	e, err := d.NewEvent()
	must(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func allocHost(t testing.TB, d *Device, n int, kind HostMemory) gpu.HostBuffer {
	t.Helper()
	h, err := d.AllocHostKind(n, kind)
	must(t, err)
	t.Cleanup(func() { _ = h.Free() })
	return h
}

func allocDevice(t testing.TB, d *Device, n int) gpu.DeviceBuffer {
	t.Helper()
	b, err := d.AllocDevice(n)
	must(t, err)
	t.Cleanup(func() { _ = b.Free() })
	return b
}

func kernelOf(t testing.TB, d *Device, name string) gpu.Kernel {
	t.Helper()
	k, err := d.Kernel(name)
	must(t, err)
	return k
}

// timer measures the device time of work enqueued on one stream.
type timer struct {
	s          gpu.Stream
	start, end gpu.Event
}

func newTimer(t testing.TB, d *Device, s gpu.Stream) *timer {
	return &timer{s: s, start: newEvent(t, d), end: newEvent(t, d)}
}

// time records an event, runs enqueue, records another, waits for it and returns the
// device time between the two.
func (tm *timer) time(t testing.TB, enqueue func() error) time.Duration {
	t.Helper()
	must(t, tm.s.Record(tm.start))
	must(t, enqueue())
	must(t, tm.s.Record(tm.end))
	must(t, tm.end.Synchronize())
	el, err := tm.start.Elapsed(tm.end)
	must(t, err)
	return el
}

// repeat returns an enqueue function that enqueues one operation n times.
func repeat(n int, one func() error) func() error {
	return func() error {
		for range n {
			if err := one(); err != nil {
				return err
			}
		}
		return nil
	}
}

func gbps(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / d.Seconds() / 1e9
}

func mib(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// launch1D launches k over n elements with blocks of 256 threads.
func launch1D(s gpu.Stream, k gpu.Kernel, n int, args ...gpu.Arg) error {
	grid, block := gpu.Grid1D(n, 256)
	return s.Launch(k, grid, block, args...)
}
