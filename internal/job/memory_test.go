package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/internal/samples"
	"github.com/gpupipe/gpupipe/pipeline"
)

// liveHeap watches the live heap after each collection (runtime/metrics) while a run goes
// on, and keeps the most it saw.
type liveHeap struct {
	stop    chan struct{}
	done    sync.WaitGroup
	max     uint64
	samples []uint64 // one every 2 ms
}

func watchLiveHeap() *liveHeap {
	w := &liveHeap{stop: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	w.done.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			w.max = max(w.max, sample[0].Value.Uint64())
			w.samples = append(w.samples, sample[0].Value.Uint64())
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	})
	return w
}

func (w *liveHeap) Stop() uint64 {
	close(w.stop)
	w.done.Wait()
	return w.max
}

// smallPhotos are sizes for tests of the budget's workings.
var smallPhotos = [][2]int{{320, 240}, {640, 480}, {480, 640}, {1024, 768}}

// cameraPhotos are sizes of camera photos, whose decoded sizes vary as a run's do.
var cameraPhotos = [][2]int{{2000, 1500}, {3000, 2000}, {2000, 3000}}

// photoSet writes two photo-like JPEGs of each size (the size of a slot's batch, the pool's
// size classes and the filter tables all vary with them), copies times over.
func photoSet(t *testing.T, dir string, copies int, sizes ...[2]int) int {
	t.Helper()
	base := filepath.Join(t.TempDir(), "base")
	var paths []string
	for i, size := range sizes {
		p, err := samples.Write(filepath.Join(base, fmt.Sprint(i)), samples.Options{
			Count: 2, Width: size[0], Height: size[1], Seed: int64(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p...)
	}
	for c := range copies {
		for i, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(dir, fmt.Sprintf("c%02d", c), fmt.Sprintf("%02d%s", i, filepath.Ext(p)))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return copies * len(paths)
}

// The live heap does not grow with the number of files: a run of 6N files holds at its
// peak what a run of N files holds (pools that only grow, slot buffers that grow with
// every larger batch, records kept per file would all show). A bound on bytes, not a timing.
func TestLiveHeapFlatOverManyFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("a long run")
	}
	if raceEnabled {
		// The detector's shadow memory and slower runs change what the heap holds and
		// make the run ten times longer; the test runs without it (make nocgo, go test).
		t.Skip("the race detector changes what the heap holds")
	}
	peaks := map[int]uint64{}
	for _, copies := range []int{4, 24} {
		in, out := t.TempDir(), t.TempDir()
		n := photoSet(t, in, copies, cameraPhotos...)
		runtime.GC()
		w := watchLiveHeap()
		rep, err := Run(context.Background(), Config{
			Inputs: []string{in}, Output: out, Chain: mustChain(t, "fit=256"), Format: "jpeg", Quality: 85,
			Devices: []gpu.Device{cpuDevice(t)}, DecodeWorkers: 2, EncodeWorkers: 2,
		})
		peak := w.Stop()
		if err != nil || rep.Counts.Done != int64(n) {
			t.Fatalf("%d files: %v, counts %+v, failures %v", n, err, rep.Counts, rep.Failures)
		}
		peaks[n] = peak
		var q [4]uint64
		for i, v := range w.samples {
			q[i*4/len(w.samples)] = max(q[i*4/len(w.samples)], v)
		}
		t.Logf("%d files: live heap at most %.1f MiB, by quarter %v", n, float64(peak)/(1<<20), q)
	}
	small, large := peaks[24], peaks[144]
	// The collector's timing makes the live heap a noisy figure; growing with the number
	// of files, as it did (3× for 6× the files), is far outside this bound.
	if limit := small + small*35/100 + 4<<20; large > limit {
		t.Errorf("live heap %.1f MiB for 144 files, %.1f MiB for 24: it grows with the number of files",
			float64(large)/(1<<20), float64(small)/(1<<20))
	}
}

// With a budget, what the images hold at once stays under it, whatever the worker count:
// the budget's own peak is checked, and the live heap stays under the whole budget.
func TestBudgetBoundsWhatImagesHold(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	n := photoSet(t, in, 3, smallPhotos...)
	const budget = 160 << 20
	runtime.GC()
	w := watchLiveHeap()
	cfg := Config{
		Inputs: []string{in}, Output: out, Chain: mustChain(t, "grey"), Format: "png", // full size outputs
		Devices: []gpu.Device{cpuDevice(t)}, DecodeWorkers: 8, EncodeWorkers: 8, MaxMemory: budget,
	}
	r, err := newRun(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	if err := r.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	peak := w.Stop()
	rep := r.rec.Report(r.p.Stats(), nil)
	if rep.Counts.Done != int64(n) {
		t.Fatalf("counts %+v, failures %v", rep.Counts, rep.Failures)
	}
	if p, limit := r.budget.Peak(), r.budget.Limit(); p > limit || p == 0 {
		t.Errorf("images held %d bytes at once, budget %d", p, limit)
	}
	if r.budget.Used() != 0 {
		t.Errorf("%d bytes still charged after the run", r.budget.Used())
	}
	if peak > budget {
		t.Errorf("live heap reached %.1f MiB in a budget of %.0f MiB", float64(peak)/(1<<20), float64(budget)/(1<<20))
	}
}

// An image that alone needs more than the budget fails with a reason naming the file and
// the budget; the run goes on with the others, and gives every charge back.
func TestImageOverTheBudgetFailsAlone(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	if _, err := samples.Write(filepath.Join(in, "small"), samples.Options{Count: 3, Width: 200, Height: 150}); err != nil {
		t.Fatal(err)
	}
	big := image.NewGray(image.Rect(0, 0, 6000, 4000)) // 24 MB of pixels, 30 KB of PNG
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, big); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(in, "big"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "big", "big.png"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Inputs: []string{in}, Output: out, Chain: mustChain(t, "grey"), Format: "png",
		Devices: []gpu.Device{cpuDevice(t)}, MaxMemory: 160 << 20,
	}
	r, err := newRun(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	if err := r.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep := r.rec.Report(r.p.Stats(), nil)
	if rep.Counts.Done != 3 || rep.Counts.Failed != 1 || len(rep.Failures) != 1 {
		t.Fatalf("counts %+v, failures %v", rep.Counts, rep.Failures)
	}
	f := rep.Failures[0]
	if !strings.Contains(f.Path, "big") || f.Stage != "read" ||
		!strings.Contains(f.Reason, "6000x4000 png needs") || !strings.Contains(f.Reason, "--max-memory 160 MiB") {
		t.Errorf("failure %+v", f)
	}
	if r.budget.Used() != 0 {
		t.Errorf("%d bytes still charged after the run", r.budget.Used())
	}
}

// A cancelled run gives back every charge: of files admitted and waiting, decoding, in
// batches and in slots.
func TestCancelledRunReleasesTheBudget(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	photoSet(t, in, 4, smallPhotos...)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := Config{
		Inputs: []string{in}, Output: out, Chain: mustChain(t, "fit=64"), Format: "jpeg", Quality: 80,
		// A slow device, so that the run is cancelled with images everywhere on the way.
		Devices:       []gpu.Device{cpuDevice(t, cpu.RandomDelays(3, 30*time.Millisecond))},
		DecodeWorkers: 2, MaxMemory: 200 << 20,
	}
	r, err := newRun(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	go func() { // once the first output is written, with the others on their way
		for {
			if m, _ := filepath.Glob(filepath.Join(out, "c*", "*.jpg")); len(m) > 0 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	if err := r.run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %v, want cancelled", err)
	}
	if err := r.decoder.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if u := r.budget.Used(); u != 0 {
		t.Errorf("%d bytes still charged after a cancelled run", u)
	}
}

func TestDefaultMaxMemory(t *testing.T) {
	m := machineMemory()
	for workers, want := range map[int]int64{1: 3 << 29, 2: 3 << 29, 8: 2 << 30, 16: 4 << 30} {
		if m > 0 {
			want = min(want, m/2)
		}
		if got := DefaultMaxMemory(workers); got != want {
			t.Errorf("DefaultMaxMemory(%d) = %s, want %s", workers, pipeline.FormatBytes(got), pipeline.FormatBytes(want))
		}
	}
}
