package pipeline

import (
	"context"
	"errors"
	"iter"
	"sync"
	"sync/atomic"
)

// Items ends in with a sink whose items the caller receives while the pipeline runs:
// ranging over the sequence runs the pipeline (do not call Run), yields each item of in as it
// arrives, and, when the run has ended with an error, yields it last with the zero T. In
// the caller's own goroutine, with no second one:
//
//	for x, err := range pipeline.Items(ctx, out) {
//		if err != nil {
//			return err // the run failed: a *StageError, or ctx.Err()
//		}
//		use(x)
//	}
//
// Breaking out of the loop (or a panic in its body) cancels the run and waits for it to end,
// so every goroutine of the pipeline has ended when the loop statement is done; the items
// still queued for the loop are then released (see "Dropped items" in the package
// documentation). The items yielded are the caller's.
//
// The loop's body is the stage's work: its statistics count the time between items as busy,
// and the time the loop waits for the next item as waiting for input. The sequence can be
// ranged over once (a second time yields ErrAlreadyRun), a pipeline can have one Items sink,
// and a Run of a pipeline with one fails.
func Items[T any](ctx context.Context, in *Stream[T], opts ...Option) iter.Seq2[T, error] {
	p := in.p
	p.mu.Lock()
	for _, s := range p.stages {
		if s.kind == "items" {
			p.errs = append(p.errs, errors.New("pipeline: a pipeline can have one Items sink"))
			break
		}
	}
	p.mu.Unlock()
	s, inq := consume(in, "items", single(opts), 1)
	drop, count := dropper[T](s), unitCounter[T](s)
	c := &s.counters[0]
	var ranged, iterating atomic.Bool
	stopped := make(chan struct{}) // closed when the loop has stopped reading
	s.run = func(ctx context.Context) {
		if !iterating.Load() {
			p.fail(s, ctx, errors.New("pipeline: Run called on a pipeline that ends in Items: range over the sequence instead"))
			return
		}
		select {
		case <-stopped:
		case <-ctx.Done():
		}
	}
	return func(yield func(T, error) bool) {
		var zero T
		if ranged.Swap(true) {
			yield(zero, ErrAlreadyRun)
			return
		}
		iterating.Store(true)
		runCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		errc := make(chan error, 1)
		c.start.Store(clock())
		go func() { errc <- p.Run(runCtx) }()
		ended := false // Run has returned
		var err error
		var once sync.Once
		stop := func() { once.Do(func() { close(stopped) }) }
		defer func() {
			stop()
			if !ended { // the loop stopped early: end the run
				cancel()
				<-errc
			}
			c.end.Store(clock())
			for { // release what is left in the queue (closed unless Run failed to start)
				select {
				case x, ok := <-inq:
					if !ok {
						return
					}
					if drop != nil {
						drop(x)
					}
				default:
					return
				}
			}
		}()
		for {
			x, ok, done := itemsNext(inq, errc, c)
			if done != nil {
				ended, err = true, *done
				break
			}
			if !ok {
				stop()
				ended, err = true, <-errc
				break
			}
			countDone(c, count, x)
			if !yield(x, nil) {
				return
			}
		}
		if err != nil {
			yield(zero, err)
		}
	}
}

// itemsNext waits for the next item for Items: ok is false when the queue has been closed,
// and done is Run's error when Run returned first (a build error, or a run that ended before
// the producer closed the queue).
func itemsNext[T any](inq <-chan T, errc <-chan error, c *counters) (x T, ok bool, done *error) {
	select {
	case x, ok = <-inq:
		if ok {
			bump(&c.in, 1)
			bump(&c.out, 1)
		}
		return x, ok, nil
	default:
	}
	t := c.beginWait()
	defer c.endWait(&c.waitIn, t, false)
	select {
	case x, ok = <-inq:
		if ok {
			bump(&c.in, 1)
			bump(&c.out, 1)
		}
		return x, ok, nil
	case err := <-errc:
		return x, false, &err
	}
}
