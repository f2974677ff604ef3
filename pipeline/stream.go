package pipeline

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
)

// Stream is the typed output of a stage. Exactly one stage must consume it; Run refuses a
// pipeline with a stream that is consumed twice or not at all.
type Stream[T any] struct {
	p    *Pipeline
	from *stage
	to   *stage
	ch   chan T // the consumer's input queue, made when the consumer attaches

	// gone is closed once the consumer has stopped reading: all its workers have returned
	// (see stop).
	gone     chan struct{}
	goneOnce sync.Once
}

func newStream[T any](from *stage) *Stream[T] {
	s := &Stream[T]{p: from.p, from: from, gone: make(chan struct{})}
	from.p.mu.Lock()
	from.p.streams = append(from.p.streams, s)
	from.outputs++
	from.p.mu.Unlock()
	return s
}

// Pipeline returns the pipeline the stream belongs to.
func (s *Stream[T]) Pipeline() *Pipeline { return s.p }

// Stage returns the name of the stage that produces the stream.
func (s *Stream[T]) Stage() string { return s.from.name }

func (s *Stream[T]) orphan() (string, bool) { return s.from.name, s.to == nil }

// consume adds a stage of the given kind that reads in, and makes its input queue.
func consume[T any](in *Stream[T], kind string, cfg config, counterSets int) (*stage, chan T) {
	s := in.p.addStage(kind, cfg, counterSets)
	if cfg.units != nil {
		if _, ok := cfg.units.(func(T) int); !ok {
			in.p.buildError(fmt.Errorf("pipeline: stage %q: CountUnits takes a %s, but the stage's items are %s",
				s.name, reflect.TypeOf(cfg.units).In(0), reflect.TypeFor[T]()))
		}
	}
	return s, attach(in, s)
}

// attach makes s a consumer of in, and returns s's input queue for in. A stage with several
// inputs (Merge, Zip) attaches to each; its queue statistics are their sums.
func attach[T any](in *Stream[T], s *stage) chan T {
	ch := make(chan T, s.cfg.buffer)
	if in.p != s.p {
		s.p.buildError(fmt.Errorf("pipeline: stage %q reads the output of stage %q, which belongs to another pipeline", s.name, in.from.name))
		return ch
	}
	if in.to != nil {
		in.p.buildError(fmt.Errorf("pipeline: the output of stage %q is consumed by both %q and %q", in.from.name, in.to.name, s.name))
		return ch
	}
	in.to, in.ch = s, ch
	s.inputs = append(s.inputs, in)
	if prev := s.queue; prev != nil {
		s.queue = func() (int, int) {
			n, c := prev()
			return n + len(ch), c + cap(ch)
		}
	} else {
		s.queue = func() (int, int) { return len(ch), cap(ch) }
	}
	drainInput(s, ch)
	return ch
}

// stop records that the stream's consumer has stopped reading. When every output of the
// producing stage has stopped, the producer's context is cancelled: it stops working for
// nobody (see "Stages that stop early" in the package documentation).
func (s *Stream[T]) stop() {
	s.goneOnce.Do(func() {
		close(s.gone)
		s.from.outputStopped()
	})
}

// unitCounter returns the stage's CountUnits function, or nil.
func unitCounter[T any](s *stage) func(T) int {
	f, _ := s.cfg.units.(func(T) int)
	return f
}

// unitsOf is the number of units x stands for: count(x), or 1 without a count function.
func unitsOf[T any](count func(T) int, x T) int {
	if count == nil {
		return 1
	}
	return count(x)
}

// single forces a stage to one worker.
func single(opts []Option) config {
	c := newConfig(opts)
	c.workers = 1
	return c
}

// inc adds d to a counter: with a load and store when the counter has one writer, with an
// atomic add when it is shared.
func inc(v *atomic.Int64, d int64, shared bool) {
	if shared {
		v.Add(d)
	} else {
		bump(v, d)
	}
}

// recv takes the next item from in. It returns false when in is closed or ctx is done. Only
// time spent blocked is counted as waiting: the fast path reads no clock.
func recv[T any](ctx context.Context, in <-chan T, c *counters, shared bool) (T, bool) {
	done := ctx.Done()
	select {
	case <-done:
		var zero T
		return zero, false
	default:
	}
	select {
	case x, ok := <-in:
		if ok {
			inc(&c.in, 1, shared)
		}
		return x, ok
	default:
	}
	t := c.beginWait()
	var x T
	var ok bool
	select {
	case x, ok = <-in:
	case <-done:
	}
	c.endWait(&c.waitIn, t, shared)
	if ok {
		inc(&c.in, 1, shared)
	}
	return x, ok
}

// send hands v downstream, waiting for room. It returns false when ctx is done first.
func send[T any](ctx context.Context, out chan<- T, v T, c *counters, shared bool) bool {
	select {
	case out <- v:
		inc(&c.out, 1, shared)
		return true
	default:
	}
	t := c.beginWait()
	select {
	case out <- v:
		c.endWait(&c.waitOut, t, shared)
		inc(&c.out, 1, shared)
		return true
	case <-ctx.Done():
		c.endWait(&c.waitOut, t, shared)
		return false
	}
}

// busySince adds the time since clock reading t to the worker's busy time.
func busySince(c *counters, t int64, shared bool) {
	inc(&c.busy, clock()-t, shared)
}

// runWorkers makes the stage run work in cfg.workers goroutines, each with its own counters,
// and call done after all of them have returned. A worker's error fails the run at once.
func (s *stage) runWorkers(work func(ctx context.Context, c *counters) error, done func()) {
	s.run = func(ctx context.Context) {
		var wg sync.WaitGroup
		for i := range s.cfg.workers {
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
				s.p.fail(s, ctx, work(ctx, c))
			}()
		}
		wg.Wait()
		done()
	}
}

// out returns the channel the producing stage sends to: the consumer's input queue. It is read
// at run time, after the consumer has attached.
func (s *Stream[T]) out() chan<- T { return s.ch }
