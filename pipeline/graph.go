package pipeline

import (
	"context"
	"fmt"
	"sync"
)

// This file holds what the operators with several inputs or outputs share: Merge, Zip and
// ZipN read several streams; Broadcast, RoundRobin and Partition write several. Every one of
// them is a stage like any other, with its own counters, input queues and name, so Stats and
// Bottleneck cover every branch of a graph. Streams are made by the stage that writes them
// and consumed by a stage added later, so a graph cannot have a cycle; Run refuses a stream
// that nobody reads, as it does in a chain.

// runEach makes the stage run work in n goroutines, the i-th with counter set i, and call
// done after all of them have returned. A goroutine's error fails the run at once.
func (s *stage) runEach(n int, work func(ctx context.Context, i int, c *counters) error, done func()) {
	s.run = func(ctx context.Context) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				c := &s.counters[i]
				c.start.Store(clock())
				defer wg.Done()
				defer func() { c.end.Store(clock()) }()
				defer func() {
					if v := recover(); v != nil {
						s.p.fail(s, ctx, recovered(v))
					}
				}()
				s.p.fail(s, ctx, work(ctx, i, c))
			}()
		}
		wg.Wait()
		done()
	}
}

// branches makes n output streams for stage s.
func branches[T any](s *stage, n int) []*Stream[T] {
	outs := make([]*Stream[T], max(n, 0))
	for i := range outs {
		outs[i] = newStream[T](s)
	}
	return outs
}

// closeAll closes the queues of the streams a stage writes.
func closeAll[T any](outs []*Stream[T]) {
	for _, o := range outs {
		close(o.ch)
	}
}

// buildErrorf records a build error about stage s, returned by Run.
func (s *stage) buildErrorf(format string, args ...any) {
	s.p.buildError(fmt.Errorf("pipeline: stage %q: "+format, append([]any{s.name}, args...)...))
}

// sendOr hands v to the branch out like send, but gives up also when the branch's consumer
// has stopped reading (gone is closed). It returns false when v was not handed on; the
// caller tells a cancelled run (ctx.Err() != nil) from a branch that is gone.
func sendOr[T any](ctx context.Context, out chan<- T, gone <-chan struct{}, v T, c *counters) bool {
	select {
	case out <- v:
		bump(&c.out, 1)
		return true
	default:
	}
	t := c.beginWait()
	select {
	case out <- v:
		c.endWait(&c.waitOut, t, false)
		bump(&c.out, 1)
		return true
	case <-gone:
	case <-ctx.Done():
	}
	c.endWait(&c.waitOut, t, false)
	return false
}

// guard calls fn(x), turning a panic into a *PanicError.
func guard[T, R any](fn func(T) R, x T) (r R, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = recovered(v)
		}
	}()
	return fn(x), nil
}

// oneStage checks that a stage function reading several streams got at least one, and
// returns the pipeline they belong to. It panics without one: the stage would belong to no
// pipeline, and the call is wrong whatever the input.
func oneStage[T any](op string, ins []*Stream[T]) *Pipeline {
	if len(ins) == 0 {
		panic("pipeline: " + op + " of no streams")
	}
	return ins[0].p
}

// branchSet tracks which outputs of a stage with several are still read. Checking costs one
// atomic load per item while no branch has stopped.
type branchSet struct {
	s     *stage
	chans []<-chan struct{}
	gone  []bool
	known int64 // the stage's live count when gone was last brought up to date
}

func newBranchSet[T any](s *stage, outs []*Stream[T]) *branchSet {
	b := &branchSet{s: s, gone: make([]bool, len(outs)), known: int64(len(outs))}
	for _, o := range outs {
		b.chans = append(b.chans, o.gone)
	}
	return b
}

// refresh marks the branches whose consumers have stopped since the last call.
func (b *branchSet) refresh() {
	live := b.s.live.Load()
	if live == b.known {
		return
	}
	for i, ch := range b.chans {
		select {
		case <-ch:
			b.gone[i] = true
		default:
		}
	}
	b.known = live
}

// countDone adds the units x stands for to the worker's done units, when the stage counts
// units (CountUnits; count is nil otherwise).
func countDone[T any](c *counters, count func(T) int, x T) {
	if count != nil {
		bump(&c.doneUnits, int64(count(x)))
	}
}
