package pipeline

import "context"

// ForEach is a sink that calls fn for every item with Workers goroutines. An error from fn
// stops the run, or skips the item under SkipErrors. fn owns the items it handles without
// error; an item it fails on is released by the pipeline, as Map's are (see "Dropped items"
// in the package documentation).
func ForEach[T any](in *Stream[T], fn func(ctx context.Context, x T) error, opts ...Option) {
	cfg := newConfig(opts)
	s, inq := consume(in, "for-each", cfg, cfg.workers)
	body := withRetry(s, func(ctx context.Context, x T) (struct{}, error) { return struct{}{}, fn(ctx, x) })
	s.runWorkers(itemLoop(s, inq, dropper[T](s), func(ctx context.Context, c *counters, x T) (bool, error) {
		_, err := call1(body, ctx, x)
		if err == nil {
			bump(&c.out, 1)
		}
		return false, err
	}), func() {})
}

// Result holds the value a sink computes. Read it after Run has returned.
type Result[T any] struct{ v T }

// Value returns the sink's value: complete after Run returned nil, partial after an error.
func (r *Result[T]) Value() T { return r.v }

// Reduce is a sink that folds the items, in arrival order, into an accumulator starting at
// init. An error from fn stops the run, or skips the item (leaving the accumulator as it
// was) under SkipErrors; an item fn fails on is released. The accumulator is never
// released: it is the result.
func Reduce[T, A any](in *Stream[T], init A, fn func(acc A, x T) (A, error), opts ...Option) *Result[A] {
	return reduce(in, "reduce", init, fn, opts)
}

func reduce[T, A any](in *Stream[T], kind string, init A, fn func(acc A, x T) (A, error), opts []Option) *Result[A] {
	cfg := single(opts)
	s, inq := consume(in, kind, cfg, 1)
	res := &Result[A]{v: init}
	step := withRetry(s, func(_ context.Context, x T) (A, error) { return fn(res.v, x) })
	s.runWorkers(itemLoop(s, inq, dropper[T](s), func(ctx context.Context, c *counters, x T) (bool, error) {
		acc, err := call1(step, ctx, x)
		if err == nil {
			res.v = acc
			bump(&c.out, 1)
		}
		return false, err
	}), func() {})
	return res
}

// Collect is a sink that gathers the items into a slice, in arrival order. The items
// collected are the caller's, even after a failed run: they are never released.
func Collect[T any](in *Stream[T], opts ...Option) *Result[[]T] {
	return reduce(in, "collect", []T(nil), func(acc []T, x T) ([]T, error) { return append(acc, x), nil }, opts)
}

// Discard is a sink that drops every item, releasing those that have something to release
// (see "Dropped items" in the package documentation). It ends a pipeline whose stages do
// their work for its side effects.
func Discard[T any](in *Stream[T], opts ...Option) {
	cfg := single(opts)
	s, inq := consume(in, "discard", cfg, 1)
	drop, count := dropper[T](s), unitCounter[T](s)
	s.runWorkers(func(ctx context.Context, c *counters) error {
		for {
			x, ok := recv(ctx, inq, c, false)
			if !ok {
				return nil
			}
			if drop != nil {
				drop(x)
			}
			if count != nil {
				bump(&c.doneUnits, int64(count(x)))
			}
			bump(&c.out, 1)
		}
	}, func() {})
}
