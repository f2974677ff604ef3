package pipeline

import "context"

// Pair is an item of each of two streams, as Zip emits them. It has no Release method: a
// stage that drops a pair does not release its parts, so zip items that have something to
// release with ZipWith, into a type of yours that releases them.
type Pair[A, B any] struct {
	First  A
	Second B
}

// Zip pairs the i-th item of a with the i-th item of b. It ends when either input ends:
//
//	a:   -1---2---3---4-|
//	b:   ---x---y---z-|
//	out: ---•---•---•-|      (1,x) (2,y) (3,z)
//
// The rest of the longer input is not read: its producers are told to stop (see "Stages
// that stop early" in the package documentation), and an item taken from one input while
// the other has ended is released (see "Dropped items"). go-streams' ZipWith instead goes on
// to the end of the longest input and pads the others with zero values. Both inputs must
// belong to one pipeline, and StageStats.In counts the items of both.
//
// Zipping branches of one Broadcast whose paths drop different items (a Filter on one side)
// can deadlock: the broadcaster waits for room on one side while Zip waits for an item on
// the other.
func Zip[A, B any](a *Stream[A], b *Stream[B], opts ...Option) *Stream[Pair[A, B]] {
	return zipWith(a, b, "zip", func(_ context.Context, x A, y B) (Pair[A, B], error) {
		return Pair[A, B]{x, y}, nil
	}, true, opts)
}

// ZipWith is Zip with the pairs combined by fn, in one goroutine. An error from fn stops the
// run, or skips the pair under SkipErrors (its items are then released); fn owns the items
// of a pair it combines without error.
func ZipWith[A, B, R any](a *Stream[A], b *Stream[B], fn func(ctx context.Context, x A, y B) (R, error), opts ...Option) *Stream[R] {
	return zipWith(a, b, "zip-with", fn, false, opts)
}

// zipWith adds a Zip stage; with pair, the result carries the items themselves and releasing
// it releases them.
func zipWith[A, B, R any](a *Stream[A], b *Stream[B], kind string, fn func(context.Context, A, B) (R, error), pair bool, opts []Option) *Stream[R] {
	s, qa := consume(a, kind, single(opts), 1)
	qb := attach(b, s)
	out := newStream[R](s)
	dropA, dropB, dropR := dropper[A](s), dropper[B](s), dropper[R](s)
	count := unitCounter[A](s)
	release := func(x A, y B) {
		if dropA != nil {
			dropA(x)
		}
		if dropB != nil {
			dropB(y)
		}
	}
	combine := withRetry(s, func(ctx context.Context, p Pair[A, B]) (R, error) { return fn(ctx, p.First, p.Second) })
	s.runWorkers(func(ctx context.Context, c *counters) error {
		o := out.out()
		for {
			x, ok := recv(ctx, qa, c, false)
			if !ok {
				return nil
			}
			y, ok := recv(ctx, qb, c, false)
			if !ok {
				if dropA != nil {
					dropA(x)
				}
				return nil
			}
			r, err := call1(combine, ctx, Pair[A, B]{x, y})
			if err != nil {
				err = s.itemError(ctx, c, Pair[A, B]{x, y}, unitsOf(count, x), err)
				release(x, y)
				if err != nil {
					return err
				}
				continue
			}
			countDone(c, count, x)
			if !send(ctx, o, r, c, false) {
				if pair {
					release(x, y)
				} else if dropR != nil {
					dropR(r)
				}
				return nil
			}
		}
	}, func() { close(out.ch) })
	return out
}

// ZipN gathers the i-th items of every input into one slice, in the order of the inputs, and
// ends when any input ends, as Zip does. Each slice is new and the consumer owns it; the
// items of an incomplete one are released. ZipN panics without inputs.
func ZipN[T any](ins []*Stream[T], opts ...Option) *Stream[[]T] {
	oneStage("ZipN", ins)
	s, first := consume(ins[0], "zip-n", single(opts), 1)
	queues := []chan T{first}
	for _, in := range ins[1:] {
		queues = append(queues, attach(in, s))
	}
	out := newStream[[]T](s)
	drop, count := dropper[T](s), unitCounter[T](s)
	s.runWorkers(func(ctx context.Context, c *counters) error {
		o := out.out()
		for {
			tuple := make([]T, 0, len(queues))
			for _, q := range queues {
				x, ok := recv(ctx, q, c, false)
				if !ok {
					dropAll(drop, tuple)
					return nil
				}
				tuple = append(tuple, x)
				countDone(c, count, x)
			}
			if !send(ctx, o, tuple, c, false) {
				dropAll(drop, tuple)
				return nil
			}
		}
	}, func() { close(out.ch) })
	return out
}
