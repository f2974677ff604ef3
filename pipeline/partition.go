package pipeline

import (
	"context"
	"fmt"
	"hash/maphash"
)

// RoundRobin deals the items to n output streams, each item to one: to the next branch in
// turn that has room in its queue, or, when none has, to the next in turn once it has. A
// slow branch therefore takes fewer items and does not hold the others back; with room
// everywhere, item i goes to branch i mod n. Order is kept within a branch.
//
//	in:    -1-2-3-4-5-|
//	out 0: -1---3---5-|
//	out 1: ---2---4---|
//
// A branch whose consumer stops reading early is left out from then on. An item that cannot
// be handed on because the run is ending is released (see "Dropped items" in the package
// documentation). Run reports a build error for n < 1.
func RoundRobin[T any](in *Stream[T], n int, opts ...Option) []*Stream[T] {
	cfg := single(opts)
	s, inq := consume(in, "round-robin", cfg, 1)
	if n < 1 {
		s.buildErrorf("RoundRobin to %d branches", n)
	}
	outs := branches[T](s, n)
	drop, count := dropper[T](s), unitCounter[T](s)
	s.runWorkers(func(ctx context.Context, c *counters) error {
		live := newBranchSet(s, outs)
		next := 0
		for {
			x, ok := recv(ctx, inq, c, false)
			if !ok {
				return nil
			}
			countDone(c, count, x)
			live.refresh()
			if next = dealNow(outs, live.gone, next, x, c); next >= 0 {
				continue
			}
			if next = dealWait(ctx, outs, live.gone, x, c); next < 0 {
				if drop != nil {
					drop(x)
				}
				return nil
			}
		}
	}, func() { closeAll(outs) })
	return outs
}

// dealNow hands x to the first branch from next on that has room, without waiting, and
// returns the branch to try first for the next item, or -1 when every branch is full.
func dealNow[T any](outs []*Stream[T], gone []bool, next int, x T, c *counters) int {
	for k := range outs {
		i := (next + k) % len(outs)
		if gone[i] {
			continue
		}
		select {
		case outs[i].ch <- x:
			bump(&c.out, 1)
			return (i + 1) % len(outs)
		default:
		}
	}
	return -1
}

// dealWait hands x to the first live branch, waiting for room, and returns the branch to try
// first for the next item, or -1 when x could not be handed on (the run is ending).
func dealWait[T any](ctx context.Context, outs []*Stream[T], gone []bool, x T, c *counters) int {
	for i := range outs {
		if gone[i] {
			continue
		}
		if sendOr(ctx, outs[i].ch, outs[i].gone, x, c) {
			return (i + 1) % len(outs)
		}
		if ctx.Err() != nil {
			return -1
		}
		gone[i] = true
	}
	return -1
}

// Partition sends each item to the output stream route(item) chooses, among n. Items keep
// their order within a branch, and a full branch holds the others back (as its items must
// wait their turn). route must return an index from 0 to n−1; another index, or a panic in
// route, is a failure of the item, which stops the run or, under SkipErrors, drops it.
//
//	in:    -1-2-3-4-5-|     route: odd → 0, even → 1
//	out 0: -1---3---5-|
//	out 1: ---2---4---|
//
// An item routed to a branch whose consumer has stopped reading is dropped, as is an item
// that cannot be handed on because the run is ending; dropped items are released (see
// "Dropped items" in the package documentation). Run reports a build error for n < 1.
func Partition[T any](in *Stream[T], n int, route func(x T) int, opts ...Option) []*Stream[T] {
	return partition(in, "partition", n, func(int) func(T) int { return route }, opts)
}

// partition adds a Partition stage of the given kind; route makes the routing function for
// n branches.
func partition[T any](in *Stream[T], kind string, n int, route func(n int) func(T) int, opts []Option) []*Stream[T] {
	s, inq := consume(in, kind, single(opts), 1)
	if n < 1 {
		s.buildErrorf("%s into %d branches", kind, n)
	}
	return partitionRun(s, inq, n, route(n))
}

func partitionRun[T any](s *stage, inq chan T, n int, route func(x T) int) []*Stream[T] {
	outs := branches[T](s, n)
	drop, count := dropper[T](s), unitCounter[T](s)
	release := func(x T) {
		if drop != nil {
			drop(x)
		}
	}
	s.runWorkers(func(ctx context.Context, c *counters) error {
		live := newBranchSet(s, outs)
		for {
			x, ok := recv(ctx, inq, c, false)
			if !ok {
				return nil
			}
			i, err := guard(route, x)
			if err == nil && (i < 0 || i >= n) {
				err = fmt.Errorf("route returned %d for %d branches", i, n)
			}
			if err != nil {
				err = s.itemError(ctx, c, x, unitsOf(count, x), err)
				release(x)
				if err != nil {
					return err
				}
				continue
			}
			countDone(c, count, x)
			live.refresh()
			if live.gone[i] {
				release(x)
				continue
			}
			if !sendOr(ctx, outs[i].ch, outs[i].gone, x, c) {
				release(x)
				if ctx.Err() != nil {
					return nil
				}
				live.gone[i] = true
			}
		}
	}, func() { closeAll(outs) })
	return outs
}

// Split sends the items for which pred is true to yes, the others to no, keeping their order
// in each. It is Partition into two branches; a panic in pred is a failure of the item.
func Split[T any](in *Stream[T], pred func(x T) bool, opts ...Option) (yes, no *Stream[T]) {
	outs := partition(in, "split", 2, func(int) func(T) int {
		return func(x T) int {
			if pred(x) {
				return 0
			}
			return 1
		}
	}, opts)
	return outs[0], outs[1]
}

// PartitionByKey sends each item to one of n output streams chosen by a hash of its key, so
// that all the items with one key go to one branch, in order: each branch can keep per-key
// state or windows for its keys with no locking (see also KeyedScan). The hash is seeded
// once per stage: which branch a key goes to changes from run to run. It is Partition
// otherwise.
func PartitionByKey[T any, K comparable](in *Stream[T], n int, key func(x T) K, opts ...Option) []*Stream[T] {
	return partition(in, "partition-by-key", n, func(n int) func(T) int {
		seed, m := maphash.MakeSeed(), uint64(max(n, 1))
		return func(x T) int { return int(maphash.Comparable(seed, key(x)) % m) }
	}, opts)
}
