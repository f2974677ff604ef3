//go:build cuda

package cuda

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/engine"
)

// burnWork is an engine.Enqueuer whose batches are 32 MiB each way with the burn kernel between, for
// measuring the overlap engine itself on the GPU. Pack writes only the first page: filling
// 32 MiB on the host would measure the host's memcpy, not the engine's overlap.
type burnWork struct {
	k     gpu.Kernel
	size  int
	iters int
}

func (w *burnWork) Sizes(int) (gpu.Sizes, error) { return gpu.Sizes{In: w.size, Out: w.size}, nil }

func (w *burnWork) Pack(b int, host []byte) error {
	for i := range min(4096, len(host)) {
		host[i] = byte(b + i)
	}
	return nil
}

func (w *burnWork) Enqueue(s gpu.Stream, _ int, bufs gpu.SlotBuffers) error {
	n := w.size / 4
	return launch1D(s, w.k, n, gpu.Ptr(bufs.Out, 0), gpu.Ptr(bufs.In, 0), gpu.Int32(int32(n)), gpu.Int32(int32(w.iters)))
}

// BenchmarkEngineOverlap runs the overlap engine (package gpu/engine) on the GPU with 1, 2 and 3
// slots, on the same batches as BenchmarkOverlap, and reports the wall-clock time per batch:
// what the framework achieves, host work included, against what the device allows.
func BenchmarkEngineOverlap(b *testing.B) {
	d := openTest(b)
	size := benchSize(32 << 20)
	st := calibrate(b, d, size)
	w := &burnWork{k: kernelOf(b, d, burnKernel), size: size, iters: st.iters}
	for _, slots := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("slots=%d", slots), func(b *testing.B) {
			per, stats := runEngine(b, d, w, slots)
			b.ReportMetric(ms(per), "ms/batch")
			record(d, measurement{Group: "engine", Name: fmt.Sprintf("%d slot(s) per batch", slots), Value: ms(per), Unit: "ms",
				Note: fmt.Sprintf("wall clock; %.0f%% of ideal %.3f ms; h2d %.3f, kernel %.3f, d2h %.3f ms per batch",
					100*float64(st.ideal())/float64(per), ms(st.ideal()), ms(stats.Upload)/float64(stats.Batches),
					ms(stats.Compute)/float64(stats.Batches), ms(stats.Download)/float64(stats.Batches))})
		})
	}
}

// runEngine pushes b.N rounds of 24 batches through an engine and returns the wall-clock
// time per batch and the engine's statistics.
func runEngine(b *testing.B, d *Device, w *burnWork, slots int) (time.Duration, engine.Stats) {
	const batches = 24
	eng, err := engine.New[int](d, w, engine.Options{Slots: slots, Reserve: gpu.Sizes{In: w.size, Out: w.size}})
	must(b, err)
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		for {
			r, err := eng.Next(ctx)
			if err != nil {
				done <- err
				return
			}
			r.Release()
		}
	}()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N * batches {
		must(b, eng.Submit(ctx, i))
	}
	eng.Finish()
	err = <-done
	el := time.Since(start)
	b.StopTimer()
	if !errors.Is(err, io.EOF) {
		b.Fatal(err)
	}
	stats := eng.Stats()
	must(b, eng.Close())
	return el / time.Duration(b.N*batches), stats
}
