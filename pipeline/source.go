package pipeline

import (
	"context"
	"fmt"
	"iter"
)

// source adds a source stage whose body produces items through emit. A panic in body is
// recovered by the stage's worker and stops the run. With release, an item emit cannot hand
// on (the run is ending) is released.
func source[T any](p *Pipeline, kind string, opts []Option, release bool, body func(ctx context.Context, emit func(T) bool) error) *Stream[T] {
	cfg := single(opts)
	s := p.addStage(kind, cfg, 1)
	if cfg.units != nil {
		p.buildError(fmt.Errorf("pipeline: stage %q: CountUnits counts input items, and a source has none", s.name))
	}
	out := newStream[T](s)
	var drop func(T)
	if release {
		drop = dropper[T](s)
	}
	s.runWorkers(func(ctx context.Context, c *counters) error {
		ch := out.out()
		if drop == nil {
			return body(ctx, func(v T) bool { return send(ctx, ch, v, c, false) })
		}
		return body(ctx, func(v T) bool {
			if send(ctx, ch, v, c, false) {
				return true
			}
			drop(v)
			return false
		})
	}, func() { close(out.ch) })
	return out
}

// FromSlice is a source that emits the items of xs in order. The items it has not emitted
// when the run ends early stay the caller's, in xs: FromSlice releases none.
//
// Cost: one queue hand-over per item; xs is not copied.
func FromSlice[T any](p *Pipeline, xs []T, opts ...Option) *Stream[T] {
	return source(p, "slice", opts, false, func(ctx context.Context, emit func(T) bool) error {
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
// context of its own, or use a buffered channel), and what is left in ch stays the
// sender's. An item it has received but cannot hand on is released.
func FromChan[T any](p *Pipeline, ch <-chan T, opts ...Option) *Stream[T] {
	return source(p, "chan", opts, true, func(ctx context.Context, emit func(T) bool) error {
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
// ends before seq does; the value seq yielded last, which could not be handed on, is
// released.
func FromSeq[T any](p *Pipeline, seq iter.Seq[T], opts ...Option) *Stream[T] {
	return source(p, "seq", opts, true, func(ctx context.Context, emit func(T) bool) error {
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
// fn should then return that error. An item passed to emit is the pipeline's: when emit
// returns an error the item has been released. An error returned by fn (other than the
// cancellation) stops the run.
func Generate[T any](p *Pipeline, fn func(ctx context.Context, emit func(T) error) error, opts ...Option) *Stream[T] {
	return source(p, "generate", opts, true, func(ctx context.Context, emit func(T) bool) error {
		return fn(ctx, func(v T) error {
			if !emit(v) {
				return ctx.Err()
			}
			return nil
		})
	})
}
