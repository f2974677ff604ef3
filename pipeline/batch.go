package pipeline

import (
	"context"
	"fmt"
	"time"
)

// Batch groups items into slices of up to maxSize, in input order. A batch is emitted when it
// is full, when maxWait has passed since its first item arrived (maxWait ≤ 0: never), or when
// the input ends. Each batch is a new slice that the consumer owns. When the run ends early,
// the items of a batch not handed on are released one by one (see "Dropped items" in the
// package documentation), as are those of a batch dropped further down.
func Batch[T any](in *Stream[T], maxSize int, maxWait time.Duration, opts ...Option) *Stream[[]T] {
	return BatchWeighted(in, maxSize, 0, nil, maxWait, opts...)
}

// BatchWeighted is Batch with a second bound: the weights of a batch's items (their bytes,
// say) add up to at most maxWeight. An item that would take its batch past maxWeight starts
// the next batch instead; an item heavier than maxWeight alone is a batch of its own. With
// maxWeight ≤ 0 or a nil weight it is Batch.
func BatchWeighted[T any](in *Stream[T], maxSize int, maxWeight int64, weight func(T) int64, maxWait time.Duration, opts ...Option) *Stream[[]T] {
	cfg := single(opts)
	s, inq := consume(in, "batch", cfg, 1)
	out := newStream[[]T](s)
	if maxSize < 1 {
		in.p.buildError(fmt.Errorf("pipeline: stage %q: Batch size %d is below 1", s.name, maxSize))
	}
	drop, count := dropper[T](s), unitCounter[T](s)
	s.runWorkers(func(ctx context.Context, c *counters) error {
		b := batcher[T]{ctx: ctx, c: c, in: inq, out: out.out(), size: maxSize, wait: maxWait, drop: drop, count: count}
		if maxWeight > 0 && weight != nil {
			b.weight, b.maxWeight = weight, maxWeight
		}
		b.run()
		if b.carried && b.drop != nil {
			b.drop(b.carry) // the run ended with it waiting for its batch
		}
		return nil
	}, func() { close(out.ch) })
	return out
}

type batcher[T any] struct {
	ctx   context.Context
	c     *counters
	in    <-chan T
	out   chan<- []T
	size  int
	wait  time.Duration
	timer *time.Timer
	drop  func(T)
	count func(T) int

	// With a weight: the weight of the batch being filled, and the item that did not fit
	// in the last batch, which starts the next.
	weight    func(T) int64
	maxWeight int64
	filled    int64
	carry     T
	carried   bool
}

// take receives the first item of a batch: the one carried over, or the next.
func (b *batcher[T]) take() (T, bool) {
	if b.carried {
		x := b.carry
		var zero T
		b.carry, b.carried = zero, false
		return x, true
	}
	return recv(b.ctx, b.in, b.c, false)
}

// fits adds x's weight to the batch being filled if it fits (or the batch is empty), else
// carries x over to the next batch.
func (b *batcher[T]) fits(x T, empty bool) bool {
	if b.weight == nil {
		return true
	}
	w := b.weight(x)
	if !empty && b.filled+w > b.maxWeight {
		b.carry, b.carried = x, true
		return false
	}
	b.filled += w
	return true
}

func (b *batcher[T]) run() {
	for {
		first, ok := b.take()
		if !ok {
			return
		}
		b.filled = 0
		b.fits(first, true)
		batch := append(make([]T, 0, b.size), first)
		batch, more := b.fill(batch)
		if !send(b.ctx, b.out, batch, b.c, false) {
			dropAll(b.drop, batch)
			return
		}
		if b.count != nil {
			for _, x := range batch {
				bump(&b.c.doneUnits, int64(b.count(x)))
			}
		}
		if !more {
			return
		}
	}
}

// fill adds items to batch until it is full, the wait is over or the input ends (more is
// false then).
func (b *batcher[T]) fill(batch []T) (_ []T, more bool) {
	if b.wait <= 0 {
		for len(batch) < b.size {
			x, ok := recv(b.ctx, b.in, b.c, false)
			if !ok {
				return batch, false
			}
			if !b.fits(x, false) {
				return batch, true
			}
			batch = append(batch, x)
		}
		return batch, true
	}
	deadline := b.startTimer()
	defer b.timer.Stop()
	for len(batch) < b.size {
		x, got, more := b.next(deadline)
		if !got {
			return batch, more
		}
		if !b.fits(x, false) {
			return batch, true
		}
		batch = append(batch, x)
	}
	return batch, true
}

// next waits for an item (got), the deadline (more), or the end of the input or the run.
func (b *batcher[T]) next(deadline <-chan time.Time) (x T, got, more bool) {
	select {
	case x, ok := <-b.in:
		if ok {
			bump(&b.c.in, 1)
		}
		return x, ok, ok
	default:
	}
	t := b.c.beginWait()
	defer b.c.endWait(&b.c.waitIn, t, false)
	select {
	case x, ok := <-b.in:
		if ok {
			bump(&b.c.in, 1)
		}
		return x, ok, ok
	case <-deadline:
		return x, false, true
	case <-b.ctx.Done():
		return x, false, false
	}
}

func (b *batcher[T]) startTimer() <-chan time.Time {
	if b.timer == nil {
		b.timer = time.NewTimer(b.wait)
	} else {
		b.timer.Reset(b.wait)
	}
	return b.timer.C
}

// Unbatch emits the items of each slice in order. When the run ends early, the items of a
// slice not yet handed on are released.
func Unbatch[T any](in *Stream[[]T], opts ...Option) *Stream[T] {
	cfg := single(opts)
	s, inq := consume(in, "unbatch", cfg, 1)
	out := newStream[T](s)
	drop, count := dropper[T](s), unitCounter[[]T](s)
	s.runWorkers(func(ctx context.Context, c *counters) error {
		for {
			batch, ok := recv(ctx, inq, c, false)
			if !ok {
				return nil
			}
			for i, x := range batch {
				if !send(ctx, out.out(), x, c, false) {
					dropAll(drop, batch[i:])
					return nil
				}
			}
			if count != nil {
				bump(&c.doneUnits, int64(count(batch)))
			}
		}
	}, func() { close(out.ch) })
	return out
}
