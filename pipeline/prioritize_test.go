package pipeline_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
)

// waitIn waits until the stage named name has taken in n items.
func waitIn(t *testing.T, p *pipeline.Pipeline, name string, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for statsOf(t, p, name).In < n {
		if time.Now().After(deadline) {
			t.Fatalf("stage %s took in %d items, want %d", name, statsOf(t, p, name).In, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// While downstream is busy, everything held leaves largest first.
func TestPrioritizeHandsOverTheFirstOfWhatItHolds(t *testing.T) {
	xs := rand.New(rand.NewPCG(1, 2)).Perm(50)
	p := pipeline.New()
	var got []int
	pipeline.ForEach(pipeline.Prioritize(pipeline.FromSlice(p, xs), 100, func(a, b int) bool { return a > b }, pipeline.Name("prio")),
		func(_ context.Context, x int) error {
			if len(got) == 0 {
				waitIn(t, p, "prio", 50)
			}
			got = append(got, x)
			return nil
		}, pipeline.Buffer(0))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 50 || !slices.IsSortedFunc(got[1:], func(a, b int) int { return b - a }) {
		t.Errorf("got %v: want the first item, then the other 49 largest first", got)
	}
	if st := statsOf(t, p, "prio"); st.In != 50 || st.Out != 50 {
		t.Errorf("stats %+v", st)
	}
}

// It holds at most n: with n = 3 and ascending input it can only pick among the next three.
// Downstream waits, at each item, until the stage is full again, so every hand-over but the
// first (made at once, of whatever was there) chooses among three.
func TestPrioritizeHoldsAtMostN(t *testing.T) {
	p := pipeline.New()
	var got []int
	pipeline.ForEach(pipeline.Prioritize(pipeline.FromSlice(p, ints(21)[1:]), 3, func(a, b int) bool { return a > b }, pipeline.Name("prio")),
		func(_ context.Context, x int) error {
			got = append(got, x)
			full := min(int64(len(got))+3, 20)
			waitIn(t, p, "prio", full)
			if len(got) == 1 {
				time.Sleep(20 * time.Millisecond)
				if n := statsOf(t, p, "prio").In; n != full {
					t.Errorf("took in %d items with 3 held and 1 handed over", n)
				}
			}
			return nil
		}, pipeline.Buffer(0))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 || got[0] > 3 || !slices.Equal(got[1:18], ints(21)[4:]) || got[18] < got[19] || got[18] > 3 {
		t.Errorf("got %v, want one of 1-3, then 4 to 20, then the other two of 1-3 largest first", got)
	}
}

// A run that stops early releases what the stage holds, once.
func TestPrioritizeReleasesWhatItHoldsWhenTheRunStops(t *testing.T) {
	l := newTally(100)
	var src []token
	for i := range 100 {
		src = append(src, l.token(i))
	}
	p := pipeline.New()
	stop := errors.New("stop")
	pipeline.ForEach(pipeline.Prioritize(pipeline.FromSlice(p, src), 40, func(a, b token) bool { return a.id < b.id }, pipeline.Name("prio")),
		func(_ context.Context, x token) error {
			waitIn(t, p, "prio", 41)
			return stop // the item is released by ForEach
		}, pipeline.Buffer(0))
	if err := p.Run(context.Background()); !errors.Is(err, stop) {
		t.Fatalf("Run returned %v", err)
	}
	// The slice's unsent items stay the caller's; the 41 taken in are released.
	if n := l.check(t); n < 41 {
		t.Errorf("%d tokens released, want at least the 41 the stage took in", n)
	}
}

func TestPrioritizeRefusesNoRoom(t *testing.T) {
	p := pipeline.New()
	pipeline.Discard(pipeline.Prioritize(pipeline.FromSlice(p, ints(3)), 0, func(a, b int) bool { return a < b }))
	if err := p.Run(context.Background()); err == nil {
		t.Errorf("a Prioritize holding 0 items was accepted")
	}
}
