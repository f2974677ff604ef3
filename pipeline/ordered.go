package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
)

// OrderedMap applies fn to every item with Workers goroutines and emits the results in input
// order. At most Window items are between its input and its output at once, so a slow item
// holds back at most Window−1 finished ones: memory stays bounded, and the workers idle once
// the window is full until the slow item is done (that idle time is the stage's WaitOrder in
// its statistics). A skipped item (SkipErrors) leaves no gap.
//
// Items are released as Map's are (see "Dropped items" in the package documentation); when
// the run ends early that includes the finished results waiting in the reorder window and
// the items dispatched to workers that had not started them.
//
// Cost: two more hand-overs per item than Map (dispatch and reorder).
func OrderedMap[T, R any](in *Stream[T], fn func(ctx context.Context, x T) (R, error), opts ...Option) *Stream[R] {
	cfg := newConfig(opts)
	if cfg.window <= 0 {
		cfg.window = 2 * cfg.workers
	}
	cfg.window = max(cfg.window, cfg.workers)
	// Counter set 0 belongs to the dispatcher, 1 to the emitter, 2.. to the workers.
	s, inq := consume(in, "ordered-map", cfg, cfg.workers+2)
	s.counters[0].aux, s.counters[1].aux = true, true
	fn = withRetry(s, fn)
	out := newStream[R](s)
	dropIn, dropOut := dropper[T](s), dropper[R](s)
	count := unitCounter[T](s)
	s.run = func(ctx context.Context) {
		o := &reorder[T, R]{
			s: s, fn: fn, in: inq, out: out.out(), dropIn: dropIn, dropOut: dropOut, count: count,
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
	ok  bool // false: the item was skipped or dropped
}

// reorder is one run of an OrderedMap: a dispatcher that numbers items and takes a window
// token for each, workers, and an emitter that puts results back in order and returns the
// tokens. results has room for a whole window, so workers never block on it.
//
// Statistics: the workers' busy time is derived, as in Map, and their idle time (waiting for
// a job) is split by cause. While the window is full (the dispatcher waits for a token), the
// workers wait either for room downstream, when the emitter is blocked sending (WaitOut), or
// for the oldest item of the window (WaitOrder). Otherwise they wait for input (WaitIn).
type reorder[T, R any] struct {
	s       *stage
	fn      func(context.Context, T) (R, error)
	in      <-chan T
	out     chan<- R
	dropIn  func(T)
	dropOut func(R)
	count   func(T) int
	jobs    chan seqItem[T]
	results chan seqResult[R]
	tokens  chan struct{}
	full    stopwatch // the dispatcher waiting for a token: the window is full
}

func (o *reorder[T, R]) run(ctx context.Context) {
	var workers, all sync.WaitGroup
	o.goRecover(ctx, &all, func() error { o.dispatch(ctx); return nil })
	for i := range o.s.cfg.workers {
		workers.Add(1)
		c := &o.s.counters[i+2]
		c.start.Store(clock())
		o.goRecover(ctx, &all, func() error {
			defer workers.Done()
			defer func() { c.end.Store(clock()) }()
			return o.work(ctx, c)
		})
	}
	o.goRecover(ctx, &all, func() error {
		workers.Wait()
		// Jobs no worker took (they all stopped on errors) are dropped.
		for j := range o.jobs {
			o.drop(j.x)
		}
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

func (o *reorder[T, R]) drop(x T) {
	if o.dropIn != nil {
		o.dropIn(x)
	}
}

func (o *reorder[T, R]) dropResult(r R) {
	if o.dropOut != nil {
		o.dropOut(r)
	}
}

func (o *reorder[T, R]) dispatch(ctx context.Context) {
	defer close(o.jobs)
	c := &o.s.counters[0]
	for seq := 0; ; seq++ {
		x, ok := recv(ctx, o.in, c, false)
		if !ok {
			return
		}
		if !o.acquire(ctx) {
			o.drop(x)
			return
		}
		select {
		case o.jobs <- seqItem[T]{seq, x}:
		case <-ctx.Done():
			o.drop(x)
			return
		}
	}
}

// acquire takes a window token. A full window means the oldest item is not out yet.
func (o *reorder[T, R]) acquire(ctx context.Context) bool {
	select {
	case o.tokens <- struct{}{}:
		return true
	default:
	}
	o.full.start(clock())
	defer func() { o.full.stop(clock()) }()
	select {
	case o.tokens <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (o *reorder[T, R]) work(ctx context.Context, c *counters) error {
	for {
		j, ok := o.next(c)
		if !ok {
			return nil
		}
		if ctx.Err() != nil { // the run is over: drop the item rather than work on it
			o.drop(j.x)
			o.results <- seqResult[R]{seq: j.seq}
			continue
		}
		r, err := call1(o.fn, ctx, j.x)
		if err != nil {
			err = o.s.itemError(ctx, c, j.x, unitsOf(o.count, j.x), err)
			o.drop(j.x)
			if err != nil {
				return err
			}
			o.results <- seqResult[R]{seq: j.seq} // skipped: frees its place in the order
			continue
		}
		if o.count != nil {
			bump(&c.doneUnits, int64(o.count(j.x)))
		}
		o.results <- seqResult[R]{seq: j.seq, r: r, ok: true}
	}
}

// next takes the next job for a worker. Time spent waiting for one is split by its cause
// (see reorder).
func (o *reorder[T, R]) next(c *counters) (seqItem[T], bool) {
	select {
	case j, ok := <-o.jobs:
		return j, ok
	default:
	}
	t0 := c.beginWait()
	full0, out0 := o.full.read(t0), o.emitterBlocked(t0)
	j, ok := <-o.jobs
	t1 := clock()
	full1, out1 := o.full.read(t1), o.emitterBlocked(t1)
	d := t1 - t0
	full := min(max(full1-full0, 0), d)
	out := min(max(out1-out0, 0), full)
	c.waits.Add(1)
	bump(&c.waitIn, d-full)
	bump(&c.waitOut, out)
	bump(&c.waitOrder, full-out)
	c.blocked.Store(0)
	c.waits.Add(1)
	return j, ok
}

// emitterBlocked is the emitter's time blocked on a full downstream queue up to clock
// reading now, the wait in progress included.
func (o *reorder[T, R]) emitterBlocked(now int64) int64 {
	w, blocked, _ := o.s.counters[1].waitState()
	if blocked != 0 && now > blocked {
		w.out += now - blocked
	}
	return w.out
}

// emit hands results on in sequence order. The ring has one entry per window token, and an
// item holds its token until it is emitted, so two pending items never share an entry. Once
// a result cannot be handed on (the run is ending), it and every later one are dropped.
func (o *reorder[T, R]) emit(ctx context.Context) {
	c := &o.s.counters[1]
	ring := make([]seqResult[R], cap(o.tokens))
	have := make([]bool, cap(o.tokens))
	next := 0
	sending := true
	for res := range o.results {
		if !sending {
			if res.ok {
				o.dropResult(res.r)
			}
			continue
		}
		i := res.seq % len(ring)
		ring[i], have[i] = res, true
		for i = next % len(ring); have[i]; i = next % len(ring) {
			r := ring[i]
			ring[i], have[i] = seqResult[R]{}, false
			if r.ok && !send(ctx, o.out, r.r, c, false) {
				o.dropResult(r.r)
				sending = false
				break
			}
			<-o.tokens
			next++
		}
	}
	// Results behind a gap (an item whose worker stopped the run) never go out.
	for i := range ring {
		if have[i] && ring[i].ok {
			o.dropResult(ring[i].r)
		}
	}
}

// stopwatch adds up the time one goroutine spends in one kind of wait, and can be read from
// any goroutine at any moment, the wait in progress included.
type stopwatch struct {
	seq, total, since atomic.Int64
}

func (w *stopwatch) start(t int64) { w.since.Store(t) }

func (w *stopwatch) stop(t int64) {
	w.seq.Add(1)
	w.total.Store(w.total.Load() + t - w.since.Load())
	w.since.Store(0)
	w.seq.Add(1)
}

func (w *stopwatch) read(now int64) int64 {
	var total, since int64
	for range 4 {
		v := w.seq.Load()
		total, since = w.total.Load(), w.since.Load()
		if v%2 == 0 && w.seq.Load() == v {
			break
		}
	}
	if since != 0 && now > since {
		total += now - since
	}
	return total
}
