package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
)

// ledger follows every item of a run: made by a source, then either delivered (reached the
// end of the pipeline) or released, exactly once, never both.
type ledger struct {
	t        *testing.T
	mu       sync.Mutex
	made     int
	released map[int]int
	consumed map[int]int
}

func newLedger(t *testing.T) *ledger {
	return &ledger{t: t, released: map[int]int{}, consumed: map[int]int{}}
}

// item is released by the pipeline when it is dropped.
type item struct {
	id int
	l  *ledger
}

func (l *ledger) make() *item {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.made++
	return &item{id: l.made - 1, l: l}
}

func (it *item) Release() {
	it.l.mu.Lock()
	defer it.l.mu.Unlock()
	it.l.released[it.id]++
}

func (it *item) Label() string { return fmt.Sprintf("item%d", it.id) }

func (it *item) isReleased() bool {
	it.l.mu.Lock()
	defer it.l.mu.Unlock()
	return it.l.released[it.id] > 0
}

func (l *ledger) consume(it *item) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.consumed[it.id]++
}

// check verifies that every item made was consumed or released, exactly once.
func (l *ledger) check(what string) (consumed, released int) {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.made {
		c, r := l.consumed[id], l.released[id]
		if c+r != 1 {
			l.t.Errorf("%s: item %d consumed %d times and released %d times", what, id, c, r)
		}
	}
	for id := range l.released {
		if id >= l.made {
			l.t.Errorf("%s: released item %d was never made", what, id)
		}
	}
	return len(l.consumed), len(l.released)
}

// source makes n items (or items until the run ends, when n < 0).
func (l *ledger) source(p *pipeline.Pipeline, n int, opts ...pipeline.Option) *pipeline.Stream[*item] {
	return pipeline.Generate(p, func(ctx context.Context, emit func(*item) error) error {
		for i := 0; n < 0 || i < n; i++ {
			if err := emit(l.make()); err != nil {
				return err
			}
		}
		return nil
	}, opts...)
}

func failing(it *item) bool { return it.id%5 == 3 }

// skipHandler checks that the item is not released before the handler has seen it, and
// records the ids it saw.
func skipHandler(t *testing.T, seen *[]int, mu *sync.Mutex) pipeline.Option {
	return pipeline.SkipErrors(func(e *pipeline.StageError) {
		it := e.Item.(*item)
		if it.isReleased() {
			t.Errorf("%s was released before the SkipErrors handler saw it", it.Label())
		}
		mu.Lock()
		*seen = append(*seen, it.id)
		mu.Unlock()
	})
}

// Every way of failing an item under SkipErrors releases that item, once, after the
// handler, and only that item.
func TestSkipErrorsReleasesTheFailedItem(t *testing.T) {
	const n = 100
	bad := errors.New("bad item")
	stages := map[string]func(in *pipeline.Stream[*item], opt pipeline.Option) *pipeline.Stream[*item]{
		"map": func(in *pipeline.Stream[*item], opt pipeline.Option) *pipeline.Stream[*item] {
			return pipeline.Map(in, func(_ context.Context, it *item) (*item, error) {
				if failing(it) {
					return nil, bad
				}
				return it, nil
			}, pipeline.Workers(3), opt)
		},
		"ordered-map": func(in *pipeline.Stream[*item], opt pipeline.Option) *pipeline.Stream[*item] {
			return pipeline.OrderedMap(in, func(_ context.Context, it *item) (*item, error) {
				if failing(it) {
					panic("a bad item") // a panic is a failure like any other
				}
				return it, nil
			}, pipeline.Workers(3), opt)
		},
		"flat-map": func(in *pipeline.Stream[*item], opt pipeline.Option) *pipeline.Stream[*item] {
			return pipeline.FlatMap(in, func(_ context.Context, it *item, emit func(*item) error) error {
				if failing(it) {
					return bad
				}
				return emit(it)
			}, pipeline.Workers(3), opt)
		},
		"for-each": nil, // the sink itself fails: see below
		"custom": func(in *pipeline.Stream[*item], opt pipeline.Option) *pipeline.Stream[*item] {
			return pipeline.Custom(in, func(ctx context.Context, io *pipeline.IO[*item, *item]) error {
				for {
					it, ok := io.Recv()
					if !ok {
						return nil
					}
					if failing(it) {
						if err := io.Fail(it, bad); err != nil {
							return err
						}
						continue
					}
					if err := io.Send(it); err != nil {
						return err
					}
				}
			}, pipeline.Workers(2), opt)
		},
	}
	for name, stage := range stages {
		t.Run(name, func(t *testing.T) {
			l := newLedger(t)
			var mu sync.Mutex
			var seen []int
			p := pipeline.New()
			src := l.source(p, n)
			opt := skipHandler(t, &seen, &mu)
			consume := func(_ context.Context, it *item) error {
				if it.isReleased() {
					t.Errorf("%s reached the sink released", it.Label())
				}
				l.consume(it)
				return nil
			}
			if stage != nil {
				pipeline.ForEach(stage(src, opt), consume)
			} else {
				pipeline.ForEach(src, func(ctx context.Context, it *item) error {
					if failing(it) {
						return bad
					}
					return consume(ctx, it)
				}, pipeline.Workers(3), opt)
			}
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			consumed, released := l.check(name)
			slices.Sort(seen)
			var want []int
			for id := range n {
				if id%5 == 3 {
					want = append(want, id)
				}
			}
			if !slices.Equal(seen, want) || released != len(want) || consumed != n-len(want) {
				t.Errorf("handler saw %v; %d released, %d consumed; want %v failed", seen, released, consumed, want)
			}
		})
	}
}

// The item that stops a run (no SkipErrors) is released too, after Run has put it in its
// error; so are the items still in the queues behind it.
func TestFailedItemThatStopsTheRunIsReleased(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		l := newLedger(t)
		p := pipeline.New()
		fn := func(_ context.Context, it *item) (*item, error) {
			if it.id == 10 {
				time.Sleep(time.Millisecond) // the queues fill up meanwhile
				return nil, errors.New("corrupt")
			}
			return it, nil
		}
		var out *pipeline.Stream[*item]
		if ordered {
			// One worker: once it has failed, the job it would have taken next is left.
			out = pipeline.OrderedMap(l.source(p, 50), fn, pipeline.Name("decode"))
		} else {
			out = pipeline.Map(l.source(p, 50), fn, pipeline.Name("decode"))
		}
		pipeline.ForEach(out, func(_ context.Context, it *item) error { l.consume(it); return nil })
		err := p.Run(context.Background())
		var se *pipeline.StageError
		if !errors.As(err, &se) || se.Item.(*item).id != 10 || !se.Item.(*item).isReleased() {
			t.Fatalf("ordered=%v: Run returned %v, want the failure of item 10, released", ordered, err)
		}
		if msg := err.Error(); msg != `stage "decode": item "item10": corrupt` {
			t.Errorf("message %q", msg) // the label still works on a released item
		}
		l.check(fmt.Sprintf("ordered=%v", ordered))
	}
}

// Unbatch releases the rest of the slice it could not hand on.
func TestUnbatchReleasesTheRestOfItsSlice(t *testing.T) {
	l := newLedger(t)
	p := pipeline.New()
	batches := pipeline.Generate(p, func(ctx context.Context, emit func([]*item) error) error {
		return emit([]*item{l.make(), l.make(), l.make(), l.make()})
	})
	items := pipeline.Unbatch(batches, pipeline.Buffer(0))
	pipeline.ForEach(items, func(_ context.Context, it *item) error {
		if it.id == 1 {
			return errors.New("stop")
		}
		l.consume(it)
		return nil
	}, pipeline.Buffer(0))
	if err := p.Run(context.Background()); err == nil {
		t.Fatal("the run did not stop")
	}
	if consumed, released := l.check("unbatch"); consumed != 1 || released != 3 {
		t.Errorf("%d consumed, %d released", consumed, released)
	}
}

// Filter releases the items it filters out; Discard every item.
func TestFilterAndDiscardRelease(t *testing.T) {
	l := newLedger(t)
	p := pipeline.New()
	odd := pipeline.Filter(l.source(p, 100), func(_ context.Context, it *item) (bool, error) {
		return it.id%2 == 1, nil
	}, pipeline.Workers(2))
	half := pipeline.Filter(odd, func(_ context.Context, it *item) (bool, error) { return it.id < 50, nil })
	kept := pipeline.Collect(half)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, it := range kept.Value() {
		l.consume(it)
	}
	if consumed, released := l.check("filter"); consumed != 25 || released != 75 {
		t.Errorf("%d kept, %d released; want 25 and 75", consumed, released)
	}

	l = newLedger(t)
	p = pipeline.New()
	pipeline.Discard(l.source(p, 30))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if consumed, released := l.check("discard"); consumed != 0 || released != 30 {
		t.Errorf("discard: %d consumed, %d released", consumed, released)
	}
}

// buildLong builds a pipeline through every kind of stage, with random delays, whose sink
// consumes items; with sinkErrAt > 0 the sink calls fail on that many-th item instead.
func buildLong(p *pipeline.Pipeline, l *ledger, rng *rand.Rand, sinkErrAt int64, fail func() error) {
	buf := func() pipeline.Option { return pipeline.Buffer(rng.IntN(4)) }
	delay := func(max time.Duration) {
		if d := time.Duration(rand.Int64N(int64(max))); d > max/2 {
			time.Sleep(d)
		}
	}
	same := func(_ context.Context, it *item) (*item, error) { delay(50 * time.Microsecond); return it, nil }
	s := l.source(p, -1, pipeline.Name("src"))
	s = pipeline.Map(s, same, pipeline.Workers(3), buf(), pipeline.Name("map"))
	s = pipeline.OrderedMap(s, same, pipeline.Workers(3), pipeline.Window(1+rng.IntN(6)), buf(), pipeline.Name("ordered"))
	batches := pipeline.Batch(s, 1+rng.IntN(5), time.Duration(rng.IntN(2))*time.Millisecond, buf(), pipeline.Name("batch"))
	batches = pipeline.Map(batches, func(_ context.Context, b []*item) ([]*item, error) { return b, nil }, pipeline.Workers(2), buf(), pipeline.Name("batches"))
	s = pipeline.Unbatch(batches, buf(), pipeline.Name("unbatch"))
	s = pipeline.FlatMap(s, func(_ context.Context, it *item, emit func(*item) error) error {
		delay(20 * time.Microsecond)
		return emit(it)
	}, pipeline.Workers(2), buf(), pipeline.Name("flat"))
	s = pipeline.Filter(s, func(_ context.Context, it *item) (bool, error) { return it.id%7 != 0, nil }, pipeline.Workers(2), buf(), pipeline.Name("filter"))
	s = pipeline.Custom(s, func(ctx context.Context, io *pipeline.IO[*item, *item]) error {
		for {
			it, ok := io.Recv()
			if !ok {
				return nil
			}
			if err := io.Send(it); err != nil {
				return err
			}
		}
	}, pipeline.Workers(2), buf(), pipeline.Name("custom"))
	var seen atomic.Int64
	pipeline.ForEach(s, func(_ context.Context, it *item) error {
		if seen.Add(1) == sinkErrAt {
			return fail() // the pipeline releases it
		}
		delay(100 * time.Microsecond)
		l.consume(it)
		return nil
	}, pipeline.Workers(2), buf(), pipeline.Name("sink"))
}

// Cancelling a run at a random moment drops items all over the pipeline: each is released
// once, and none that reached the sink is.
func TestCancelReleasesEveryDroppedItemOnce(t *testing.T) {
	iterations := 60
	if testing.Short() {
		iterations = 15
	}
	for i := range iterations {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		l := newLedger(t)
		p := pipeline.New()
		buildLong(p, l, rng, 0, nil)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+rng.IntN(8000))*time.Microsecond)
		err := p.Run(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("iteration %d: Run returned %v", i, err)
		}
		l.check(fmt.Sprintf("iteration %d", i))
		if t.Failed() {
			return
		}
	}
}

// An error in the last stage stops a run whose queues upstream are full: every item still
// in them, or held by a stage, is released.
func TestDownstreamErrorReleasesFullQueues(t *testing.T) {
	for i := range 20 {
		rng := rand.New(rand.NewPCG(uint64(i), 11))
		l := newLedger(t)
		p := pipeline.New()
		queued := 0
		// The sink fails once every queue before it is full.
		fail := func() error {
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Microsecond) {
				n, full := 0, true
				for _, s := range p.Stats() {
					n += s.QueueLen
					full = full && (s.Name == "sink" || s.QueueLen == s.QueueCap)
				}
				if full {
					queued = n
					return errors.New("sink failed")
				}
			}
			t.Error("the queues never filled up")
			return errors.New("sink failed")
		}
		buildLong(p, l, rng, int64(1+rng.IntN(40)), fail)
		err := p.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "sink failed") {
			t.Fatalf("iteration %d: Run returned %v", i, err)
		}
		consumed, released := l.check(fmt.Sprintf("iteration %d", i))
		if i == 0 {
			t.Logf("%d items queued when the sink failed; %d consumed, %d released", queued, consumed, released)
		}
		if t.Failed() {
			return
		}
	}
}

// closer and errCloser items are closed when dropped; slices have their elements released;
// streams of interfaces release what their dynamic values hold.
type closer struct{ n *atomic.Int64 }

func (c closer) Close() { c.n.Add(1) }

type errCloser struct{ n *atomic.Int64 }

func (c *errCloser) Close() error { c.n.Add(1); return errors.New("ignored") }

func TestReleaseClosesAndWalksSlices(t *testing.T) {
	var n atomic.Int64
	pipeline.Release(closer{&n})
	pipeline.Release(&errCloser{&n})
	pipeline.Release([]any{closer{&n}, nil, 7, [][]closer{{{&n}, {&n}}}})
	pipeline.Release([2]*errCloser{{&n}, nil})
	pipeline.Release((*errCloser)(nil))
	pipeline.Release([]byte("nothing to release"))
	pipeline.Release(nil)
	if n.Load() != 6 {
		t.Fatalf("%d closes, want 6", n.Load())
	}

	// Dropped by Discard: a stream of any, and a stream of batches.
	p := pipeline.New()
	pipeline.Discard(pipeline.FromSlice(p, []any{closer{&n}, "text", &errCloser{&n}}))
	batches := pipeline.Batch(pipeline.FromSlice(p, []closer{{&n}, {&n}, {&n}}), 2, 0)
	pipeline.Discard(batches)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 11 {
		t.Fatalf("%d closes, want 11", n.Load())
	}
}

type panicky struct{}

func (panicky) Release() { panic("release failed") }

func TestPanicInReleaseFailsTheRun(t *testing.T) {
	p := pipeline.New()
	pipeline.Discard(pipeline.FromSlice(p, []panicky{{}}), pipeline.Name("sink"))
	err := p.Run(context.Background())
	var pe *pipeline.PanicError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "release failed") {
		t.Fatalf("Run returned %v, want the Release panic", err)
	}
}
