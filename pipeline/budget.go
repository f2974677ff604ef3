package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// ErrOverBudget is the error of a request larger than a whole Budget: it could never be
// admitted, so Acquire refuses it at once instead of waiting forever. Test with errors.Is.
var ErrOverBudget = errors.New("over the memory budget")

// Budget is a byte budget shared by the stages of a run: work is admitted by the bytes it
// will hold, not only by item counts, so that what is held at once stays under the limit
// whatever the inputs. Acquire blocks until the bytes are free; Release gives them back.
//
// Waiters are served in the order they asked (first come, first served), so a large request
// is not starved by a stream of small ones. A stage that acquires must do so in an order
// its consumers can follow: a request that waits for bytes held by items behind it in the
// pipeline would wait forever, so acquire in input order, in one place (imgpipe does it in a
// single-worker stage before its decoders) and hold the bytes until the item is done.
//
// A nil *Budget has no limit: Acquire returns at once and Release does nothing. A Budget is
// safe for concurrent use.
type Budget struct {
	limit int64

	mu      sync.Mutex
	used    int64
	peak    int64
	waiters []*budgetWaiter // in arrival order
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when the bytes are granted
}

// NewBudget returns a budget of limit bytes; limit must be positive.
func NewBudget(limit int64) *Budget {
	if limit <= 0 {
		panic(fmt.Sprintf("pipeline: NewBudget(%d): the limit must be positive", limit))
	}
	return &Budget{limit: limit}
}

// Limit is the budget's size in bytes; 0 for a nil Budget (no limit).
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// Acquire takes n bytes from the budget, waiting until they are free and no earlier request
// waits, or until ctx is done (then it returns ctx's error and takes nothing). A request of
// more bytes than the whole budget fails at once with an error wrapping ErrOverBudget. n ≤ 0
// takes nothing.
func (b *Budget) Acquire(ctx context.Context, n int64) error {
	if b == nil || n <= 0 {
		return nil
	}
	if n > b.limit {
		return fmt.Errorf("%w: needs %s, the whole budget is %s", ErrOverBudget, FormatBytes(n), FormatBytes(b.limit))
	}
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.limit {
		b.take(n)
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		select {
		case <-w.ready:
			// Granted while the context ended: hand the bytes back.
			b.used -= n
			b.grant()
		default:
			for i, o := range b.waiters {
				if o == w {
					b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
					break
				}
			}
			// The head of the queue may have been the one in the way.
			b.grant()
		}
		return ctx.Err()
	}
}

// TryAcquire takes n bytes if they are free now and no request waits, and reports whether it
// did.
func (b *Budget) TryAcquire(n int64) bool {
	if b == nil || n <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) > 0 || b.used+n > b.limit {
		return false
	}
	b.take(n)
	return true
}

// Release gives n bytes back and wakes the waiters they make room for, in order.
func (b *Budget) Release(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.used < 0 {
		panic(fmt.Sprintf("pipeline: Budget.Release: %d bytes more released than acquired", -b.used))
	}
	b.grant()
}

// Used is the bytes held now; Peak the most held at once so far.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Peak is the most bytes held at once so far.
func (b *Budget) Peak() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

func (b *Budget) take(n int64) {
	b.used += n
	b.peak = max(b.peak, b.used)
}

// grant admits waiters from the head of the queue while they fit. Called with mu held.
func (b *Budget) grant() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		if b.used+w.n > b.limit {
			return
		}
		b.take(w.n)
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
		close(w.ready)
	}
}

// FormatBytes writes n bytes for people: "512 B", "1.5 KiB", "600 MiB", "2.0 GiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	s := fmt.Sprintf("%.1f", v)
	if v >= 100 || s[len(s)-2:] == ".0" && v >= 10 {
		s = fmt.Sprintf("%.0f", v)
	}
	return s + " " + []string{"", "KiB", "MiB", "GiB", "TiB"}[i]
}

// ParseBytes reads a size such as "600MB", "1.5GiB", "512 KiB" or "1048576": KB, MB, GB and
// TB are powers of 1000, KiB, MiB, GiB and TiB powers of 1024, and K, M, G, T (with or
// without a final B, any case) are taken as the binary units, as most tools that print
// memory use them. A plain number is bytes.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit (KB, MB, GB, KiB, MiB, GiB)", s)
	}
	mult, ok := map[string]float64{
		"": 1, "b": 1,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
		"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
	}[unit]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q (want KB, MB, GB, KiB, MiB or GiB)", s, t[i:])
	}
	b := v * mult
	if b < 1 || b > 1<<62 {
		return 0, fmt.Errorf("size %q: want at least 1 byte and at most 4 EiB", s)
	}
	return int64(b), nil
}
