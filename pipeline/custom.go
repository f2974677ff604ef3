package pipeline

import (
	"context"
	"time"
)

// Custom adds a stage whose body manages its own input and output, for stages that do not
// fit one-item-in, one-item-out: a GPU engine with batches in flight, an adapter to another
// streaming library. fn runs in Workers goroutines, each with its own IO; the output closes
// when all of them have returned. An error returned by fn stops the run.
//
// Dropped items (see the package documentation): an item fn has received with Recv is fn's
// until it hands it on with Send or gives it back with Fail; fn releases what it drops
// otherwise (Release does what the pipeline would). Items still in the stage's input queue
// when fn returns are the pipeline's, and released; so are the items Send could not hand
// on.
//
// fn may return nil before its input has ended, to take only part of it: once all of the
// stage's goroutines have returned, the stages upstream are told to stop (their context is
// cancelled), the rest of the input is released unseen, and the run ends normally (see
// "Stages that stop early" in the package documentation).
func Custom[T, R any](in *Stream[T], fn func(ctx context.Context, io *IO[T, R]) error, opts ...Option) *Stream[R] {
	cfg := newConfig(opts)
	s, inq := consume(in, "custom", cfg, cfg.workers)
	s.explicitBusy = true
	out := newStream[R](s)
	dropOut, count := dropper[R](s), unitCounter[T](s)
	s.runWorkers(func(ctx context.Context, c *counters) error {
		return fn(ctx, &IO[T, R]{s: s, ctx: ctx, c: c, in: inq, out: out.out(), dropOut: dropOut, count: count})
	}, func() { close(out.ch) })
	return out
}

// IO is a Custom stage's access to its queues and statistics. Its methods are safe for
// concurrent use, so one goroutine may receive while another sends.
type IO[T, R any] struct {
	s       *stage
	ctx     context.Context
	c       *counters
	in      <-chan T
	out     chan<- R
	dropOut func(R)
	count   func(T) int
}

// Recv returns the next input item. It returns false when the input has ended or the run
// is cancelled. Time blocked counts as waiting for input. The item is the caller's from
// then on: it hands it on, gives it back with Fail, or releases it.
func (io *IO[T, R]) Recv() (T, bool) {
	x, ok := recv(io.ctx, io.in, io.c, true)
	if ok && io.count != nil {
		io.c.doneUnits.Add(int64(io.count(x)))
	}
	return x, ok
}

// RecvContext is Recv that also returns false once ctx is done: for a stage whose own
// goroutines stop on a context of their own (one cancelled when another goroutine of the
// stage failed) while the input has nothing more to give them.
func (io *IO[T, R]) RecvContext(ctx context.Context) (T, bool) {
	x, ok := recv(ctx, io.in, io.c, true)
	if ok && io.count != nil {
		io.c.doneUnits.Add(int64(io.count(x)))
	}
	return x, ok
}

// Send hands v downstream, blocking while the next stage's queue is full, and returns the
// context's error once the run is cancelled. Time blocked counts as waiting for room. v is
// the pipeline's from the call on: when Send returns an error, v has been released.
func (io *IO[T, R]) Send(v R) error {
	if send(io.ctx, io.out, v, io.c, true) {
		return nil
	}
	if io.dropOut != nil {
		io.dropOut(v)
	}
	return io.ctx.Err()
}

// AddBusy adds d to the stage's busy time: time spent working, as opposed to waiting.
func (io *IO[T, R]) AddBusy(d time.Duration) { io.c.busy.Add(int64(d)) }

// Fail applies the stage's error policy to a failed item and releases the item (see
// Release), after the SkipErrors handler has seen it. It returns nil when the item was
// skipped and reported (SkipErrors), or the error the stage should return to stop the run:
// a *StageError that names the stage and the item. With CountUnits, an item that is a T
// counts its units as failed rather than done; any other item counts one unit.
func (io *IO[T, R]) Fail(item any, err error) error {
	units := 1
	if x, ok := item.(T); ok && io.count != nil {
		units = io.count(x)
		io.c.doneUnits.Add(-int64(units)) // counted when received
	}
	err = io.s.itemError(io.ctx, io.c, item, units, err)
	io.s.release(item)
	return err
}

// SetExtra installs a function whose figures appear in the stage's StageStats.Extra. It is
// called by Stats, from any goroutine, while the pipeline runs and after.
func (io *IO[T, R]) SetExtra(fn func() map[string]float64) { io.s.extra.Store(&fn) }

// Context returns the run's context, cancelled when the run stops.
func (io *IO[T, R]) Context() context.Context { return io.ctx }
