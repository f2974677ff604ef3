package pipeline_test

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
)

func windowsEqual(a, b [][]int) bool { return slices.EqualFunc(a, b, slices.Equal[[]int]) }

func TestTumblingWindowCount(t *testing.T) {
	p := pipeline.New()
	out := pipeline.Collect(pipeline.TumblingWindowCount(pipeline.FromSlice(p, []int{1, 2, 3, 4, 5, 6, 7}), 3, pipeline.Name("w")))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := [][]int{{1, 2, 3}, {4, 5, 6}, {7}}; !windowsEqual(out.Value(), want) {
		t.Errorf("got %v, want %v", out.Value(), want)
	}
	if st := statsOf(t, p, "w"); st.In != 7 || st.Out != 3 {
		t.Errorf("stats %+v", st)
	}
}

// paced emits xs, waiting for the given pause before each item whose pause is non-zero.
func paced(p *pipeline.Pipeline, xs []int, pauses map[int]time.Duration) *pipeline.Stream[int] {
	return pipeline.Generate(p, func(ctx context.Context, emit func(int) error) error {
		for _, x := range xs {
			time.Sleep(pauses[x])
			if err := emit(x); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestTumblingWindowTime(t *testing.T) {
	p := pipeline.New()
	// Items 1-3 at once, 4-5 two periods and a half later, in the middle of a period: two
	// windows (the periods between are empty and emit nothing).
	src := paced(p, []int{1, 2, 3, 4, 5}, map[int]time.Duration{4: 250 * time.Millisecond})
	out := pipeline.Collect(pipeline.TumblingWindowTime(src, 100*time.Millisecond))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := [][]int{{1, 2, 3}, {4, 5}}; !windowsEqual(out.Value(), want) {
		t.Errorf("got %v, want %v", out.Value(), want)
	}
}

// Windows close on time even while items keep coming, and MaxWindow bounds them.
func TestTumblingWindowTimeUnderLoadAndMaxWindow(t *testing.T) {
	p := pipeline.New()
	src := pipeline.Generate(p, func(ctx context.Context, emit func(int) error) error {
		for start, i := time.Now(), 0; time.Since(start) < 60*time.Millisecond; i++ {
			if err := emit(i); err != nil {
				return err
			}
		}
		return nil
	})
	a, b := pipeline.Tee(src)
	timed := pipeline.Collect(pipeline.TumblingWindowTime(a, 10*time.Millisecond))
	capped := pipeline.Collect(pipeline.TumblingWindowTime(b, time.Hour, pipeline.MaxWindow(100)))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(timed.Value()); n < 3 {
		t.Errorf("%d windows of 10ms in 60ms of steady input", n)
	}
	for i, w := range capped.Value() {
		if len(w) > 100 || (len(w) < 100 && i < len(capped.Value())-1) {
			t.Fatalf("window %d has %d items with MaxWindow(100)", i, len(w))
		}
	}
}

func TestSessionWindow(t *testing.T) {
	p := pipeline.New()
	src := paced(p, []int{1, 2, 3, 4, 5, 6}, map[int]time.Duration{
		2: 5 * time.Millisecond, 3: 5 * time.Millisecond, 4: 80 * time.Millisecond, 6: 80 * time.Millisecond})
	a, b := pipeline.Tee(src)
	out := pipeline.Collect(pipeline.SessionWindow(a, 40*time.Millisecond, pipeline.Name("session")))
	capped := pipeline.Collect(pipeline.SessionWindow(b, time.Hour, pipeline.MaxWindow(4)))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := [][]int{{1, 2, 3}, {4, 5}, {6}}; !windowsEqual(out.Value(), want) {
		t.Errorf("got %v, want %v", out.Value(), want)
	}
	if want := [][]int{{1, 2, 3, 4}, {5, 6}}; !windowsEqual(capped.Value(), want) {
		t.Errorf("with MaxWindow(4): got %v, want %v", capped.Value(), want)
	}
}

func TestSlidingWindowCount(t *testing.T) {
	for _, c := range []struct {
		n, size, step int
		want          [][]int
	}{
		{6, 3, 2, [][]int{{0, 1, 2}, {2, 3, 4}, {4, 5}}},
		{5, 3, 2, [][]int{{0, 1, 2}, {2, 3, 4}}},
		{5, 3, 1, [][]int{{0, 1, 2}, {1, 2, 3}, {2, 3, 4}}},
		{2, 3, 1, [][]int{{0, 1}}},
		{4, 2, 2, [][]int{{0, 1}, {2, 3}}},
		{0, 2, 1, nil},
	} {
		p := pipeline.New()
		out := pipeline.Collect(pipeline.SlidingWindowCount(pipeline.FromSlice(p, ints(c.n)), c.size, c.step))
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !windowsEqual(out.Value(), c.want) {
			t.Errorf("%d items, size %d step %d: got %v, want %v", c.n, c.size, c.step, out.Value(), c.want)
		}
	}
	p := pipeline.New()
	pipeline.Discard(pipeline.SlidingWindowCount(pipeline.FromSlice(p, ints(1)), 2, 3))
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "step ≤ size") {
		t.Errorf("step > size: %v", err)
	}
}

func TestSlidingWindowTime(t *testing.T) {
	p := pipeline.New()
	src := paced(p, []int{1, 2, 3}, map[int]time.Duration{2: 50 * time.Millisecond, 3: 50 * time.Millisecond})
	out := pipeline.Collect(pipeline.SlidingWindowTime(src, 60*time.Millisecond, 20*time.Millisecond))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Every item is in some window, each window is sorted, and the first window with an
	// item comes within two slides of it; item 1 and item 3 (100ms apart) never meet.
	seen := map[int]int{}
	for _, w := range out.Value() {
		if !slices.IsSorted(w) || len(w) == 0 {
			t.Errorf("window %v", w)
		}
		if slices.Contains(w, 1) && slices.Contains(w, 3) {
			t.Errorf("window %v spans more than 60ms", w)
		}
		for _, x := range w {
			seen[x]++
		}
	}
	if seen[1] < 2 || seen[2] < 2 || seen[3] < 1 {
		t.Errorf("items in %v windows: %v", seen, out.Value())
	}
}

// Sliding windows of items with Release need Clone; each copy is released once, and what a
// window stage holds when the run fails is released.
func TestSlidingWindowClonesAndReleases(t *testing.T) {
	p := pipeline.New()
	pipeline.Discard(pipeline.SlidingWindowCount(pipeline.FromSlice(p, []token{}), 2, 1))
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "Clone") {
		t.Errorf("releasable items without Clone: %v", err)
	}

	const n = 30000
	l := newTally(3 * n) // the k-th copy of item i counts at k*n+i
	made := make([]atomic.Int32, n)
	p = pipeline.New()
	wins := pipeline.SlidingWindowCount(endless(p, &tally{counts: l.counts[:n]}, "src"), 3, 1,
		pipeline.Clone(func(x token) token { return l.token(int(made[x.id].Add(1))*n + x.id) }))
	var got atomic.Int64
	pipeline.ForEach(wins, func(_ context.Context, w []token) error {
		if got.Add(1) == 1000 {
			return errEnough // the pipeline releases the window
		}
		for _, x := range w {
			x.Release()
		}
		return nil
	})
	if err := p.Run(context.Background()); err == nil {
		t.Fatal("the run did not fail")
	}
	l.check(t)
	for i := range 1000 {
		if l.counts[i].Load() != 1 {
			t.Fatalf("item %d released %d times", i, l.counts[i].Load())
		}
		for k := 1; k <= int(made[i].Load()); k++ {
			if c := l.counts[k*n+i].Load(); c != 1 {
				t.Fatalf("copy %d of item %d released %d times", k, i, c)
			}
		}
	}
}
