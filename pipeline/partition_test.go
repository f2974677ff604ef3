package pipeline_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
)

func collectAll[T any](outs []*pipeline.Stream[T]) []*pipeline.Result[[]T] {
	var rs []*pipeline.Result[[]T]
	for _, o := range outs {
		rs = append(rs, pipeline.Collect(o, pipeline.Buffer(1000)))
	}
	return rs
}

func TestRoundRobinDealsInTurnWhenThereIsRoom(t *testing.T) {
	p := pipeline.New()
	rs := collectAll(pipeline.RoundRobin(pipeline.FromSlice(p, ints(30)), 3, pipeline.Name("rr")))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for k, r := range rs {
		var want []int
		for x := k; x < 30; x += 3 {
			want = append(want, x)
		}
		if !slices.Equal(r.Value(), want) {
			t.Errorf("branch %d got %v, want %v", k, r.Value(), want)
		}
	}
	if st := statsOf(t, p, "rr"); st.In != 30 || st.Out != 30 {
		t.Errorf("stats %+v", st)
	}
}

// A slow branch takes fewer items and does not hold the others back; every item goes to one
// branch, in order within it.
func TestRoundRobinBalancesAroundASlowBranch(t *testing.T) {
	p := pipeline.New()
	outs := pipeline.RoundRobin(pipeline.FromSlice(p, ints(2000)), 3)
	var rs []*pipeline.Result[[]int]
	for k, o := range outs {
		if k == 0 {
			o = pipeline.Map(o, func(_ context.Context, x int) (int, error) {
				time.Sleep(200 * time.Microsecond)
				return x, nil
			}, pipeline.Buffer(2))
		}
		rs = append(rs, pipeline.Collect(o))
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var all []int
	for _, r := range rs {
		if !slices.IsSorted(r.Value()) {
			t.Errorf("a branch lost the order")
		}
		all = append(all, r.Value()...)
	}
	slices.Sort(all)
	if !slices.Equal(all, ints(2000)) {
		t.Fatalf("%d items out, want each of 2000 once", len(all))
	}
	if n := len(rs[0].Value()); n > 400 {
		t.Errorf("the slow branch took %d of 2000 items", n)
	}
}

func TestRoundRobinGoesOnWithoutABranchThatStopped(t *testing.T) {
	p := pipeline.New()
	outs := pipeline.RoundRobin(pipeline.FromSlice(p, ints(1000)), 2, pipeline.Buffer(1))
	first := pipeline.Custom(outs[0], func(ctx context.Context, io *pipeline.IO[int, int]) error {
		x, _ := io.Recv()
		return io.Send(x)
	}, pipeline.Buffer(1))
	head, rest := pipeline.Collect(first), pipeline.Collect(outs[1])
	if err := runWithin(t, p, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// The stopped branch had 1 item and may have had 1 more queued when it stopped.
	if len(head.Value()) != 1 || len(rest.Value()) < 997 || !slices.IsSorted(rest.Value()) {
		t.Errorf("head %v, the other branch %d items", head.Value(), len(rest.Value()))
	}
}

func TestPartitionRoutesInOrderAndFailsBadRoutes(t *testing.T) {
	p := pipeline.New()
	rs := collectAll(pipeline.Partition(pipeline.FromSlice(p, ints(100)), 3, func(x int) int {
		if x == 50 {
			return 7
		}
		return x % 3
	}, pipeline.Name("part"), pipeline.SkipErrors(func(e *pipeline.StageError) {
		if e.Item != 50 || !strings.Contains(e.Error(), "route returned 7 for 3 branches") {
			t.Errorf("error %v", e)
		}
	})))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for k, r := range rs {
		var want []int
		for x := k; x < 100; x += 3 {
			if x != 50 {
				want = append(want, x)
			}
		}
		if !slices.Equal(r.Value(), want) {
			t.Errorf("branch %d got %v", k, r.Value())
		}
	}
	if st := statsOf(t, p, "part"); st.Errors != 1 || st.Out != 99 {
		t.Errorf("stats %+v", st)
	}

	p = pipeline.New()
	for _, o := range pipeline.Partition(pipeline.FromSlice(p, ints(10)), 2, func(x int) int {
		if x == 3 {
			panic("no route")
		}
		return 0
	}, pipeline.Name("part")) {
		pipeline.Discard(o)
	}
	var pe *pipeline.PanicError
	if err := p.Run(context.Background()); !errors.As(err, &pe) {
		t.Errorf("a panic in route: %v", err)
	}
}

func TestSplitAndPartitionByKey(t *testing.T) {
	p := pipeline.New()
	even, odd := pipeline.Split(pipeline.FromSlice(p, ints(10)), func(x int) bool { return x%2 == 0 })
	evens, odds := pipeline.Collect(even), pipeline.Collect(odd)
	type ev struct{ user, n int }
	var events []ev
	for i := range 600 {
		events = append(events, ev{user: i % 7, n: i})
	}
	rs := collectAll(pipeline.PartitionByKey(pipeline.FromSlice(p, events), 3, func(e ev) int { return e.user }))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(evens.Value(), []int{0, 2, 4, 6, 8}) || !slices.Equal(odds.Value(), []int{1, 3, 5, 7, 9}) {
		t.Errorf("split %v %v", evens.Value(), odds.Value())
	}
	branchOf := map[int]int{}
	total := 0
	for k, r := range rs {
		last := map[int]int{}
		for _, e := range r.Value() {
			if b, seen := branchOf[e.user]; seen && b != k {
				t.Fatalf("user %d in branches %d and %d", e.user, b, k)
			}
			branchOf[e.user] = k
			if l, seen := last[e.user]; seen && l > e.n {
				t.Fatalf("user %d out of order", e.user)
			}
			last[e.user] = e.n
		}
		total += len(r.Value())
	}
	if total != 600 || len(branchOf) != 7 {
		t.Errorf("%d events in %d users", total, len(branchOf))
	}
}

// Partition releases the items it drops: those routed to a branch that stopped, and the one
// it holds when the run ends; every item is released once.
func TestPartitionReleasesWhatItDrops(t *testing.T) {
	l := newTally(50000)
	p := pipeline.New()
	outs := pipeline.Partition(endless(p, l, "src"), 2, func(x token) int { return x.id % 2 })
	var taken atomic.Int64
	first := pipeline.Custom(outs[0], func(ctx context.Context, io *pipeline.IO[token, token]) error {
		x, _ := io.Recv()
		taken.Add(1)
		x.Release()
		return nil
	})
	pipeline.Discard(first)
	takeThenFail(outs[1], 2000, "odd")
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "enough") {
		t.Fatalf("Run returned %v", err)
	}
	l.checkAll(t)
	if taken.Load() != 1 {
		t.Errorf("the stopped branch took %d items", taken.Load())
	}
}
