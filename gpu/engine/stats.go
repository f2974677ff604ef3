package engine

import (
	"fmt"
	"sync"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
)

// Stats describes an Engine's work so far.
type Stats struct {
	Batches           int64 // batches handed back by Next
	BytesIn, BytesOut int64 // bytes uploaded and downloaded
	// WaitSlot is the time producers spent waiting for a free slot: high when the device,
	// or a consumer slow to Release, is the bottleneck.
	WaitSlot time.Duration
	// Upload, Compute and Download are the stream time of each phase, summed over batches
	// and measured with events: from the end of the previous phase to the end of this one,
	// so a phase that waited for its engine counts the wait.
	Upload, Compute, Download time.Duration
	// Busy is the time at least one batch was between its slot's acquisition and its
	// hand-over by Next.
	Busy  time.Duration
	Grows int64 // times a slot's buffers grew
	// Shrinks counts the times a slot freed buffers grown past Options.Keep.
	Shrinks int64
	Slots   []SlotStats
}

// SlotStats describes one slot's work.
type SlotStats struct {
	Batches                   int64
	BytesIn, BytesOut         int64
	WaitFree                  time.Duration // producers' wait for this slot to come free
	Upload, Compute, Download time.Duration
	Grows, Shrinks            int64
	Capacity                  gpu.Sizes // the sizes of its buffers now
}

// Extra flattens the statistics into the figures a pipeline stage reports: totals such as
// "batches", "h2d_ms", "kernel_ms", "d2h_ms", "wait_slot_ms", and per slot
// "slot0.batches", "slot0.bytes_in", "slot0.bytes_out", "slot0.wait_ms", ...
func (s Stats) Extra() map[string]float64 {
	m := map[string]float64{
		"slots":        float64(len(s.Slots)),
		"batches":      float64(s.Batches),
		"bytes_in":     float64(s.BytesIn),
		"bytes_out":    float64(s.BytesOut),
		"wait_slot_ms": ms(s.WaitSlot),
		"h2d_ms":       ms(s.Upload),
		"kernel_ms":    ms(s.Compute),
		"d2h_ms":       ms(s.Download),
		"grows":        float64(s.Grows),
		"shrinks":      float64(s.Shrinks),
	}
	for i, sl := range s.Slots {
		p := fmt.Sprintf("slot%d.", i)
		m[p+"batches"] = float64(sl.Batches)
		m[p+"bytes_in"] = float64(sl.BytesIn)
		m[p+"bytes_out"] = float64(sl.BytesOut)
		m[p+"wait_ms"] = ms(sl.WaitFree)
		m[p+"h2d_ms"] = ms(sl.Upload)
		m[p+"kernel_ms"] = ms(sl.Compute)
		m[p+"d2h_ms"] = ms(sl.Download)
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// counters gathers the statistics from the producer and the consumer side.
type counters struct {
	mu       sync.Mutex
	slots    []SlotStats
	busy     time.Duration
	lastDone time.Time // when the previous batch was handed back
}

func (c *counters) slot(i int) *SlotStats {
	for len(c.slots) <= i {
		c.slots = append(c.slots, SlotStats{})
	}
	return &c.slots[i]
}

func (c *counters) acquired(i int, waited time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slot(i).WaitFree += waited
}

// grew records a slot's new capacity, after a growth or after a failed one emptied it.
func (c *counters) grew(i int, caps gpu.Sizes, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.slot(i)
	if ok {
		st.Grows++
	}
	st.Capacity = caps
}

// shrank records that a slot freed its buffers after a batch that grew them past Keep.
func (c *counters) shrank(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.slot(i)
	st.Shrinks++
	st.Capacity = gpu.Sizes{}
}

// finished accounts a batch handed back: its phase times from the slot's events, and the
// busy time it adds. Batches are handed back in order, so the union of the intervals from
// acquisition to hand-over grows by the part of this one after the previous hand-over.
func (c *counters) finished(s *slot, sizes gpu.Sizes, since time.Time) {
	up := elapsed(s.events[evStart], s.events[evUploaded])
	comp := elapsed(s.events[evUploaded], s.events[evComputed])
	down := elapsed(s.events[evComputed], s.events[evDone])
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.slot(s.index)
	st.Batches++
	st.BytesIn += int64(sizes.In)
	st.BytesOut += int64(sizes.Out)
	st.Upload += up
	st.Compute += comp
	st.Download += down
	if since.Before(c.lastDone) {
		since = c.lastDone
	}
	c.busy += max(now.Sub(since), 0)
	c.lastDone = now
}

// elapsed is the time between two completed events, or 0 when the device cannot tell.
func elapsed(from, to gpu.Event) time.Duration {
	d, err := from.Elapsed(to)
	if err != nil || d < 0 {
		return 0
	}
	return d
}

func (c *counters) busyTime() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.busy
}

func (c *counters) snapshot(slots int) Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := Stats{Busy: c.busy, Slots: make([]SlotStats, slots)}
	for i := range slots {
		st := *c.slot(i)
		out.Slots[i] = st
		out.Batches += st.Batches
		out.BytesIn += st.BytesIn
		out.BytesOut += st.BytesOut
		out.WaitSlot += st.WaitFree
		out.Upload += st.Upload
		out.Compute += st.Compute
		out.Download += st.Download
		out.Grows += st.Grows
		out.Shrinks += st.Shrinks
	}
	return out
}
