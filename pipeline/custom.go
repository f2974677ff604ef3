package pipeline

import (
	"context"
	"time"
)

// Custom adds a stage whose body manages its own input and output, for stages that do not
// fit one-item-in, one-item-out: a GPU engine with batches in flight, an adapter to another
// streaming library. fn runs in Workers goroutines, each with its own IO; the output closes
// when all of them have returned. An error returned by fn stops the run.
func Custom[T, R any](in *Stream[T], fn func(ctx context.Context, io *IO[T, R]) error, opts ...Option) *Stream[R] {
	cfg := newConfig(opts)
	s, inq := consume(in, "custom", cfg, cfg.workers)
	s.explicitBusy = true
	out := newStream[R](s)
	s.runWorkers(func(ctx context.Context, c *counters) error {
		return fn(ctx, &IO[T, R]{s: s, ctx: ctx, c: c, in: inq, out: out.out()})
	}, func() { close(out.ch) })
	return out
}

// IO is a Custom stage's access to its queues and statistics. Its methods are safe for
// concurrent use, so one goroutine may receive while another sends.
type IO[T, R any] struct {
	s   *stage
	ctx context.Context
	c   *counters
	in  <-chan T
	out chan<- R
}

// Recv returns the next input item. It returns false when the input has ended or the run
// is cancelled. Time blocked counts as waiting for input.
func (io *IO[T, R]) Recv() (T, bool) { return recv(io.ctx, io.in, io.c, true) }

// Send hands v downstream, blocking while the next stage's queue is full, and returns the
// context's error once the run is cancelled. Time blocked counts as waiting for room.
func (io *IO[T, R]) Send(v R) error {
	if !send(io.ctx, io.out, v, io.c, true) {
		return io.ctx.Err()
	}
	return nil
}

// AddBusy adds d to the stage's busy time: time spent working, as opposed to waiting.
func (io *IO[T, R]) AddBusy(d time.Duration) { io.c.busy.Add(int64(d)) }

// Fail applies the stage's error policy to a failed item. It returns nil when the item was
// skipped and reported (SkipErrors), or the error the stage should return to stop the run:
// a *StageError that names the stage and the item.
func (io *IO[T, R]) Fail(item any, err error) error { return io.s.itemError(io.ctx, io.c, item, err) }

// SetExtra installs a function whose figures appear in the stage's StageStats.Extra. It is
// called by Stats, from any goroutine, while the pipeline runs and after.
func (io *IO[T, R]) SetExtra(fn func() map[string]float64) { io.s.extra.Store(&fn) }

// Context returns the run's context, cancelled when the run stops.
func (io *IO[T, R]) Context() context.Context { return io.ctx }
