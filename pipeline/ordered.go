package pipeline

import (
	"context"
	"sync"
)

// OrderedMap applies fn to every item with Workers goroutines and emits the results in input
// order. At most Window items are between its input and its output at once, so a slow item
// holds back at most Window−1 finished ones: memory stays bounded, and the workers idle once
// the window is full until the slow item is done. A skipped item (SkipErrors) leaves no gap.
//
// Cost: two more hand-overs per item than Map (dispatch and reorder).
func OrderedMap[T, R any](in *Stream[T], fn func(ctx context.Context, x T) (R, error), opts ...Option) *Stream[R] {
	cfg := newConfig(opts)
	if cfg.window <= 0 {
		cfg.window = 2 * cfg.workers
	}
	cfg.window = max(cfg.window, cfg.workers)
	// Counter set 0 belongs to the dispatcher and the emitter (shared); 1.. to the workers.
	s, inq := consume(in, "ordered-map", cfg, cfg.workers+1)
	s.explicitBusy = true
	out := newStream[R](s)
	s.run = func(ctx context.Context) {
		o := &reorder[T, R]{
			s: s, fn: fn, in: inq, out: out.out(),
			jobs:    make(chan seqItem[T], cfg.workers),
			results: make(chan seqResult[R], cfg.window),
			tokens:  make(chan struct{}, cfg.window),
		}
		o.run(ctx)
		close(out.ch)
	}
	return out
}

type seqItem[T any] struct {
	seq int
	x   T
}

type seqResult[R any] struct {
	seq int
	r   R
	ok  bool // false: the item was skipped
}

// reorder is one run of an OrderedMap: a dispatcher that numbers items and takes a window
// token for each, workers, and an emitter that puts results back in order and returns the
// tokens. results has room for a whole window, so workers never block on it.
type reorder[T, R any] struct {
	s       *stage
	fn      func(context.Context, T) (R, error)
	in      <-chan T
	out     chan<- R
	jobs    chan seqItem[T]
	results chan seqResult[R]
	tokens  chan struct{}
}

func (o *reorder[T, R]) run(ctx context.Context) {
	var workers, all sync.WaitGroup
	o.goRecover(ctx, &all, func() error { o.dispatch(ctx); return nil })
	for i := range o.s.cfg.workers {
		workers.Add(1)
		o.goRecover(ctx, &all, func() error {
			defer workers.Done()
			return o.work(ctx, &o.s.counters[i+1])
		})
	}
	o.goRecover(ctx, &all, func() error {
		workers.Wait()
		close(o.results)
		return nil
	})
	o.goRecover(ctx, &all, func() error { o.emit(ctx); return nil })
	all.Wait()
}

func (o *reorder[T, R]) goRecover(ctx context.Context, wg *sync.WaitGroup, f func() error) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			if v := recover(); v != nil {
				o.s.p.fail(o.s, ctx, recovered(v))
			}
		}()
		o.s.p.fail(o.s, ctx, f())
	}()
}

func (o *reorder[T, R]) dispatch(ctx context.Context) {
	defer close(o.jobs)
	c := &o.s.counters[0]
	for seq := 0; ; seq++ {
		x, ok := recv(ctx, o.in, c, true)
		if !ok {
			return
		}
		if !o.acquire(ctx, c) {
			return
		}
		select {
		case o.jobs <- seqItem[T]{seq, x}:
		case <-ctx.Done():
			return
		}
	}
}

// acquire takes a window token. A full window means the oldest item is not out yet, which
// counts as waiting for room downstream.
func (o *reorder[T, R]) acquire(ctx context.Context, c *counters) bool {
	select {
	case o.tokens <- struct{}{}:
		return true
	default:
	}
	t := clock()
	defer func() { c.waitOut.Add(clock() - t) }()
	select {
	case o.tokens <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (o *reorder[T, R]) work(ctx context.Context, c *counters) error {
	for j := range o.jobs {
		t := clock()
		r, err := call1(o.fn, ctx, j.x)
		busySince(c, t, false)
		if err != nil {
			if err = o.s.itemError(ctx, c, j.x, err); err != nil {
				return err
			}
			o.results <- seqResult[R]{seq: j.seq} // skipped: frees its place in the order
			continue
		}
		o.results <- seqResult[R]{seq: j.seq, r: r, ok: true}
	}
	return nil
}

// emit releases results in sequence order. The ring has one entry per window token, and an
// item holds its token until it is emitted, so two pending items never share an entry.
func (o *reorder[T, R]) emit(ctx context.Context) {
	c := &o.s.counters[0]
	ring := make([]seqResult[R], cap(o.tokens))
	have := make([]bool, cap(o.tokens))
	next := 0
	for res := range o.results {
		i := res.seq % len(ring)
		ring[i], have[i] = res, true
		for i = next % len(ring); have[i]; i = next % len(ring) {
			r := ring[i]
			ring[i], have[i] = seqResult[R]{}, false
			if r.ok && !send(ctx, o.out, r.r, c, true) {
				return
			}
			<-o.tokens
			next++
		}
	}
}
