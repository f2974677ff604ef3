package engine_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/pipeline"
)

// viewsRun runs batches through a Views stage in a pipeline and collects what the sink saw,
// releasing every View.
func viewsRun(ctx context.Context, dev gpu.Device, work engine.Enqueuer[batch], batches []batch, opts ...pipeline.Option) ([]result, *pipeline.Pipeline, error) {
	p := pipeline.New()
	src := pipeline.FromSlice(p, batches)
	views := engine.Views(src, []gpu.Device{dev}, work, engine.Options{Slots: 3}, append(opts, pipeline.Name("gpu"))...)
	var mu sync.Mutex
	var results []result
	pipeline.ForEach(views, func(_ context.Context, v *engine.View[batch]) error {
		defer v.Release()
		mu.Lock()
		defer mu.Unlock()
		results = append(results, result{seq: v.Seq, id: v.Batch.id, out: bytes.Clone(v.Out)})
		return nil
	})
	err := p.Run(ctx)
	return results, p, err
}

// stageRun runs batches through a typed Stage and collects the results.
func stageRun(ctx context.Context, dev gpu.Device, work *chain, batches []batch, opts ...pipeline.Option) ([]result, *pipeline.Pipeline, error) {
	p := pipeline.New()
	src := pipeline.FromSlice(p, batches)
	out := engine.Stage(src, []gpu.Device{dev}, work, engine.Options{Slots: 3}, opts...)
	results := pipeline.Collect(out)
	err := p.Run(ctx)
	return results.Value(), p, err
}

func stageStats(p *pipeline.Pipeline, name string) pipeline.StageStats {
	for _, s := range p.Stats() {
		if s.Name == name {
			return s
		}
	}
	return pipeline.StageStats{}
}

func TestViewsMatchSynchronousRun(t *testing.T) {
	batches := randomBatches(20, 120, 4000)
	want := reference(t, batches)
	dev := shaky(t, 20)
	results, p, err := viewsRun(context.Background(), dev, newChain(t, dev), batches)
	must(t, err)
	if m := mismatch(results, want); m != "" {
		t.Fatal(m)
	}
	st := stageStats(p, "gpu")
	if st.In != 120 || st.Out != 120 || st.Extra["batches"] != 120 || st.Extra["slots"] != 3 || st.Extra["devices"] != 1 {
		t.Errorf("gpu stage stats: in %d, out %d, extra %v", st.In, st.Out, st.Extra)
	}
	if st.Busy <= 0 {
		t.Errorf("gpu stage busy %v, want > 0", st.Busy)
	}
	checkNoLeaks(t, dev)
}

// The typed stage hands out what Result made of each batch, in order, and releases every
// slot itself.
func TestStageMatchesSynchronousRun(t *testing.T) {
	batches := randomBatches(24, 120, 4000)
	want := reference(t, batches)
	dev := shaky(t, 24)
	results, p, err := stageRun(context.Background(), dev, newChain(t, dev), batches)
	must(t, err)
	if m := mismatch(results, want); m != "" {
		t.Fatal(m)
	}
	if st := stageStats(p, "gpu"); st.Out != 120 || st.Extra["batches"] != 120 || st.Busy <= 0 {
		t.Errorf("the stage is named gpu by default and counts its batches: %+v", st)
	}
	checkNoLeaks(t, dev)
}

// A batch that fails alone is skipped and reported under SkipErrors; the rest go through.
func TestViewsSkipBadBatch(t *testing.T) {
	batches := randomBatches(21, 10, 500)
	want := reference(t, batches)
	dev := shaky(t, 21)
	work := newChain(t, dev)
	work.failPack = 4
	var skipped []*pipeline.StageError
	results, _, err := viewsRun(context.Background(), dev, work, batches, pipeline.SkipErrors(func(e *pipeline.StageError) {
		skipped = append(skipped, e)
	}))
	must(t, err)
	if len(skipped) != 1 || !errors.Is(skipped[0], errBadBatch) || !strings.Contains(skipped[0].Error(), "b4") {
		t.Fatalf("skipped %v, want batch b4's pack error", skipped)
	}
	if len(results) != 9 {
		t.Fatalf("%d results, want 9", len(results))
	}
	for _, r := range results {
		if !bytes.Equal(r.out, want[r.id]) {
			t.Errorf("batch %d differs from the reference", r.id)
		}
	}
	checkNoLeaks(t, dev)
}

// A Result that fails is a batch error: skipped under SkipErrors, its slot released all the
// same; without SkipErrors it stops the run with a "result" BatchError.
func TestStageResultError(t *testing.T) {
	batches := randomBatches(25, 12, 500)
	want := reference(t, batches)
	dev := shaky(t, 25)
	work := newChain(t, dev)
	work.failResult = 5
	var skipped []*pipeline.StageError
	results, _, err := stageRun(context.Background(), dev, work, batches, pipeline.SkipErrors(func(e *pipeline.StageError) {
		skipped = append(skipped, e)
	}))
	must(t, err)
	var be *engine.BatchError
	if len(skipped) != 1 || !errors.As(skipped[0], &be) || be.Op != "result" || be.Seq != 5 || !errors.Is(be, errBadBatch) {
		t.Fatalf("skipped %v, want batch 5's result error", skipped)
	}
	if len(results) != 11 {
		t.Fatalf("%d results, want 11", len(results))
	}
	for _, r := range results {
		if !bytes.Equal(r.out, want[r.id]) {
			t.Errorf("batch %d differs from the reference", r.id)
		}
	}
	checkNoLeaks(t, dev)

	_, _, err = stageRun(context.Background(), dev, work, batches, pipeline.Name("typed"))
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != "typed" || !errors.As(err, &be) || be.Op != "result" {
		t.Fatalf("without SkipErrors: got %v, want the stage to stop with batch 5's result error", err)
	}
	checkNoLeaks(t, dev)
}

// A device fault stops the run with an error naming the stage, the batch and the operation.
func TestViewsDeviceFault(t *testing.T) {
	dev := shaky(t, 22, cpu.FailLaunch(15))
	_, _, err := viewsRun(context.Background(), dev, newChain(t, dev), randomBatches(22, 40, 500),
		pipeline.SkipErrors(func(*pipeline.StageError) {})) // device faults are not skippable
	var be *engine.BatchError
	if !errors.As(err, &be) || !errors.Is(err, cpu.ErrInjected) || !strings.Contains(err.Error(), "gpu") ||
		!strings.Contains(err.Error(), "launch") {
		t.Fatalf("got %v, want the stage to stop with a device BatchError naming the launch", err)
	}
	checkNoLeaks(t, dev)
}

// Cancelling the run mid-way returns promptly; the stage waits for device work in flight and
// frees its streams and device buffers. Views dropped in the queue downstream keep only
// their host buffers until the device closes.
func TestViewsCancel(t *testing.T) {
	dev := shaky(t, 23, cpu.WithTiming(cpu.Timing{KernelTime: time.Millisecond}))
	ctx, cancel := context.WithCancel(context.Background())
	p := pipeline.New()
	src := pipeline.FromSlice(p, randomBatches(23, 1000, 100))
	views := engine.Views(src, []gpu.Device{dev}, newChain(t, dev), engine.Options{Slots: 2})
	n := 0
	pipeline.ForEach(views, func(_ context.Context, v *engine.View[batch]) error {
		v.Release()
		if n++; n == 10 {
			cancel()
		}
		return nil
	})
	err := p.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v", err)
	}
	live := dev.Live()
	if live.Streams != 0 || live.Events != 0 || live.DeviceBuffers != 0 || live.HostBuffers > 2 {
		t.Errorf("after a cancelled run the device holds %+v", live)
	}
}

// A consumer that keeps every View and never releases one does not hang the run: once every
// slot has been held for HoldLimit, the stage stops with a HeldError that names the stage,
// the device and what it waits for. Nothing leaks: no goroutine, and no buffer once the
// Views are released.
func TestViewsConsumerHoldingEverySlot(t *testing.T) {
	defer goleak.VerifyNone(t)
	dev := shaky(t, 26)
	const limit = 200 * time.Millisecond
	p := pipeline.New()
	src := pipeline.FromSlice(p, randomBatches(26, 50, 300))
	views := engine.Views(src, []gpu.Device{dev}, newChain(t, dev), engine.Options{Slots: 3, HoldLimit: limit},
		pipeline.Name("hold"))
	var kept []*engine.View[batch]
	pipeline.ForEach(views, func(_ context.Context, v *engine.View[batch]) error {
		kept = append(kept, v) // never released
		return nil
	})
	start := time.Now()
	err := p.Run(context.Background())
	took := time.Since(start)

	var held *engine.HeldError
	var se *pipeline.StageError
	if !errors.As(err, &held) || !errors.As(err, &se) || se.Stage != "hold" {
		t.Fatalf("Run: got %v, want a StageError of stage hold wrapping a HeldError", err)
	}
	t.Logf("after %v: %v", took.Round(time.Millisecond), err)
	if held.Slots != 3 || held.Device != dev.Name() || held.Waited < limit {
		t.Errorf("HeldError %+v: want 3 slots on %s, waited at least %v", held, dev.Name(), limit)
	}
	for _, s := range []string{`stage "hold"`, "View.Release", "3 slots", dev.Name(), "free slot"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if took > limit+2*time.Second {
		t.Errorf("Run took %v to report a held ring with a limit of %v", took, limit)
	}
	if len(kept) != 3 {
		t.Errorf("the consumer got %d Views, want one per slot", len(kept))
	}
	for _, v := range kept {
		if f, err := v.Float32s(); err != nil || len(f) != len(v.Batch.x) {
			t.Errorf("%s: a View still held after the run: %d values, %v", v.Label(), len(f), err)
		}
		v.Release()
	}
	checkNoLeaks(t, dev)
}

// Slots out on the device are not held: a slow device never trips the hold limit.
func TestHoldLimitIgnoresDeviceWork(t *testing.T) {
	dev := shaky(t, 27, cpu.WithTiming(cpu.Timing{KernelTime: 30 * time.Millisecond}))
	results, _, err := stageRunOpts(dev, newChain(t, dev), randomBatches(27, 8, 100), engine.Options{Slots: 1, HoldLimit: 10 * time.Millisecond})
	must(t, err)
	if len(results) != 8 {
		t.Errorf("%d results, want 8", len(results))
	}
	checkNoLeaks(t, dev)
}

func stageRunOpts(dev gpu.Device, work *chain, batches []batch, opts engine.Options) ([]result, *pipeline.Pipeline, error) {
	p := pipeline.New()
	out := engine.Stage(pipeline.FromSlice(p, batches), []gpu.Device{dev}, work, opts)
	results := pipeline.Collect(out)
	err := p.Run(context.Background())
	return results.Value(), p, err
}

// The engine alone reports a held ring from Submit, and waits forever with a negative limit.
func TestEngineHoldLimit(t *testing.T) {
	dev := shaky(t, 28)
	ctx := context.Background()
	for _, limit := range []time.Duration{50 * time.Millisecond, -1} {
		eng, err := engine.New[batch](dev, newChain(t, dev), engine.Options{Slots: 2, HoldLimit: limit})
		must(t, err)
		batches := randomBatches(28, 3, 100)
		var held []*engine.View[batch]
		for _, b := range batches[:2] {
			must(t, eng.Submit(ctx, b))
			v, err := eng.Next(ctx)
			must(t, err)
			held = append(held, v)
		}
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err = eng.Submit(short, batches[2])
		cancel()
		var he *engine.HeldError
		switch {
		case limit > 0 && (!errors.As(err, &he) || he.Slots != 2):
			t.Errorf("limit %v: Submit with every slot held: got %v, want a HeldError", limit, err)
		case limit < 0 && !errors.Is(err, context.DeadlineExceeded):
			t.Errorf("no limit: Submit with every slot held: got %v, want the context's deadline", err)
		}
		// Once a slot comes back, the engine goes on.
		held[0].Release()
		must(t, eng.Submit(ctx, batches[2]))
		v, err := eng.Next(ctx)
		must(t, err)
		v.Release()
		held[1].Release()
		must(t, eng.Close())
	}
	checkNoLeaks(t, dev)
}

// A device fault stops the run even when the input has nothing more to give: a feeder
// waiting for the next batch (from a queue that holds no more) ends with the run instead of
// holding it.
func TestViewsDeviceFaultWithTheInputIdle(t *testing.T) {
	dev := shaky(t, 24, cpu.FailLaunch(1))
	p := pipeline.New()
	in := make(chan batch, 1)
	in <- randomBatches(24, 1, 50)[0] // one batch, and the channel stays open
	views := engine.Views(pipeline.FromChan(p, in), []gpu.Device{dev}, newChain(t, dev), engine.Options{Slots: 2})
	pipeline.ForEach(views, func(_ context.Context, v *engine.View[batch]) error { v.Release(); return nil })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Run(ctx); !errors.Is(err, cpu.ErrInjected) {
		t.Fatalf("got %v, want the device fault (not a hang until the deadline)", err)
	}
	checkNoLeaks(t, dev)
}
