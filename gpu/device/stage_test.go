package device

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/gputest"
	"github.com/gpupipe/gpupipe/pipeline"
)

// batch is a test batch: values and a factor that differs per batch, so that an output
// mixed up with another batch's, or taken from the wrong place in the order, is caught.
type batch struct {
	id int
	a  float32
	x  []float32
}

func (b batch) Label() string { return fmt.Sprintf("b%d", b.id) }

// saxpyWork computes out = x + a·x on one device with the conformance suite's kernel.
type saxpyWork struct {
	k       gpu.Kernel
	badSize func(id int) bool // batches whose Sizes fail
}

var errBadBatch = errors.New("bad batch")

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
	n := len(b.x)
	if err := s.CopyDtoD(bufs.Out, 0, bufs.In, 0, 4*n); err != nil {
		return err
	}
	grid, block := gpu.Grid1D(n, 64)
	return s.Launch(w.k, grid, block, gpu.Ptr(bufs.Out, 0), gpu.Ptr(bufs.In, 0), gpu.Float32(b.a),
		gpu.Int32(int32(n)), gpu.Int32(0))
}

func newSaxpy(badSize func(int) bool) func(gpu.Device) (gpu.Work[batch], error) {
	return func(d gpu.Device) (gpu.Work[batch], error) {
		if err := gputest.RegisterKernel(); err != nil {
			return nil, err
		}
		k, err := d.Kernel(gputest.Kernel)
		if err != nil {
			return nil, err
		}
		return &saxpyWork{k: k, badSize: badSize}, nil
	}
}

func want(b batch) []float32 {
	y := append([]float32(nil), b.x...)
	gputest.Saxpy(y, b.x, b.a, len(y))
	return y
}

func randomBatches(seed int64, n, maxLen int) []batch {
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

// cpuDevices opens n CPU devices; opts[i] configures device i.
func cpuDevices(t *testing.T, n int, opts func(i int) []cpu.Option) []gpu.Device {
	t.Helper()
	devs := make([]gpu.Device, n)
	for i := range devs {
		d, err := cpu.New(append(opts(i), cpu.Name(fmt.Sprintf("cpu%d", i)))...)
		if err != nil {
			t.Fatal(err)
		}
		devs[i] = d
	}
	t.Cleanup(func() {
		if err := CloseAll(devs); err != nil {
			t.Error(err)
		}
	})
	return devs
}

// result is one batch handed downstream.
type result struct {
	seq int64
	id  int
	out []float32
}

// run spreads batches over devs and returns what came out, in order, with the stage's
// statistics and the run's error.
func run(t *testing.T, devs []gpu.Device, batches []batch, work func(gpu.Device) (gpu.Work[batch], error),
	slots int, popts ...pipeline.Option) ([]result, pipeline.StageStats, error) {
	t.Helper()
	p := pipeline.New()
	src := pipeline.FromSlice(p, batches)
	done := Stage(src, devs, work, gpu.EngineOptions{Slots: slots}, append(popts, pipeline.Name("spread"))...)
	var out []result
	pipeline.ForEach(done, func(_ context.Context, d *gpu.Done[batch]) error {
		defer d.Release()
		f, err := gpu.Float32s(d.Out)
		if err != nil {
			return err
		}
		out = append(out, result{seq: d.Seq, id: d.Batch.id, out: append([]float32(nil), f...)})
		return nil
	})
	err := p.Run(context.Background())
	var st pipeline.StageStats
	for _, s := range p.Stats() {
		if s.Name == "spread" {
			st = s
		}
	}
	return out, st, err
}

func checkResults(t *testing.T, batches []batch, out []result, skipped func(int) bool) {
	t.Helper()
	i := 0
	for _, b := range batches {
		if skipped != nil && skipped(b.id) {
			continue
		}
		if i >= len(out) {
			t.Fatalf("%d batches came out, want more: batch %d is missing", len(out), b.id)
		}
		r := out[i]
		if r.id != b.id || r.seq != int64(b.id) {
			t.Fatalf("output %d is batch %d (Seq %d), want batch %d: order lost", i, r.id, r.seq, b.id)
		}
		w := want(b)
		for j := range w {
			if r.out[j] != w[j] {
				t.Fatalf("batch %d [%d] = %v, want %v", b.id, j, r.out[j], w[j])
			}
		}
		i++
	}
	if i != len(out) {
		t.Fatalf("%d batches came out, want %d", len(out), i)
	}
}

func TestStageKeepsOrderAcrossDevices(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, n := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("%d devices", n), func(t *testing.T) {
			devs := cpuDevices(t, n, func(i int) []cpu.Option {
				return []cpu.Option{cpu.RandomDelays(int64(i+1), time.Duration(i+1)*300*time.Microsecond)}
			})
			batches := randomBatches(int64(n), 150, 300)
			out, st, err := run(t, devs, batches, newSaxpy(nil), 2)
			if err != nil {
				t.Fatal(err)
			}
			checkResults(t, batches, out, nil)
			var total float64
			for i := range n {
				total += st.Extra[fmt.Sprintf("dev%d.batches", i)]
			}
			if total != float64(len(batches)) || st.Extra["devices"] != float64(n) {
				t.Errorf("statistics count %v batches on %v devices, want %d on %d", total, st.Extra["devices"], len(batches), n)
			}
		})
	}
}

// Batches are spread over equal devices, each taking a fair share.
func TestStageSpreadsOverDevices(t *testing.T) {
	defer goleak.VerifyNone(t)
	const n, batches = 3, 150
	devs := cpuDevices(t, n, func(i int) []cpu.Option {
		return []cpu.Option{cpu.WithTiming(cpu.Timing{KernelTime: 200 * time.Microsecond}),
			cpu.RandomDelays(int64(20+i), 100*time.Microsecond)}
	})
	bs := randomBatches(8, batches, 64)
	out, st, err := run(t, devs, bs, newSaxpy(nil), 2)
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, bs, out, nil)
	for i := range n {
		if got := st.Extra[fmt.Sprintf("dev%d.batches", i)]; got < batches/n/2 {
			t.Errorf("device %d ran %v of %d batches, want at least %d", i, got, batches, batches/n/2)
		}
	}
}

// A much slower device does not break the order; the others take more batches, as far as
// their slots let them run ahead of it.
func TestStageWithASlowDevice(t *testing.T) {
	defer goleak.VerifyNone(t)
	devs := cpuDevices(t, 3, func(i int) []cpu.Option {
		if i == 0 {
			return []cpu.Option{cpu.WithTiming(cpu.Timing{KernelTime: 5 * time.Millisecond})}
		}
		return nil
	})
	bs := randomBatches(7, 90, 64)
	out, st, err := run(t, devs, bs, newSaxpy(nil), 2)
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, bs, out, nil)
	t.Logf("batches per device: %v %v %v", st.Extra["dev0.batches"], st.Extra["dev1.batches"], st.Extra["dev2.batches"])
}

func TestStageSkipsFailedBatches(t *testing.T) {
	defer goleak.VerifyNone(t)
	devs := cpuDevices(t, 2, func(i int) []cpu.Option {
		return []cpu.Option{cpu.RandomDelays(int64(10+i), 200*time.Microsecond)}
	})
	bad := func(id int) bool { return id%7 == 3 }
	batches := randomBatches(3, 60, 100)
	var mu sync.Mutex
	var skipped []string
	out, _, err := run(t, devs, batches, newSaxpy(bad), 2, pipeline.SkipErrors(func(e *pipeline.StageError) {
		mu.Lock()
		defer mu.Unlock()
		skipped = append(skipped, e.Error())
	}))
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, batches, out, bad)
	if len(skipped) != 9 {
		t.Errorf("%d batches reported skipped, want 9: %q", len(skipped), skipped)
	}
	for _, s := range skipped {
		if !strings.Contains(s, errBadBatch.Error()) {
			t.Errorf("skip report %q does not carry the batch's error", s)
		}
	}
}

func TestStageStopsOnBatchErrorWithoutSkip(t *testing.T) {
	defer goleak.VerifyNone(t)
	devs := cpuDevices(t, 2, func(int) []cpu.Option { return nil })
	_, _, err := run(t, devs, randomBatches(4, 40, 50), newSaxpy(func(id int) bool { return id == 11 }), 2)
	var be *gpu.BatchError
	if !errors.Is(err, errBadBatch) || !errors.As(err, &be) || be.Seq != 11 {
		t.Fatalf("run error %v; want batch 11's error, numbered across devices", err)
	}
}

func TestStageStopsOnDeviceFault(t *testing.T) {
	defer goleak.VerifyNone(t)
	devs := cpuDevices(t, 3, func(i int) []cpu.Option {
		if i == 1 {
			return []cpu.Option{cpu.FailLaunch(3)}
		}
		return []cpu.Option{cpu.RandomDelays(int64(i), 100*time.Microsecond)}
	})
	out, _, err := run(t, devs, randomBatches(5, 100, 50), newSaxpy(nil), 2)
	if !errors.Is(err, gpu.ErrDevice) {
		t.Fatalf("run error %v, want a device fault", err)
	}
	for i, r := range out {
		if r.seq != int64(i) {
			t.Fatalf("before the fault, output %d had Seq %d", i, r.seq)
		}
	}
}

func TestStageNeedsDevices(t *testing.T) {
	defer goleak.VerifyNone(t)
	if _, _, err := run(t, nil, randomBatches(1, 3, 5), newSaxpy(nil), 2); err == nil {
		t.Error("a stage without devices ran")
	}
	devs := cpuDevices(t, 2, func(int) []cpu.Option { return nil })
	failing := func(d gpu.Device) (gpu.Work[batch], error) {
		if d == devs[1] {
			return nil, errBadBatch
		}
		return newSaxpy(nil)(d)
	}
	if _, _, err := run(t, devs, randomBatches(1, 3, 5), failing, 2); !errors.Is(err, errBadBatch) {
		t.Errorf("a Work that cannot be made for a device: %v", err)
	}
}
