package pipeline

import (
	"context"
	"sync/atomic"
	"time"
)

// Throttle passes its items on at a rate of at most n per period, in order: items are spaced
// by period/n, except that after an idle spell up to burst of them pass at once (a token
// bucket of burst tokens, starting full). burst < 1 means 1. The stage holds an item back
// until it may pass, so upstream is held back by back-pressure and nothing is lost.
//
//	in:  -1234-----5-|     one item per two ticks, burst 1
//	out: -1-2-3-4--5-|
//
// The schedule is kept from item to item, so a wait that the system timer makes longer than
// asked is made up by the items after it: over a long run the rate is n per period to within
// the timer's precision, and no window of the schedule's length holds more than burst items
// beyond its share. The waits count as the stage's busy time: a Throttle that limits the
// run's throughput is its bottleneck. Run reports a build error for n < 1 or period ≤ 0.
func Throttle[T any](in *Stream[T], n int, period time.Duration, burst int, opts ...Option) *Stream[T] {
	return throttle(in, "throttle", n, period, burst, false, opts)
}

// ThrottleDrop passes at most n items per period with bursts of up to burst, as Throttle,
// but drops the items that come when none may pass instead of holding them back, so that
// upstream never waits for it (go-streams' Throttler in Discard mode). Dropped items are
// released (see "Dropped items" in the package documentation) and counted in
// StageStats.Extra["dropped"].
func ThrottleDrop[T any](in *Stream[T], n int, period time.Duration, burst int, opts ...Option) *Stream[T] {
	return throttle(in, "throttle-drop", n, period, burst, true, opts)
}

func throttle[T any](in *Stream[T], kind string, n int, period time.Duration, burst int, dropLate bool, opts []Option) *Stream[T] {
	s, inq := consume(in, kind, single(opts), 1)
	if n < 1 || period <= 0 {
		s.buildErrorf("%s of %d items per %v", kind, n, period)
	}
	out := newStream[T](s)
	drop := dropper[T](s)
	count := unitCounter[T](s)
	release := func(x T) {
		if drop != nil {
			drop(x)
		}
	}
	var dropped atomic.Int64
	if dropLate {
		extra := func() map[string]float64 { return map[string]float64{"dropped": float64(dropped.Load())} }
		s.extra.Store(&extra)
	}
	s.runWorkers(func(ctx context.Context, c *counters) error {
		interval := float64(period) / float64(max(n, 1))
		slack := float64(max(burst, 1)-1) * interval
		var tat float64 // the theoretical time the next item is due, as a clock reading
		var timer *time.Timer
		o := out.out()
		for {
			x, ok := recv(ctx, inq, c, false)
			if !ok {
				return nil
			}
			countDone(c, count, x)
			now := float64(clock())
			tat = max(tat, now)
			if wait := tat - slack - now; wait > 0 {
				if dropLate {
					dropped.Add(1)
					release(x)
					continue
				}
				if timer == nil {
					timer = time.NewTimer(time.Duration(wait))
					defer timer.Stop()
				} else {
					timer.Reset(time.Duration(wait))
				}
				select {
				case <-timer.C:
				case <-ctx.Done():
					release(x)
					return nil
				}
			}
			tat += interval
			if !send(ctx, o, x, c, false) {
				release(x)
				return nil
			}
		}
	}, func() { close(out.ch) })
	return out
}
