package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/gpu/gputest"
	"github.com/gpupipe/gpupipe/pipeline"
)

// ledger counts, per batch id, how often a batch was released and how often a Result was
// made of it: each batch must end exactly one way.
type ledger struct {
	created  []atomic.Bool
	released []atomic.Int32
	made     []atomic.Int32
}

func newLedger(n int) *ledger {
	return &ledger{created: make([]atomic.Bool, n), released: make([]atomic.Int32, n), made: make([]atomic.Int32, n)}
}

// check reports ids that were neither released nor made, or more than once.
func (l *ledger) check(t *testing.T, what string) {
	t.Helper()
	bad := 0
	for i := range l.released {
		r, m := l.released[i].Load(), l.made[i].Load()
		want := int32(0) // a batch never made upstream ends no way
		if l.created[i].Load() {
			want = 1
		}
		if r+m != want {
			if bad < 5 {
				t.Errorf("%s: batch %d released %d times, made into a result %d times", what, i, r, m)
			}
			bad++
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d batches in all not accounted for exactly once", what, bad)
	}
}

// relBatch is a batch that holds something to release.
type relBatch struct {
	batch
	l *ledger
}

func (b *relBatch) Release() { b.l.released[b.id].Add(1) }

// relWork runs the test chain on relBatches and counts the results it makes.
type relWork struct{ c *chain }

func (w relWork) Sizes(b *relBatch) (gpu.Sizes, error) { return w.c.Sizes(b.batch) }
func (w relWork) Pack(b *relBatch, host []byte) error  { return w.c.Pack(b.batch, host) }
func (w relWork) Enqueue(s gpu.Stream, b *relBatch, bufs gpu.SlotBuffers) error {
	k, err := s.Device().Kernel(gputest.Kernel) // the kernel of the slot's own device
	if err != nil {
		return err
	}
	c := *w.c
	c.k = k
	return c.Enqueue(s, b.batch, bufs)
}
func (w relWork) Result(b *relBatch, out []byte) (int, error) {
	r, err := w.c.Result(b.batch, out)
	if err != nil {
		return 0, err
	}
	b.l.made[b.id].Add(1)
	return r.id, nil
}

// A run that stops at a random moment (the consumer fails, the context is cancelled, or a
// device faults)
// releases every batch the engine stage received and did not turn into a result: those
// waiting for a slot, those dealt to a device, those in flight.
func TestStageReleasesBatchesDroppedOnStop(t *testing.T) {
	const n = 60
	for iter := range 40 {
		rng := rand.New(rand.NewSource(int64(iter)))
		var faults []cpu.Option
		if iter%3 == 2 { // one device faults part way
			faults = append(faults, cpu.FailLaunch(int64(1+rng.Intn(2*n))))
		}
		devs := []gpu.Device{shaky(t, int64(iter)), shaky(t, int64(iter+1000), faults...)}
		l := newLedger(n)
		ids := make([]int, n)
		for i := range ids {
			ids[i] = i
		}
		batches := randomBatches(int64(iter), n, 500)
		p := pipeline.New()
		src := pipeline.Map(pipeline.FromSlice(p, ids), func(_ context.Context, i int) (*relBatch, error) {
			l.created[i].Store(true)
			return &relBatch{batch: batches[i], l: l}, nil
		})
		out := engine.Stage(src, devs, relWork{newChain(t, devs[0])}, engine.Options{Slots: 2})
		stopAt := rng.Intn(n)
		cancelRun := iter%2 == 0
		ctx, cancel := context.WithCancel(context.Background())
		seen := 0
		pipeline.ForEach(out, func(context.Context, int) error {
			seen++
			if seen == stopAt {
				if cancelRun {
					cancel()
					return nil
				}
				return errors.New("consumer failed")
			}
			time.Sleep(time.Duration(rng.Intn(200)) * time.Microsecond)
			return nil
		})
		if err := p.Run(ctx); iter == 0 {
			t.Logf("run: %v", err)
		}
		cancel()
		l.check(t, fmt.Sprintf("iteration %d (stop at %d, cancel %v)", iter, stopAt, cancelRun))
		for _, d := range devs {
			checkNoLeaks(t, d.(*cpu.Device))
		}
		if t.Failed() {
			return
		}
	}
}

// A consumer of Views that is slow but keeps releasing is not holding the ring: with
// several devices, a View waits in the queue behind the other devices' Views, so each one
// is out for longer than the consumer takes per View, but a release comes every step.
// HoldLimit is the bound on a consumer that stopped releasing, not on a slow one.
func TestViewsSlowConsumerOfManyDevicesIsNotHeld(t *testing.T) {
	const limit = 60 * time.Millisecond
	devs := make([]gpu.Device, 4)
	for i := range devs {
		devs[i] = shaky(t, int64(i))
	}
	w := relWork{newChain(t, devs[0])}
	p := pipeline.New()
	l := newLedger(40)
	ids := make([]int, 40)
	for i := range ids {
		ids[i] = i
	}
	batches := randomBatches(3, len(ids), 100)
	src := pipeline.Map(pipeline.FromSlice(p, ids), func(_ context.Context, i int) (*relBatch, error) {
		l.created[i].Store(true)
		return &relBatch{batch: batches[i], l: l}, nil
	})
	views := engine.Views(src, devs, engine.Enqueuer[*relBatch](w), engine.Options{Slots: 1, HoldLimit: limit})
	n := 0
	pipeline.ForEach(views, func(_ context.Context, v *engine.View[*relBatch]) error {
		defer v.Release()
		n++
		time.Sleep(limit / 2) // a release every half limit: slow, never stuck
		return nil
	}, pipeline.Buffer(len(devs)))
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("after %d views: %v", n, err)
	}
	for _, d := range devs {
		checkNoLeaks(t, d.(*cpu.Device))
	}
}

// Views kept past the end of the run, released twice, from several goroutines at once,
// after the engines closed: each slot's output buffer is freed once and nothing is left.
func TestViewsReleasedTwiceAfterTheRun(t *testing.T) {
	dev := shaky(t, 9)
	batches := randomBatches(9, 3, 200)
	p := pipeline.New()
	views := engine.Views(pipeline.FromSlice(p, batches), []gpu.Device{dev}, engine.Enqueuer[batch](newChain(t, dev)), engine.Options{Slots: 3})
	kept := pipeline.Collect(views)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(kept.Value()) != len(batches) {
		t.Fatalf("%d views for %d batches", len(kept.Value()), len(batches))
	}
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for _, v := range kept.Value() {
				v.Release()
			}
		}()
	}
	for range 4 {
		<-done
	}
	for _, v := range kept.Value() {
		if _, err := v.Float32s(); err == nil {
			t.Errorf("%s: viewed after Release without an error", v.Label())
		}
	}
	checkNoLeaks(t, dev)
}
