package pipeline

import "context"

// Broadcast hands every item to each of n output streams, in input order on every branch:
//
//	in:    -1--2--3-|
//	out 0: -1--2--3-|
//	out 1: -1--2--3-|
//
// It goes on to the next item once every branch has taken the current one, so the slowest
// branch sets the pace (back-pressure from the slowest) and a faster branch runs at most its
// queue ahead. A branch whose consumer stops reading early is left out from then on; the
// stage stops when no branch is read.
//
// Ownership: every branch gets the same item, which is shared when it has nothing to release.
// Items that may have a Release or Close method need a Clone option: the first branch that
// takes an item gets the item itself, each other branch a copy made for it, so that each
// consumer owns what it gets and every copy is released once. An item or copy that cannot be
// handed on because the run is ending is released; a copy is made only for a branch about to
// take it. Run reports a build error for such items without Clone, and for n < 1.
//
// StageStats.Out counts the items handed to each branch: n per input item.
func Broadcast[T any](in *Stream[T], n int, opts ...Option) []*Stream[T] {
	cfg := single(opts)
	s, inq := consume(in, "broadcast", cfg, 1)
	if n < 1 {
		s.buildErrorf("Broadcast to %d branches", n)
	}
	outs := branches[T](s, n)
	clone := cloner[T](s, "Broadcast hands every item to several consumers")
	drop := dropper[T](s)
	count := unitCounter[T](s)
	release := func(x T) {
		if drop != nil {
			drop(x)
		}
	}
	s.runWorkers(func(ctx context.Context, c *counters) error {
		live := newBranchSet(s, outs)
		gone := live.gone
		for {
			x, ok := recv(ctx, inq, c, false)
			if !ok {
				return nil
			}
			countDone(c, count, x)
			live.refresh()
			// The first branch that takes x gets x itself (delivered), the others copies. A
			// copy made for a branch found gone is kept for the next one (spare).
			delivered, spare, haveSpare := false, x, false
			for i, o := range outs {
				if gone[i] {
					continue
				}
				v := x
				if delivered && clone != nil {
					if haveSpare {
						v, haveSpare = spare, false
					} else {
						var err error
						if v, err = guard(clone, x); err != nil {
							return err
						}
					}
				}
				if sendOr(ctx, o.ch, o.gone, v, c) {
					delivered = true
					continue
				}
				if ctx.Err() != nil {
					release(v) // x itself, or a copy nobody took
					return nil
				}
				gone[i] = true
				if delivered && clone != nil {
					spare, haveSpare = v, true
				}
			}
			if haveSpare {
				release(spare)
			}
			if !delivered {
				release(x)
			}
		}
	}, func() { closeAll(outs) })
	return outs
}

// Tee is Broadcast to two branches.
func Tee[T any](in *Stream[T], opts ...Option) (*Stream[T], *Stream[T]) {
	outs := Broadcast(in, 2, opts...)
	return outs[0], outs[1]
}
