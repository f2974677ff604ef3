package pipeline

import "context"

// Scan emits the running fold of its input: for each item, the accumulator after fn has added
// it, starting from init, in input order.
//
//	in:  -1--2--3--4-|      fn: acc + x, init 0
//	out: -1--3--6--10|
//
// go-streams calls this Fold (and Reduce when there is no initial value). An error from fn
// stops the run, or under SkipErrors skips the item, which leaves the accumulator as it was
// and emits nothing; the item is then released (see "Dropped items" in the package
// documentation). fn owns the items it folds without error. The values emitted are the
// accumulator's successive values and may share memory (a slice appended to, say), so the
// stage releases none of them, even one it cannot hand on when the run ends.
func Scan[T, A any](in *Stream[T], init A, fn func(acc A, x T) (A, error), opts ...Option) *Stream[A] {
	return fold(in, "scan", init, fn, true, opts)
}

// Fold folds its input into an accumulator starting at init and emits the result once, when
// the input has ended (init itself for an empty input), so that a fold can feed later
// stages; Reduce is the sink that keeps it in a Result instead. Errors are handled as in
// Scan; no result is emitted when the run is cancelled or fails. A result that cannot be
// handed on because the run is ending is released.
//
//	in:  -1--2--3--4-|      fn: acc + x, init 0
//	out: ------------10|
func Fold[T, A any](in *Stream[T], init A, fn func(acc A, x T) (A, error), opts ...Option) *Stream[A] {
	return fold(in, "fold", init, fn, false, opts)
}

func fold[T, A any](in *Stream[T], kind string, init A, fn func(acc A, x T) (A, error), each bool, opts []Option) *Stream[A] {
	s, inq := consume(in, kind, single(opts), 1)
	out := newStream[A](s)
	acc := init
	step := withRetry(s, func(_ context.Context, x T) (A, error) { return fn(acc, x) })
	drop, dropAcc, count := dropper[T](s), dropper[A](s), unitCounter[T](s)
	s.runWorkers(func(ctx context.Context, c *counters) error {
		o := out.out()
		for {
			x, ok := recv(ctx, inq, c, false)
			if !ok {
				break
			}
			next, err := call1(step, ctx, x)
			if err != nil {
				if err := failed(ctx, s, c, x, count, drop, err); err != nil {
					return err
				}
				continue
			}
			acc = next
			countDone(c, count, x)
			if each && !send(ctx, o, acc, c, false) {
				return nil
			}
		}
		if each || ctx.Err() != nil {
			return nil
		}
		if !send(ctx, o, acc, c, false) && dropAcc != nil {
			dropAcc(acc)
		}
		return nil
	}, func() { close(out.ch) })
	return out
}

// Flatten emits the items of each slice in order: it is Unbatch, under the name go-streams
// gives it.
//
//	in:  -[1 2]---[3]--[]--[4 5]-|
//	out: -1-2-----3--------4-5---|
func Flatten[T any](in *Stream[[]T], opts ...Option) *Stream[T] { return Unbatch(in, opts...) }
