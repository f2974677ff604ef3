package pipeline

import (
	"container/heap"
	"context"
)

// Prioritize passes its items on, first the one that less orders first among the up to n it
// holds. While downstream is busy it takes in items until it holds n, then stops taking them
// (back-pressure), so it never holds more; whenever downstream is ready it hands over the
// first of what it holds. Upstream faster than downstream (a folder listing feeding decoders)
// makes it a bounded priority queue; upstream slower, items pass in arrival order. When the
// input ends, what it holds leaves in less's order.
//
//	in:  -1-5-2-9-3-|        n = 3, less = larger first, downstream slow
//	out: -1---5---9-3-2|
//
// Largest-first is how a run of unequal jobs on several workers ends without one big job
// running alone at the end (longest processing time first scheduling): imgpipe starts the
// largest files of each stretch of n first. Held items are released when the run ends
// early (see "Dropped items" in the package documentation). Run reports a build error for
// n < 1.
func Prioritize[T any](in *Stream[T], n int, less func(a, b T) bool, opts ...Option) *Stream[T] {
	s, inq := consume(in, "prioritize", single(opts), 1)
	if n < 1 {
		s.buildErrorf("prioritize holding %d items", n)
	}
	out := newStream[T](s)
	drop := dropper[T](s)
	count := unitCounter[T](s)
	s.runWorkers(func(ctx context.Context, c *counters) error {
		p := &priority[T]{less: less}
		defer func() {
			for _, x := range p.items {
				if drop != nil {
					drop(x)
				}
			}
		}()
		return p.run(ctx, c, inq, out.out(), max(n, 1), func(x T) { countDone(c, count, x) })
	}, func() { close(out.ch) })
	return out
}

// priority is a Prioritize stage's heap of held items.
type priority[T any] struct {
	items []T
	less  func(a, b T) bool
}

func (p *priority[T]) Len() int           { return len(p.items) }
func (p *priority[T]) Less(i, j int) bool { return p.less(p.items[i], p.items[j]) }
func (p *priority[T]) Swap(i, j int)      { p.items[i], p.items[j] = p.items[j], p.items[i] }
func (p *priority[T]) Push(x any)         { p.items = append(p.items, x.(T)) }
func (p *priority[T]) Pop() any {
	last := len(p.items) - 1
	x := p.items[last]
	var zero T
	p.items[last] = zero
	p.items = p.items[:last]
	return x
}

// run moves items from in to out until in is closed and the heap empty, or ctx is done. It
// takes in every item that is already waiting before each hand-over, so that the choice is
// made among as many as it may hold.
func (p *priority[T]) run(ctx context.Context, c *counters, in <-chan T, out chan<- T, n int, took func(T)) error {
	for {
		if p.Len() == 0 {
			if in == nil {
				return nil
			}
			x, ok := recv(ctx, in, c, false)
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				in = nil
				continue
			}
			took(x)
			heap.Push(p, x)
		}
		if in = p.drain(in, c, n, took); p.Len() == 0 {
			continue
		}
		var more <-chan T
		if p.Len() < n {
			more = in // nil once in is closed
		}
		select {
		case out <- p.items[0]:
			heap.Pop(p)
			bump(&c.out, 1)
			continue
		default:
		}
		t := c.beginWait()
		select {
		case out <- p.items[0]:
			c.endWait(&c.waitOut, t, false)
			heap.Pop(p)
			bump(&c.out, 1)
		case x, ok := <-more:
			c.endWait(&c.waitOut, t, false)
			if !ok {
				in = nil
				continue
			}
			bump(&c.in, 1)
			took(x)
			heap.Push(p, x)
		case <-ctx.Done():
			c.endWait(&c.waitOut, t, false)
			return nil
		}
	}
}

// drain takes in the items already waiting on in, up to n held in all, without blocking. It
// returns in, or nil once in is closed.
func (p *priority[T]) drain(in <-chan T, c *counters, n int, took func(T)) <-chan T {
	for in != nil && p.Len() < n {
		select {
		case x, ok := <-in:
			if !ok {
				return nil
			}
			bump(&c.in, 1)
			took(x)
			heap.Push(p, x)
		default:
			return in
		}
	}
	return in
}
