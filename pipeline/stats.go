package pipeline

import (
	"runtime"
	"sync/atomic"
	"time"
)

// StageStats is a snapshot of one stage's statistics. Times are sums over the stage's
// workers, so Busy can exceed Elapsed when several workers run at once.
type StageStats struct {
	Name    string
	Kind    string // "source", "map", "ordered-map", "filter", "flat-map", "batch", ...
	Workers int

	In     int64 // items taken from the input queue
	Out    int64 // items handed downstream; for sinks, items consumed without error
	Errors int64 // items whose function failed (skipped, or the one that stopped the run)

	Retries int64 // calls of the stage's function made again under Retry

	Busy    time.Duration // time inside the stage's function
	WaitIn  time.Duration // time blocked waiting for input
	WaitOut time.Duration // time blocked waiting for room downstream
	// WaitOrder is the time an OrderedMap's workers stood idle because its reorder window was
	// full while the oldest item in it was still being worked on: the cost of keeping order
	// behind a slow item, which is neither work nor downstream back-pressure. Zero for other
	// stages.
	WaitOrder time.Duration

	// With the option CountUnits, the stage measures its input items in the units of work
	// they stand for (the images of a batch): Units is true, DoneUnits counts the units of
	// the items it handled without error (passed on, consumed, filtered out, or received by
	// a Custom stage and not failed) and ErrorUnits those of the items that failed. Without
	// it, Units is false and ErrorUnits equals Errors.
	Units                 bool
	DoneUnits, ErrorUnits int64

	QueueLen int // items waiting in the input queue now
	QueueCap int // capacity of the input queue; 0 for sources and synchronous queues

	Elapsed time.Duration // since the stage started; frozen when it finished
	Done    bool          // the stage has finished

	// Extra holds statistics particular to the stage, such as per-slot and per-engine
	// figures of a GPU stage. Nil for most stages.
	Extra map[string]float64
}

// Utilization is the fraction of the stage's worker time spent inside its function:
// Busy / (Workers × Elapsed). A stage near 1 is working flat out. For the stages that run a
// function per item, Busy + WaitIn + WaitOut + WaitOrder is about Workers × Elapsed, so the
// waits say where the rest of the time went.
func (s StageStats) Utilization() float64 {
	return utilization(s.Busy, s.Workers, s.Elapsed)
}

func utilization(busy time.Duration, workers int, elapsed time.Duration) float64 {
	if elapsed <= 0 || workers <= 0 {
		return 0
	}
	return float64(busy) / (float64(workers) * float64(elapsed))
}

// Bottleneck names the stage that limits throughput between two snapshots taken from the
// same pipeline by Stats: the stage whose workers were busiest in that interval. Pass nil as
// prev to judge over the whole run so far. It returns the stage's stats from cur, its
// utilization in the interval, and false when there is no stage or no time has passed.
func Bottleneck(prev, cur []StageStats) (StageStats, float64, bool) {
	before := make(map[string]StageStats, len(prev))
	for _, s := range prev {
		before[s.Name] = s
	}
	best, bestU, found := StageStats{}, -1.0, false
	for _, s := range cur {
		p := before[s.Name]
		u := utilization(s.Busy-p.Busy, s.Workers, s.Elapsed-p.Elapsed)
		if s.Elapsed-p.Elapsed > 0 && u > bestU {
			best, bestU, found = s, u, true
		}
	}
	if !found {
		return StageStats{}, 0, false
	}
	return best, bestU, true
}

// counters are one worker's statistics. Most have a single writer (their worker), which
// updates them with bump: an atomic load and store, cheaper than a read-modify-write. Custom
// stages share one set among their goroutines and use Add. The padding keeps the workers of
// one stage off each other's cache lines.
//
// Busy time is derived for most stages: the worker's lifetime minus the time it spent
// blocked on its queues. The clock is then read only when a worker blocks, never per item,
// which keeps the per-item cost of statistics near zero. Custom stages, which cannot derive
// it, add busy time explicitly.
type counters struct {
	in, out, errs                    atomic.Int64
	busy, waitIn, waitOut, waitOrder atomic.Int64 // nanoseconds
	start, end, blocked              atomic.Int64 // clock readings; 0: not started, not ended, not blocked
	// waits is odd while a wait is being accounted (a wait total grows and blocked clears),
	// so that a reader deriving busy time sees them from the same side of it.
	waits               atomic.Int64
	doneUnits, errUnits atomic.Int64 // CountUnits
	// aux marks the counters of a helper goroutine (an OrderedMap's dispatcher and emitter):
	// their items count, their waits do not, since the workers' waits account for that time.
	aux bool
	_   [128 - 13*8 - 8]byte
}

// beginWait marks the worker as blocked from now and returns the clock reading it used. The
// reading is taken inside the odd section of waits, so that a reader never sees a clock past
// it with the wait not yet marked (it would count the start of the wait as busy, and take it
// back later).
func (c *counters) beginWait() int64 {
	c.waits.Add(1)
	t := clock()
	c.blocked.Store(t)
	c.waits.Add(1)
	return t
}

// endWait adds the wait that began at t to total and marks the worker as running.
func (c *counters) endWait(total *atomic.Int64, t int64, shared bool) {
	c.waits.Add(1)
	inc(total, clock()-t, shared)
	c.blocked.Store(0)
	c.waits.Add(1)
}

// epoch is the origin of clock. Durations since a fixed time read only the monotonic clock,
// which costs half as much as time.Now.
var epoch = time.Now()

// clock is a monotonic reading in nanoseconds, never 0.
func clock() int64 { return int64(time.Since(epoch)) + 1 }

func bump(v *atomic.Int64, d int64) { v.Store(v.Load() + d) }

// waitState reads the wait totals, the wait in progress and the clock consistently: not
// halfway through beginWait or endWait, and with every wait that ended before now in the
// totals. The writer's sections are a few instructions long, so a reader that meets one
// spins, then yields, and tries again; only a writer held up inside its section for longer
// than staleAfter (a machine far overloaded) makes the reader settle for what it read.
func (c *counters) waitState() (w waitTotals, blocked, now int64) {
	var first int64
	for try := 0; ; try++ {
		v := c.waits.Load()
		now = clock()
		w = waitTotals{c.waitIn.Load(), c.waitOut.Load(), c.waitOrder.Load()}
		blocked = c.blocked.Load()
		if v%2 == 0 && c.waits.Load() == v {
			return w, blocked, now
		}
		switch {
		case try == 0:
			first = now
		case now-first > int64(staleAfter):
			return w, blocked, now
		case try >= 8:
			runtime.Gosched()
		}
	}
}

// staleAfter bounds how long a statistics reader waits for a consistent reading.
const staleAfter = 100 * time.Millisecond

type waitTotals struct{ in, out, order int64 }

// add sums the counters into a snapshot.
func (c *counters) add(into *StageStats, derived bool) {
	w, blocked, now := c.waitState()
	into.In += c.in.Load()
	into.Out += c.out.Load()
	into.Errors += c.errs.Load()
	into.DoneUnits += c.doneUnits.Load()
	into.ErrorUnits += c.errUnits.Load()
	if c.aux {
		return
	}
	into.WaitIn += time.Duration(w.in)
	into.WaitOut += time.Duration(w.out)
	into.WaitOrder += time.Duration(w.order)
	if !derived {
		into.Busy += time.Duration(c.busy.Load())
		return
	}
	start, end := c.start.Load(), c.end.Load()
	if start == 0 {
		return
	}
	if end == 0 {
		end = now
		if blocked != 0 {
			end = min(end, blocked) // the wait in progress is not busy either
		}
	}
	into.Busy += time.Duration(max(end-start-w.in-w.out-w.order, 0))
}
