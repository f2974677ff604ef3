package pipeline

import (
	"context"
	"time"
)

// SlidingWindowCount emits, every step items, a window of the last size items, in order;
// windows overlap when step < size. The first window is emitted when size items have come;
// when the input ends, a last, shorter window is emitted if some items have not been in any
// window yet, so that every item is in at least one.
//
//	in:  -1-2-3-4-5-6-|     size 3, step 2
//	out: -----•---•---•|    [1 2 3] [3 4 5] [5 6]
//
// An item is in up to ⌈size/step⌉ windows. Items that may have a Release or Close method
// need a Clone option: the first window gets the item itself, later ones copies (see
// Broadcast). Run reports a build error for size < 1, step < 1 or step > size.
//
// Memory: size items. Cost: a window of size items is copied every step items.
func SlidingWindowCount[T any](in *Stream[T], size, step int, opts ...Option) *Stream[[]T] {
	s, inq := consume(in, "sliding-window-count", single(opts), 1)
	count := unitCounter[T](s)
	if size < 1 || step < 1 || step > size {
		s.buildErrorf("sliding window of %d items every %d (want 1 ≤ step ≤ size)", size, step)
	}
	out := newStream[[]T](s)
	w := newSlider[T](s)
	s.runWorkers(func(ctx context.Context, c *counters) error {
		o := out.out()
		total, next, covered := 0, 0, 0 // items so far; index of the next window's first item; items in a window so far
		for {
			x, ok := recv(ctx, inq, c, false)
			if !ok {
				break
			}
			countDone(c, count, x)
			w.buf = append(w.buf, slot[T]{x: x})
			total++
			if len(w.buf) > size {
				w.evict(1)
			}
			if total < size || (total-size)%step != 0 {
				continue
			}
			if !w.emit(ctx, o, 0, len(w.buf), c) {
				w.releaseRest()
				return w.err
			}
			next, covered = total-size+step, total
		}
		if ctx.Err() == nil && covered < total {
			w.emit(ctx, o, next-(total-len(w.buf)), len(w.buf), c)
		}
		w.releaseRest()
		return w.err
	}, func() { close(out.ch) })
	return out
}

// SlidingWindowTime emits, every slide, a window of the items that arrived in the last size;
// windows overlap when slide < size. The windows end on a fixed schedule, every slide from the
// start of the run, and each holds what arrived in its own interval even when the stage is
// late to emit it (held back by a slow consumer), so that an item is in exactly size/slide
// windows when size is a multiple of slide. When the input ends, the window in progress is
// emitted if some of its items have not been in a window yet. Empty windows are not
// emitted.
//
//	in:   -1--2---3----|
//	time: |---|---|---|      slide: four ticks; size: eight
//	out:  ----•---•---•|     [1] [1 2] [2 3]
//
// An item is in up to ⌈size/slide⌉ windows and needs a Clone option if it may have a Release
// or Close method, as in SlidingWindowCount. Run reports a build error for slide ≤ 0 or
// size < slide.
//
// Memory: the items of the last size.
func SlidingWindowTime[T any](in *Stream[T], size, slide time.Duration, opts ...Option) *Stream[[]T] {
	s, inq := consume(in, "sliding-window-time", single(opts), 1)
	count := unitCounter[T](s)
	if slide <= 0 || size < slide {
		s.buildErrorf("sliding window of %v every %v (want 0 < slide ≤ size)", size, slide)
	}
	out := newStream[[]T](s)
	w := newSlider[T](s)
	s.runWorkers(func(ctx context.Context, c *counters) error {
		o := out.out()
		ticker := time.NewTicker(max(slide, 1))
		defer ticker.Stop()
		end := clock() + int64(slide) // the end of the next window, on the nominal schedule
		// dispatch emits the window of the items that arrived in (end−size, end], if only
		// when one of them has not been in a window yet, then forgets those that will not
		// be in the next window.
		dispatch := func(end int64, onlyNew bool) bool {
			from, to := 0, len(w.buf)
			for from < to && w.buf[from].given && w.buf[from].at <= end-int64(size) {
				from++
			}
			for to > from && w.buf[to-1].at > end {
				to--
			}
			if from < to && (!onlyNew || !w.buf[to-1].given) && !w.emit(ctx, o, from, to, c) {
				return false
			}
			next := end + int64(slide) - int64(size)
			n := 0
			for n < len(w.buf) && w.buf[n].given && w.buf[n].at <= next {
				n++
			}
			w.evict(n)
			return true
		}
		for {
			x, ev := recvOrTick(ctx, inq, ticker.C, c)
			switch ev {
			case gotItem:
				countDone(c, count, x)
				w.buf = append(w.buf, slot[T]{x: x, at: clock()})
			case gotTick:
				// A late tick emits every window due by now, each on its own interval.
				for now := clock(); now >= end; end += int64(slide) {
					if !dispatch(end, false) {
						w.releaseRest()
						return w.err
					}
				}
			case gotEnd:
				// The windows due from here on, on their schedule, until every item has
				// been in one: an item may have come after the end of the window due next
				// when its tick was late.
				for ctx.Err() == nil && len(w.buf) > 0 && !w.buf[len(w.buf)-1].given {
					if !dispatch(end, true) {
						break
					}
					end += int64(slide)
				}
				w.releaseRest()
				return w.err
			}
		}
	}, func() { close(out.ch) })
	return out
}

// slot is an item a sliding window holds: when it arrived, and whether the item itself has
// been handed on in a window (later windows get copies).
type slot[T any] struct {
	x     T
	at    int64
	given bool
}

// slider holds the items of a sliding window, oldest first.
type slider[T any] struct {
	s     *stage
	buf   []slot[T]
	clone func(T) T
	drop  func(T)
	err   error // a panic in Clone, which stops the run
}

func newSlider[T any](s *stage) *slider[T] {
	return &slider[T]{s: s, clone: cloner[T](s, "a sliding window hands an item on in several windows"), drop: dropper[T](s)}
}

// evict forgets the n oldest items, releasing those never handed on.
func (w *slider[T]) evict(n int) {
	for i := range n {
		if !w.buf[i].given && w.drop != nil {
			w.drop(w.buf[i].x)
		}
		w.buf[i] = slot[T]{}
	}
	w.buf = w.buf[n:]
}

// emit sends a window of the items of buf[from:to] on: each item itself the first time, a
// copy after. It returns false when the window could not be handed on, having released it.
func (w *slider[T]) emit(ctx context.Context, o chan<- []T, from, to int, c *counters) bool {
	win := make([]T, 0, to-from)
	for i := from; i < to; i++ {
		sl := &w.buf[i]
		v := sl.x
		if sl.given && w.clone != nil {
			var err error
			if v, err = guard(w.clone, sl.x); err != nil {
				w.err = err
				dropAll(w.drop, win)
				return false
			}
		}
		sl.given = true
		win = append(win, v)
	}
	if !send(ctx, o, win, c, false) {
		dropAll(w.drop, win)
		return false
	}
	return true
}

// releaseRest releases the items held that were never handed on.
func (w *slider[T]) releaseRest() { w.evict(len(w.buf)) }
