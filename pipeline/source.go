package pipeline

import (
	"context"
	"iter"
)

// source adds a source stage whose body produces items through emit. A panic in body is
// recovered by the stage's worker and stops the run.
func source[T any](p *Pipeline, kind string, opts []Option, body func(ctx context.Context, emit func(T) bool) error) *Stream[T] {
	s := p.addStage(kind, single(opts), 1)
	out := newStream[T](s)
	s.runWorkers(func(ctx context.Context, c *counters) error {
		ch := out.out()
		return body(ctx, func(v T) bool { return send(ctx, ch, v, c, false) })
	}, func() { close(out.ch) })
	return out
}

// FromSlice is a source that emits the items of xs in order.
//
// Cost: one queue hand-over per item; xs is not copied.
func FromSlice[T any](p *Pipeline, xs []T, opts ...Option) *Stream[T] {
	return source(p, "slice", opts, func(ctx context.Context, emit func(T) bool) error {
		for _, x := range xs {
			if !emit(x) {
				return nil
			}
		}
		return nil
	})
}

// FromChan is a source that emits what arrives on ch until ch is closed. When the run is
// cancelled it stops reading ch: the sender must not block forever on it (select on a
// context of its own, or use a buffered channel).
func FromChan[T any](p *Pipeline, ch <-chan T, opts ...Option) *Stream[T] {
	return source(p, "chan", opts, func(ctx context.Context, emit func(T) bool) error {
		for {
			select {
			case x, ok := <-ch:
				if !ok || !emit(x) {
					return nil
				}
			case <-ctx.Done():
				return nil
			}
		}
	})
}

// FromSeq is a source that emits the values of seq. The iteration stops early when the run
// ends before seq does.
func FromSeq[T any](p *Pipeline, seq iter.Seq[T], opts ...Option) *Stream[T] {
	return source(p, "seq", opts, func(ctx context.Context, emit func(T) bool) error {
		for x := range seq {
			if !emit(x) {
				return nil
			}
		}
		return nil
	})
}

// Generate is a source that runs fn once. fn produces items by calling emit, which blocks
// while the next stage's queue is full and returns ctx's error once the run is cancelled;
// fn should then return that error. An error returned by fn (other than the cancellation)
// stops the run.
func Generate[T any](p *Pipeline, fn func(ctx context.Context, emit func(T) error) error, opts ...Option) *Stream[T] {
	return source(p, "generate", opts, func(ctx context.Context, emit func(T) bool) error {
		return fn(ctx, func(v T) error {
			if !emit(v) {
				return ctx.Err()
			}
			return nil
		})
	})
}
