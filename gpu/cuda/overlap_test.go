//go:build cuda

package cuda

import (
	"fmt"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
)

// BenchmarkOverlap measures how much of a batch's three stages (upload, kernel, download)
// the GPU overlaps when batches are dealt round-robin to 1, 2 or 3 slots, each slot a stream
// with buffers of its own. The kernel is sized to take about as long as the upload, so the
// serial cost is about three stages and the ideal, with two copy engines, about one.
func BenchmarkOverlap(b *testing.B) {
	d := openTest(b)
	size := benchSize(32 << 20) // bytes each way per batch
	st := calibrate(b, d, size)
	record(d, measurement{Group: "overlap", Name: "stage upload " + mib(size), Value: ms(st.up), Unit: "ms"})
	record(d, measurement{Group: "overlap", Name: "stage kernel", Value: ms(st.kernel), Unit: "ms",
		Note: fmt.Sprintf("%d iterations per element", st.iters)})
	record(d, measurement{Group: "overlap", Name: "stage download " + mib(size), Value: ms(st.down), Unit: "ms"})
	record(d, measurement{Group: "overlap", Name: "ideal per batch (slowest stage)", Value: ms(st.ideal()), Unit: "ms"})
	record(d, measurement{Group: "overlap", Name: "serial per batch (sum of stages)", Value: ms(st.serial()), Unit: "ms"})
	var one time.Duration
	for _, slots := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("slots=%d", slots), func(b *testing.B) {
			per := runSlots(b, d, size, st.iters, slots)
			if slots == 1 {
				one = per
			}
			b.ReportMetric(ms(per), "ms/batch")
			note := fmt.Sprintf("%.0f%% of ideal", 100*float64(st.ideal())/float64(per))
			if one > 0 {
				note += fmt.Sprintf(", %.2f× 1 slot", float64(one)/float64(per))
			}
			record(d, measurement{Group: "overlap", Name: fmt.Sprintf("%d slot(s) per batch", slots),
				Value: ms(per), Unit: "ms", Note: note})
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// stages are the device times of one batch's stages, measured alone.
type stages struct {
	up, kernel, down time.Duration
	iters            int
}

func (s stages) ideal() time.Duration  { return max(s.up, s.kernel, s.down) }
func (s stages) serial() time.Duration { return s.up + s.kernel + s.down }

// calibrate measures the copies of size bytes and picks the kernel's iteration count so
// that it takes about as long as the upload.
func calibrate(b *testing.B, d *Device, size int) stages {
	h := allocHost(b, d, size, Pinned)
	in, out := allocDevice(b, d, size), allocDevice(b, d, size)
	s := newStream(b, d)
	tm := newTimer(b, d, s)
	k := kernelOf(b, d, burnKernel)
	n := size / 4
	burn := func(iters int) func() error {
		return func() error {
			return launch1D(s, k, n, gpu.Ptr(out, 0), gpu.Ptr(in, 0), gpu.Int32(int32(n)), gpu.Int32(int32(iters)))
		}
	}
	up := func() error { return s.CopyHtoD(in, 0, h, 0, size) }
	down := func() error { return s.CopyDtoH(h, 0, out, 0, size) }
	tm.time(b, up)
	var st stages
	st.up = tm.time(b, repeat(5, up)) / 5
	st.down = tm.time(b, repeat(5, down)) / 5
	const probe = 256
	tm.time(b, burn(probe))
	per := tm.time(b, burn(probe))
	st.iters = max(1, int(float64(probe)*float64(st.up)/float64(max(per, time.Microsecond))))
	st.kernel = tm.time(b, burn(st.iters))
	return st
}

// slot is one batch's worth of buffers and the stream that uses them.
type slot struct {
	s        gpu.Stream
	hin, hot gpu.HostBuffer
	in, out  gpu.DeviceBuffer
	done     gpu.Event
}

// runSlots runs b.N rounds of 24 batches over the given number of slots and returns the
// device time per batch.
func runSlots(b *testing.B, d *Device, size, iters, slots int) time.Duration {
	const batches = 24
	k := kernelOf(b, d, burnKernel)
	ring := make([]slot, slots)
	for i := range ring {
		ring[i] = slot{s: newStream(b, d), hin: allocHost(b, d, size, Pinned), hot: allocHost(b, d, size, Pinned),
			in: allocDevice(b, d, size), out: allocDevice(b, d, size), done: newEvent(b, d)}
	}
	line := newStream(b, d)
	tm := newTimer(b, d, line)
	n := size / 4
	round := func() error {
		for i := range ring {
			if err := ring[i].s.Wait(tm.start); err != nil {
				return err
			}
		}
		for i := range batches {
			sl := &ring[i%slots]
			if err := batch(sl, k, size, n, iters); err != nil {
				return err
			}
		}
		for i := range ring {
			if err := ring[i].s.Record(ring[i].done); err != nil {
				return err
			}
			if err := line.Wait(ring[i].done); err != nil {
				return err
			}
		}
		return nil
	}
	tm.time(b, round)
	b.ResetTimer()
	var total time.Duration
	for range b.N {
		total += tm.time(b, round)
	}
	b.StopTimer()
	return total / time.Duration(b.N*batches)
}

// batch enqueues one batch on a slot: upload, kernel, download.
func batch(sl *slot, k gpu.Kernel, size, n, iters int) error {
	if err := sl.s.CopyHtoD(sl.in, 0, sl.hin, 0, size); err != nil {
		return err
	}
	if err := launch1D(sl.s, k, n, gpu.Ptr(sl.out, 0), gpu.Ptr(sl.in, 0), gpu.Int32(int32(n)), gpu.Int32(int32(iters))); err != nil {
		return err
	}
	return sl.s.CopyDtoH(sl.hot, 0, sl.out, 0, size)
}
