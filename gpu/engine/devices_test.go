package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/device"
	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/gpu/gputest"
	"github.com/gpupipe/gpupipe/pipeline"
)

// The tests of this file spread batches over several devices.

// saxpyWork computes out = x + a·x with the conformance suite's kernel. One saxpyWork serves
// every device: it resolves the kernel on the device of the stream it is given.
type saxpyWork struct {
	badSize func(id int) bool // batches whose Sizes fail
}

// spreadOut is the typed result of one batch.
type spreadOut struct {
	id  int
	out []float32
}

func newSaxpy(t testing.TB, badSize func(int) bool) *saxpyWork {
	t.Helper()
	must(t, gputest.RegisterKernel())
	return &saxpyWork{badSize: badSize}
}

func (w *saxpyWork) Sizes(b batch) (gpu.Sizes, error) {
	if w.badSize != nil && w.badSize(b.id) {
		return gpu.Sizes{}, errBadBatch
	}
	return gpu.Sizes{In: 4 * len(b.x), Out: 4 * len(b.x)}, nil
}

func (w *saxpyWork) Pack(b batch, host []byte) error {
	f, err := gpu.Float32s(host)
	if err != nil {
		return err
	}
	copy(f, b.x)
	return nil
}

func (w *saxpyWork) Enqueue(s gpu.Stream, b batch, bufs gpu.SlotBuffers) error {
	k, err := s.Device().Kernel(gputest.Kernel)
	if err != nil {
		return err
	}
	n := len(b.x)
	if err := s.CopyDtoD(bufs.Out, 0, bufs.In, 0, 4*n); err != nil {
		return err
	}
	grid, block := gpu.Grid1D(n, 64)
	return s.Launch(k, grid, block, gpu.Ptr(bufs.Out, 0), gpu.Ptr(bufs.In, 0), gpu.Float32(b.a),
		gpu.Int32(int32(n)), gpu.Int32(0))
}

func (w *saxpyWork) Result(b batch, out []byte) (spreadOut, error) {
	f, err := gpu.Float32s(out)
	return spreadOut{id: b.id, out: slices.Clone(f)}, err
}

func wantSaxpy(b batch) []float32 {
	y := slices.Clone(b.x)
	gputest.Saxpy(y, b.x, b.a, len(y))
	return y
}

// intBatches makes batches of small integers, whose results are exact on any device.
func intBatches(seed int64, n, maxLen int) []batch {
	rng := rand.New(rand.NewSource(seed))
	out := make([]batch, n)
	for i := range out {
		x := make([]float32, 1+rng.Intn(maxLen))
		for j := range x {
			x[j] = float32(rng.Intn(200) - 100)
		}
		out[i] = batch{id: i, a: float32(rng.Intn(9) - 4), x: x}
	}
	return out
}

// cpuDevices opens n CPU devices; opts(i) configures device i.
func cpuDevices(t *testing.T, n int, opts func(i int) []cpu.Option) []gpu.Device {
	t.Helper()
	devs := make([]gpu.Device, n)
	for i := range devs {
		d, err := cpu.New(append(opts(i), cpu.Name(fmt.Sprintf("cpu%d", i)))...)
		must(t, err)
		devs[i] = d
	}
	t.Cleanup(func() {
		for _, d := range devs {
			if live := d.(*cpu.Device).Live(); live != (cpu.Live{}) {
				t.Errorf("%s still holds %+v", d.Name(), live)
			}
		}
		if err := device.CloseAll(devs); err != nil {
			t.Error(err)
		}
	})
	return devs
}

// spread runs batches through a typed Stage over devs and returns what came out, in order,
// with the stage's statistics and the run's error.
func spread(t *testing.T, devs []gpu.Device, batches []batch, work *saxpyWork, slots int, popts ...pipeline.Option) ([]spreadOut, pipeline.StageStats, error) {
	t.Helper()
	p := pipeline.New()
	out := engine.Stage(pipeline.FromSlice(p, batches), devs, work, engine.Options{Slots: slots},
		append(popts, pipeline.Name("spread"))...)
	results := pipeline.Collect(out)
	err := p.Run(context.Background())
	return results.Value(), stageStats(p, "spread"), err
}

// spreadViews does the same through a Views stage, and checks each View's Seq.
func spreadViews(t *testing.T, devs []gpu.Device, batches []batch, work *saxpyWork, slots int) ([]spreadOut, pipeline.StageStats, error) {
	t.Helper()
	p := pipeline.New()
	views := engine.Views(pipeline.FromSlice(p, batches), devs, work, engine.Options{Slots: slots}, pipeline.Name("spread"))
	var out []spreadOut
	pipeline.ForEach(views, func(_ context.Context, v *engine.View[batch]) error {
		defer v.Release()
		if v.Seq != int64(len(out)) {
			return fmt.Errorf("View %d has Seq %d: not numbered across devices", len(out), v.Seq)
		}
		f, err := v.Float32s()
		out = append(out, spreadOut{id: v.Batch.id, out: slices.Clone(f)})
		return err
	})
	err := p.Run(context.Background())
	return out, stageStats(p, "spread"), err
}

// spreadViewsOpts is spreadViews with spread's signature.
func spreadViewsOpts(t *testing.T, devs []gpu.Device, b []batch, w *saxpyWork, slots int, _ ...pipeline.Option) ([]spreadOut, pipeline.StageStats, error) {
	return spreadViews(t, devs, b, w, slots)
}

func checkSpread(t *testing.T, batches []batch, out []spreadOut, skipped func(int) bool) {
	t.Helper()
	i := 0
	for _, b := range batches {
		if skipped != nil && skipped(b.id) {
			continue
		}
		if i >= len(out) {
			t.Fatalf("%d batches came out, want more: batch %d is missing", len(out), b.id)
		}
		if r := out[i]; r.id != b.id {
			t.Fatalf("output %d is batch %d, want batch %d: order lost", i, r.id, b.id)
		} else if w := wantSaxpy(b); !slices.Equal(r.out, w) {
			t.Fatalf("batch %d = %v, want %v", b.id, r.out, w)
		}
		i++
	}
	if i != len(out) {
		t.Fatalf("%d batches came out, want %d", len(out), i)
	}
}

// batchesRun is the number of batches the statistics say the engines ran.
func batchesRun(st pipeline.StageStats, devices int) float64 {
	if devices == 1 {
		return st.Extra["batches"] // one device: the engine's keys, unprefixed
	}
	var total float64
	for i := range devices {
		total += st.Extra[fmt.Sprintf("dev%d.batches", i)]
	}
	return total
}

func TestSpreadKeepsOrderAcrossDevices(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, n := range []int{1, 2, 3} {
		for _, views := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d devices/views=%v", n, views), func(t *testing.T) {
				devs := cpuDevices(t, n, func(i int) []cpu.Option {
					return []cpu.Option{cpu.RandomDelays(int64(i+1), time.Duration(i+1)*300*time.Microsecond)}
				})
				batches := intBatches(int64(n), 150, 300)
				run := spread
				if views {
					run = spreadViewsOpts
				}
				out, st, err := run(t, devs, batches, newSaxpy(t, nil), 2)
				must(t, err)
				checkSpread(t, batches, out, nil)
				if got := batchesRun(st, n); got != float64(len(batches)) || st.Extra["devices"] != float64(n) {
					t.Errorf("statistics count %v batches on %v devices, want %d on %d", got, st.Extra["devices"], len(batches), n)
				}
				if st.Busy <= 0 {
					t.Errorf("busy %v, want > 0", st.Busy)
				}
			})
		}
	}
}

// Batches are spread over equal devices, each taking a fair share.
func TestSpreadOverDevices(t *testing.T) {
	defer goleak.VerifyNone(t)
	const n, batches = 3, 150
	devs := cpuDevices(t, n, func(i int) []cpu.Option {
		return []cpu.Option{cpu.WithTiming(cpu.Timing{KernelTime: 200 * time.Microsecond}),
			cpu.RandomDelays(int64(20+i), 100*time.Microsecond)}
	})
	bs := intBatches(8, batches, 64)
	out, st, err := spread(t, devs, bs, newSaxpy(t, nil), 2)
	must(t, err)
	checkSpread(t, bs, out, nil)
	for i := range n {
		if got := st.Extra[fmt.Sprintf("dev%d.batches", i)]; got < batches/n/2 {
			t.Errorf("device %d ran %v of %d batches, want at least %d", i, got, batches, batches/n/2)
		}
	}
}

// A much slower device does not break the order; the others take more batches, as far as
// their slots let them run ahead of it.
func TestSpreadWithASlowDevice(t *testing.T) {
	defer goleak.VerifyNone(t)
	devs := cpuDevices(t, 3, func(i int) []cpu.Option {
		if i == 0 {
			return []cpu.Option{cpu.WithTiming(cpu.Timing{KernelTime: 5 * time.Millisecond})}
		}
		return nil
	})
	bs := intBatches(7, 90, 64)
	out, st, err := spread(t, devs, bs, newSaxpy(t, nil), 2)
	must(t, err)
	checkSpread(t, bs, out, nil)
	t.Logf("batches per device: %v %v %v", st.Extra["dev0.batches"], st.Extra["dev1.batches"], st.Extra["dev2.batches"])
}

func TestSpreadSkipsFailedBatches(t *testing.T) {
	defer goleak.VerifyNone(t)
	devs := cpuDevices(t, 2, func(i int) []cpu.Option {
		return []cpu.Option{cpu.RandomDelays(int64(10+i), 200*time.Microsecond)}
	})
	bad := func(id int) bool { return id%7 == 3 }
	batches := intBatches(3, 60, 100)
	var mu sync.Mutex
	var skipped []string
	out, _, err := spread(t, devs, batches, newSaxpy(t, bad), 2, pipeline.SkipErrors(func(e *pipeline.StageError) {
		mu.Lock()
		defer mu.Unlock()
		skipped = append(skipped, e.Error())
	}))
	must(t, err)
	checkSpread(t, batches, out, bad)
	if len(skipped) != 9 {
		t.Errorf("%d batches reported skipped, want 9: %q", len(skipped), skipped)
	}
	for _, s := range skipped {
		if !strings.Contains(s, errBadBatch.Error()) {
			t.Errorf("skip report %q does not carry the batch's error", s)
		}
	}
}

func TestSpreadStopsOnBatchErrorWithoutSkip(t *testing.T) {
	defer goleak.VerifyNone(t)
	devs := cpuDevices(t, 2, func(int) []cpu.Option { return nil })
	_, _, err := spread(t, devs, intBatches(4, 40, 50), newSaxpy(t, func(id int) bool { return id == 11 }), 2)
	var be *engine.BatchError
	if !errors.Is(err, errBadBatch) || !errors.As(err, &be) || be.Seq != 11 {
		t.Fatalf("run error %v; want batch 11's error, numbered across devices", err)
	}
}

func TestSpreadStopsOnDeviceFault(t *testing.T) {
	defer goleak.VerifyNone(t)
	devs := cpuDevices(t, 3, func(i int) []cpu.Option {
		if i == 1 {
			return []cpu.Option{cpu.FailLaunch(3)}
		}
		return []cpu.Option{cpu.RandomDelays(int64(i), 100*time.Microsecond)}
	})
	bs := intBatches(5, 100, 50)
	out, _, err := spread(t, devs, bs, newSaxpy(t, nil), 2)
	var be *engine.BatchError
	if !errors.Is(err, gpu.ErrDevice) || !errors.As(err, &be) || be.Op != "device" {
		t.Fatalf("run error %v, want a device fault", err)
	}
	for i, r := range out {
		if r.id != i {
			t.Fatalf("before the fault, output %d was batch %d", i, r.id)
		}
	}
}

// A consumer that holds every View of every device stops the run with a HeldError.
func TestSpreadConsumerHoldingEverySlot(t *testing.T) {
	defer goleak.VerifyNone(t)
	devs := cpuDevices(t, 2, func(int) []cpu.Option { return nil })
	p := pipeline.New()
	views := engine.Views(pipeline.FromSlice(p, intBatches(9, 40, 50)), devs, newSaxpy(t, nil),
		engine.Options{Slots: 2, HoldLimit: 100 * time.Millisecond})
	var kept []*engine.View[batch]
	pipeline.ForEach(views, func(_ context.Context, v *engine.View[batch]) error {
		kept = append(kept, v)
		return nil
	})
	err := p.Run(context.Background())
	var held *engine.HeldError
	if !errors.As(err, &held) || !strings.Contains(err.Error(), `stage "gpu"`) {
		t.Fatalf("Run: got %v, want a HeldError from stage gpu", err)
	}
	for _, v := range kept {
		v.Release()
	}
}

func TestStageNeedsDevicesAndWork(t *testing.T) {
	defer goleak.VerifyNone(t)
	if _, _, err := spread(t, nil, intBatches(1, 3, 5), newSaxpy(t, nil), 2); err == nil {
		t.Error("a stage without devices ran")
	}
	devs := cpuDevices(t, 2, func(int) []cpu.Option { return nil })
	p := pipeline.New()
	pipeline.Discard(engine.Stage[batch, spreadOut](pipeline.FromSlice(p, intBatches(1, 3, 5)), devs, nil, engine.Options{}))
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "work") {
		t.Errorf("a stage without work: %v, want an error", err)
	}
	if _, _, err := spread(t, devs, intBatches(1, 3, 5), newSaxpy(t, nil), -1); err == nil || !strings.Contains(err.Error(), "cpu0") {
		t.Errorf("a stage whose engines cannot be made: %v, want an error naming the device", err)
	}
}
