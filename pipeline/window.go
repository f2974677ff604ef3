package pipeline

import (
	"context"
	"time"
)

// Windows group items into slices: tumbling windows (each item in one window) and sliding
// windows (overlapping) by count or by time, and session windows that close after a pause.
// Time is processing time: when the stage receives an item. Each window is a new slice that
// the consumer owns; empty windows are never emitted. The items a window stage holds when the
// run ends early are released (see "Dropped items" in the package documentation).

// TumblingWindowCount groups items into windows of size items, in order; the last window
// may be shorter. It is Batch without a time limit.
//
//	in:  -1-2-3-4-5-6-7-|     size 3
//	out: -----•-----•---•|     [1 2 3] [4 5 6] [7]
//
// Run reports a build error for size < 1.
func TumblingWindowCount[T any](in *Stream[T], size int, opts ...Option) *Stream[[]T] {
	s, inq := consume(in, "tumbling-window-count", single(opts), 1)
	count := unitCounter[T](s)
	if size < 1 {
		s.buildErrorf("window of %d items", size)
	}
	out := newStream[[]T](s)
	drop := dropper[T](s)
	s.runWorkers(func(ctx context.Context, c *counters) error {
		o := out.out()
		win := make([]T, 0, size)
		for {
			x, ok := recv(ctx, inq, c, false)
			if !ok {
				break
			}
			countDone(c, count, x)
			if win = append(win, x); len(win) < size {
				continue
			}
			if !emitWindow(ctx, o, win, c, drop) {
				return nil
			}
			win = make([]T, 0, size)
		}
		if ctx.Err() != nil {
			dropAll(drop, win)
		} else {
			emitWindow(ctx, o, win, c, drop)
		}
		return nil
	}, func() { close(out.ch) })
	return out
}

// TumblingWindowTime groups the items that arrive in each period of length size, counted from
// the start of the run, and emits each window at the end of its period; the items still held
// when the input ends form the last window.
//
//	in:   -1-2--3-----4-5-|
//	time: |----|----|----|    size: five ticks
//	out:  -----•----•----•|   [1 2] [3] [4 5]
//
// A window holds what arrives in one period: with MaxWindow(n) it is emitted early when it
// reaches n items, which bounds memory whatever the rate. Run reports a build error for
// size ≤ 0.
func TumblingWindowTime[T any](in *Stream[T], size time.Duration, opts ...Option) *Stream[[]T] {
	s, inq := consume(in, "tumbling-window-time", single(opts), 1)
	count := unitCounter[T](s)
	if size <= 0 {
		s.buildErrorf("window of %v", size)
	}
	out := newStream[[]T](s)
	drop := dropper[T](s)
	limit := s.cfg.maxWindow
	s.runWorkers(func(ctx context.Context, c *counters) error {
		o := out.out()
		ticker := time.NewTicker(max(size, 1))
		defer ticker.Stop()
		var win []T
		flush := func() bool {
			w := win
			win = nil
			return emitWindow(ctx, o, w, c, drop)
		}
		for {
			x, ev := recvOrTick(ctx, inq, ticker.C, c)
			switch ev {
			case gotItem:
				countDone(c, count, x)
				if win = append(win, x); limit > 0 && len(win) >= limit && !flush() {
					return nil
				}
			case gotTick:
				if !flush() {
					return nil
				}
			case gotEnd:
				if ctx.Err() != nil {
					dropAll(drop, win)
				} else {
					flush()
				}
				return nil
			}
		}
	}, func() { close(out.ch) })
	return out
}

// SessionWindow groups items that arrive less than gap apart: a window closes, and is
// emitted, once no item has come for gap, or when the input ends.
//
//	in:  -1-2-3------4-5------6-|     gap: four ticks
//	out: ---------•-------•-----•|    [1 2 3] [4 5] [6]
//
// A session of items that never pauses grows without bound: MaxWindow(n) closes a window
// when it reaches n items. Run reports a build error for gap ≤ 0.
//
// Cost: one clock reading per item; the timer is reset only when it fires.
func SessionWindow[T any](in *Stream[T], gap time.Duration, opts ...Option) *Stream[[]T] {
	s, inq := consume(in, "session-window", single(opts), 1)
	count := unitCounter[T](s)
	if gap <= 0 {
		s.buildErrorf("session gap of %v", gap)
	}
	out := newStream[[]T](s)
	drop := dropper[T](s)
	limit := s.cfg.maxWindow
	s.runWorkers(func(ctx context.Context, c *counters) error {
		o := out.out()
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		defer timer.Stop()
		var win []T
		var last int64 // clock reading of the last item
		flush := func() bool {
			w := win
			win = nil
			return emitWindow(ctx, o, w, c, drop)
		}
		for {
			var tick <-chan time.Time
			if len(win) > 0 {
				tick = timer.C
			}
			x, ev := recvOrTick(ctx, inq, tick, c)
			switch ev {
			case gotItem:
				countDone(c, count, x)
				last = clock()
				if len(win) == 0 {
					timer.Reset(max(gap, 1))
				}
				if win = append(win, x); limit > 0 && len(win) >= limit {
					timer.Stop()
					if !flush() {
						return nil
					}
				}
			case gotTick:
				if idle := time.Duration(clock() - last); idle < gap {
					timer.Reset(gap - idle) // items came since the timer was set
					continue
				}
				if !flush() {
					return nil
				}
			case gotEnd:
				if ctx.Err() != nil {
					dropAll(drop, win)
				} else if len(win) > 0 {
					flush()
				}
				return nil
			}
		}
	}, func() { close(out.ch) })
	return out
}

// emitWindow hands a window downstream, or releases its items when the run ends first. An
// empty window is not emitted. It reports whether the stage may go on.
func emitWindow[T any](ctx context.Context, o chan<- []T, win []T, c *counters, drop func(T)) bool {
	if len(win) == 0 {
		return true
	}
	if !send(ctx, o, win, c, false) {
		dropAll(drop, win)
		return false
	}
	return true
}

// The events recvOrTick waits for.
const (
	gotItem = iota
	gotTick
	gotEnd // the input has ended or the run is cancelled
)

// recvOrTick waits for an item, a tick (tick may be nil) or the end. Time blocked counts as
// waiting for input, as in recv. A tick is seen even while items keep coming.
func recvOrTick[T any](ctx context.Context, in <-chan T, tick <-chan time.Time, c *counters) (T, int) {
	var zero T
	done := ctx.Done()
	select {
	case x, ok := <-in:
		if !ok {
			return x, gotEnd
		}
		bump(&c.in, 1)
		return x, gotItem
	case <-tick:
		return zero, gotTick
	case <-done:
		return zero, gotEnd
	default:
	}
	t := c.beginWait()
	defer c.endWait(&c.waitIn, t, false)
	select {
	case x, ok := <-in:
		if !ok {
			return x, gotEnd
		}
		bump(&c.in, 1)
		return x, gotItem
	case <-tick:
		return zero, gotTick
	case <-done:
		return zero, gotEnd
	}
}
