package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/gpu/gputest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// With random delays on every device operation, a consumer that releases late, and batches
// of random sizes, the engine's outputs are bit-identical to a synchronous run, in order.
func TestEngineMatchesSynchronousRun(t *testing.T) {
	batches := randomBatches(1, 150, 5000)
	want := reference(t, batches)
	for _, slots := range []int{1, 2, 3, 5} {
		for _, engines := range []int{1, 2} {
			t.Run(fmt.Sprintf("slots=%d/copy_engines=%d", slots, engines), func(t *testing.T) {
				dev := shaky(t, int64(slots*10+engines), cpu.CopyEngines(engines))
				eng, err := engine.New[batch](dev, newChain(t, dev), engine.Options{Slots: slots})
				if err != nil {
					t.Fatal(err)
				}
				results, err := drive(context.Background(), eng, batches, int64(slots))
				if cerr := eng.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					t.Fatal(err)
				}
				if m := mismatch(results, want); m != "" {
					t.Fatal(m)
				}
				st := eng.Stats()
				if st.Batches != int64(len(batches)) || len(st.Slots) != slots {
					t.Errorf("stats: %d batches over %d slots, want %d over %d", st.Batches, len(st.Slots), len(batches), slots)
				}
				checkNoLeaks(t, dev)
			})
		}
	}
}

// A producer can write a batch straight into the slot's pinned input buffer.
func TestEngineLease(t *testing.T) {
	batches := randomBatches(2, 40, 3000)
	want := reference(t, batches)
	dev := shaky(t, 2)
	work := newChain(t, dev)
	eng, err := engine.New[batch](dev, work, engine.Options{Slots: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	go func() {
		defer eng.Finish()
		for _, b := range batches {
			sz, _ := work.Sizes(b)
			l, err := eng.Acquire(ctx, sz)
			if err != nil {
				t.Error(err)
				return
			}
			f, _ := gpu.Float32s(l.Input())
			copy(f, b.x)
			if err := l.Submit(b); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	results, err := consume(ctx, eng, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	if m := mismatch(results, want); m != "" {
		t.Fatal(m)
	}
	checkNoLeaks(t, dev)
}

// A device fault at batch k stops the run with an error that names the batch and the failed
// operation; everything is freed and no goroutine is left.
func TestEngineDeviceFault(t *testing.T) {
	const k = 7 // with one slot, launches run in batch order: batch k's first is 2k+1
	batches := randomBatches(3, 30, 2000)
	dev := shaky(t, 3, cpu.FailLaunch(2*k+1))
	eng, err := engine.New[batch](dev, newChain(t, dev), engine.Options{Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	results, err := drive(context.Background(), eng, batches, 4)
	if cerr := eng.Close(); cerr != nil {
		t.Errorf("Close after a fault: %v", cerr)
	}
	var be *engine.BatchError
	var op *gpu.OpError
	if !errors.As(err, &be) || !errors.As(err, &op) || !errors.Is(err, cpu.ErrInjected) {
		t.Fatalf("got %v, want a BatchError wrapping the injected OpError", err)
	}
	if be.Seq != k || be.Label != fmt.Sprintf("b%d", k) || op.Op != "launch "+gputest.Kernel {
		t.Errorf("error %q names batch %d (%s) and op %q, want batch %d and launch %s", err, be.Seq, be.Label, op.Op, k, gputest.Kernel)
	}
	if len(results) != k {
		t.Errorf("%d batches came back before the fault, want %d", len(results), k)
	}
	checkNoLeaks(t, dev)
}

// The same with several slots and random delays: which batch meets the fault depends on the
// interleaving, but the run stops with a named batch and leaves nothing behind.
func TestEngineDeviceFaultManySlots(t *testing.T) {
	for seed := range int64(5) {
		dev := shaky(t, seed, cpu.FailCopy(20+seed))
		eng, err := engine.New[batch](dev, newChain(t, dev), engine.Options{Slots: 3})
		if err != nil {
			t.Fatal(err)
		}
		_, err = drive(context.Background(), eng, randomBatches(seed, 40, 1000), seed)
		if cerr := eng.Close(); cerr != nil {
			t.Errorf("Close after a fault: %v", cerr)
		}
		var be *engine.BatchError
		if !errors.As(err, &be) || be.Op != "device" || !errors.Is(err, gpu.ErrDevice) || !strings.Contains(err.Error(), "copy ") {
			t.Fatalf("seed %d: got %v, want a device BatchError naming a copy", seed, err)
		}
		checkNoLeaks(t, dev)
	}
}

// Errors of one batch fail that batch only; the engine goes on with the next.
func TestEngineBatchErrors(t *testing.T) {
	dev := shaky(t, 4)
	work := newChain(t, dev)
	work.failPack = 2
	eng, err := engine.New[batch](dev, work, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	batches := randomBatches(4, 5, 100)
	go func() {
		defer eng.Finish()
		for _, b := range batches {
			err := eng.Submit(ctx, b)
			var be *engine.BatchError
			switch {
			case b.id != 2 && err != nil:
				t.Errorf("batch %d: %v", b.id, err)
			case b.id == 2 && (!errors.As(err, &be) || be.Seq != 2 || be.Op != "pack" || !errors.Is(err, errBadBatch)):
				t.Errorf("batch 2: got %v, want a pack BatchError", err)
			}
		}
	}()
	results, err := consume(ctx, eng, 5)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, r := range results {
		ids = append(ids, r.id)
	}
	if fmt.Sprint(ids) != "[0 1 3 4]" {
		t.Errorf("batches back: %v, want [0 1 3 4]", ids)
	}
}

// panicky is a Work whose Sizes panics on odd batches.
type panicky struct{ *chain }

func (p panicky) Sizes(b batch) (gpu.Sizes, error) {
	if b.id%2 == 1 {
		var m map[string]int
		m["boom"]++ // a nil map write panics
	}
	return p.chain.Sizes(b)
}

func TestEngineWorkPanicIsABatchError(t *testing.T) {
	dev := shaky(t, 5)
	eng, err := engine.New[batch](dev, panicky{newChain(t, dev)}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	err = eng.Submit(context.Background(), batch{id: 1, x: []float32{1}})
	var be *engine.BatchError
	if !errors.As(err, &be) || be.Op != "sizes" || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("got %v, want a sizes BatchError reporting the panic", err)
	}
}

// A consumer that holds every output leaves the producer waiting for a slot until its
// context ends; outputs released after Close are freed then.
func TestEngineWaitsForRelease(t *testing.T) {
	dev := shaky(t, 6)
	eng, err := engine.New[batch](dev, newChain(t, dev), engine.Options{Slots: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	batches := randomBatches(6, 3, 100)
	var held []*engine.View[batch]
	for _, b := range batches[:2] {
		if err := eng.Submit(ctx, b); err != nil {
			t.Fatal(err)
		}
		d, err := eng.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, d)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := eng.Submit(short, batches[2]); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("submit with every slot held: got %v, want the context's deadline", err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	if live := dev.Live(); live.HostBuffers != 2 || live.Streams != 0 || live.DeviceBuffers != 0 {
		t.Errorf("after Close with two outputs held: %+v, want just their 2 host buffers", live)
	}
	for _, d := range held {
		d.Release()
		d.Release() // harmless
	}
	checkNoLeaks(t, dev)
}

// Slot buffers grow geometrically when a batch does not fit, and not at all once reserved.
func TestEngineSlotGrowth(t *testing.T) {
	dev := shaky(t, 7)
	var batches []batch
	for i := range 200 {
		batches = append(batches, batch{id: i, a: 1, x: make([]float32, 10+i*50)}) // creeping up
	}
	eng, err := engine.New[batch](dev, newChain(t, dev), engine.Options{Slots: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := drive(context.Background(), eng, batches, 7); err != nil {
		t.Fatal(err)
	}
	for i, s := range eng.Stats().Slots {
		// From 40 B to 40 kB by steps of ×1.5 at least: about 17 steps, three buffer pairs.
		if s.Grows > 20 {
			t.Errorf("slot %d grew %d times for 100 batches of creeping size", i, s.Grows)
		}
	}
	must(t, eng.Close())

	max := gpu.Sizes{In: 4 * (10 + 199*50), Out: 4 * (10 + 199*50), Scratch: 4 * (10 + 199*50)}
	eng, err = engine.New[batch](dev, newChain(t, dev), engine.Options{Slots: 2, Reserve: max})
	must(t, err)
	before := eng.Stats().Grows
	_, err = drive(context.Background(), eng, batches, 8)
	must(t, err)
	if after := eng.Stats().Grows; after != before {
		t.Errorf("reserved slots grew %d times", after-before)
	}
	must(t, eng.Close())
	checkNoLeaks(t, dev)
}

// A slot that cannot grow fails the batch with an out-of-memory error, and the engine goes on.
func TestEngineOutOfMemory(t *testing.T) {
	dev := shaky(t, 8, cpu.MemoryLimit(1<<20))
	eng, err := engine.New[batch](dev, newChain(t, dev), engine.Options{Slots: 1})
	must(t, err)
	defer eng.Close()
	ctx := context.Background()
	huge := batch{id: 0, x: make([]float32, 1<<18)} // 3 MiB of buffers
	err = eng.Submit(ctx, huge)
	var be *engine.BatchError
	if !errors.As(err, &be) || be.Op != "allocate" || !errors.Is(err, gpu.ErrOutOfMemory) {
		t.Fatalf("oversized batch: got %v, want an allocate BatchError wrapping ErrOutOfMemory", err)
	}
	must(t, eng.Submit(ctx, batch{id: 1, a: 1, x: make([]float32, 1000)}))
	d, err := eng.Next(ctx)
	must(t, err)
	if d.Seq != 1 || len(d.Out) != 4000 {
		t.Errorf("next batch: seq %d with %d bytes, want seq 1 with 4000", d.Seq, len(d.Out))
	}
	d.Release()
}

func TestEngineStats(t *testing.T) {
	dev := shaky(t, 9, cpu.WithTiming(cpu.Timing{H2DBytesPerSec: 1e9, D2HBytesPerSec: 1e9, KernelTime: 200 * time.Microsecond}))
	eng, err := engine.New[batch](dev, newChain(t, dev), engine.Options{Slots: 2})
	must(t, err)
	batches := randomBatches(9, 20, 1000)
	var in int64
	for _, b := range batches {
		in += int64(4 * len(b.x))
	}
	_, err = drive(context.Background(), eng, batches, 9)
	must(t, err)
	st := eng.Stats()
	must(t, eng.Close())
	if st.Batches != 20 || st.BytesIn != in || st.BytesOut != in {
		t.Errorf("stats: %d batches, %d bytes in, %d out; want 20, %d, %d", st.Batches, st.BytesIn, st.BytesOut, in, in)
	}
	if st.Compute < 20*400*time.Microsecond { // two launches per batch
		t.Errorf("compute time %v is less than the modelled 20×2×200µs", st.Compute)
	}
	if st.Upload <= 0 || st.Download <= 0 || st.Busy <= 0 {
		t.Errorf("upload %v, download %v, busy %v: want all > 0", st.Upload, st.Download, st.Busy)
	}
	var perSlot int64
	for _, s := range st.Slots {
		perSlot += s.Batches
	}
	extra := st.Extra()
	if perSlot != 20 || extra["batches"] != 20 || extra["slot0.batches"]+extra["slot1.batches"] != 20 {
		t.Errorf("per-slot batches %d, extra %v", perSlot, extra)
	}
}

func TestNewEngineErrors(t *testing.T) {
	dev := shaky(t, 10)
	work := newChain(t, dev)
	if _, err := engine.New[batch](nil, work, engine.Options{}); err == nil {
		t.Error("NewEngine without a device succeeded")
	}
	if _, err := engine.New[batch](dev, work, engine.Options{Slots: -1}); err == nil {
		t.Error("NewEngine with -1 slots succeeded")
	}
	if _, err := engine.New[batch](dev, work, engine.Options{Reserve: gpu.Sizes{In: -1}}); err == nil {
		t.Error("NewEngine with a negative reserve succeeded")
	}
	checkNoLeaks(t, dev)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A slot that grew past Keep for an outlier frees its buffers once that batch is done;
// slots within Keep keep theirs. Outputs stay right under random device delays.
func TestEngineKeepShrinksAfterAnOutlier(t *testing.T) {
	dev := shaky(t, 9)
	batches := randomBatches(9, 60, 200) // up to 200 floats: 2.4 kB of buffers a slot
	batches[30].x = make([]float32, 100_000)
	const keep = 16 << 10
	eng, err := engine.New[batch](dev, newChain(t, dev), engine.Options{Slots: 2, Keep: keep})
	must(t, err)
	results, err := drive(context.Background(), eng, batches, 9)
	must(t, err)
	if m := mismatch(results, reference(t, batches)); m != "" {
		t.Fatal(m)
	}
	st := eng.Stats()
	if st.Shrinks != 1 {
		t.Errorf("%d shrinks, want 1 (after the outlier only)", st.Shrinks)
	}
	for i, s := range st.Slots {
		if c := s.Capacity; c.In+c.Out+c.Scratch > keep {
			t.Errorf("slot %d keeps %+v after the run, over Keep %d", i, c, keep)
		}
	}
	must(t, eng.Close())
	checkNoLeaks(t, dev)
}

// On a device that maps host memory (the plain CPU device) each slot's input and output are
// its host buffers: the results are the same, and the device memory held is the scratch.
func TestEngineOnMappedHostMemory(t *testing.T) {
	batches := randomBatches(3, 80, 3000)
	want := reference(t, batches)
	dev, err := cpu.New()
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if !dev.MapsHost() {
		t.Fatal("the plain CPU device does not map host memory")
	}
	eng, err := engine.New[batch](dev, newChain(t, dev), engine.Options{Slots: 2})
	if err != nil {
		t.Fatal(err)
	}
	results, err := drive(context.Background(), eng, batches, 3)
	if err != nil {
		t.Fatal(err)
	}
	if m := mismatch(results, want); m != "" {
		t.Fatal(m)
	}
	// Each slot holds host input, host output and their two mappings, and one scratch
	// buffer of device memory, as large as each of the others.
	live := dev.Live()
	scratch := 0
	for _, s := range eng.Stats().Slots {
		scratch += s.Capacity.Scratch
		if s.Capacity.In != s.Capacity.Scratch || s.Capacity.Out != s.Capacity.Scratch {
			t.Errorf("slot capacities %+v", s.Capacity)
		}
	}
	if live.DeviceBytes != int64(scratch) || live.HostBuffers != 4 || live.DeviceBuffers != 6 {
		t.Errorf("live %+v, want 4 host buffers, 6 device buffers (4 mapped) and %d device bytes", live, scratch)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	checkNoLeaks(t, dev)
}
