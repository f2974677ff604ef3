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

func TestBroadcastEveryItemToEveryBranchInOrder(t *testing.T) {
	p := pipeline.New()
	outs := pipeline.Broadcast(pipeline.FromSlice(p, ints(500)), 3, pipeline.Name("bc"))
	var results []*pipeline.Result[[]int]
	for i, o := range outs {
		if i == 1 { // one slow branch
			o = pipeline.Map(o, func(_ context.Context, x int) (int, error) {
				time.Sleep(10 * time.Microsecond)
				return x, nil
			})
		}
		results = append(results, pipeline.Collect(o))
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if !slices.Equal(r.Value(), ints(500)) {
			t.Errorf("branch %d got %d items, out of order or lost", i, len(r.Value()))
		}
	}
	if st := statsOf(t, p, "bc"); st.In != 500 || st.Out != 1500 {
		t.Errorf("stats %+v", st)
	}
}

// Back-pressure comes from the slowest branch: a fast branch runs at most its queue ahead.
func TestBroadcastSlowestBranchSetsThePace(t *testing.T) {
	var fast, slow atomic.Int64
	var worst atomic.Int64
	p := pipeline.New()
	a, b := pipeline.Tee(pipeline.FromSlice(p, ints(200)))
	pipeline.ForEach(a, func(context.Context, int) error {
		if d := fast.Add(1) - slow.Load(); d > worst.Load() {
			worst.Store(d)
		}
		return nil
	}, pipeline.Buffer(4))
	pipeline.ForEach(b, func(context.Context, int) error {
		time.Sleep(50 * time.Microsecond)
		slow.Add(1)
		return nil
	}, pipeline.Buffer(4))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The fast branch is ahead by the slow branch's queue, the item it works on and the item
	// the broadcaster holds, and by its own queue and worker at most.
	if w := worst.Load(); w > 4+1+1+4+1 {
		t.Errorf("the fast branch ran %d items ahead of the slow one", w)
	}
}

// A branch whose consumer stops early is left out; the others get everything.
func TestBroadcastGoesOnWithoutABranchThatStopped(t *testing.T) {
	p := pipeline.New()
	outs := pipeline.Broadcast(pipeline.FromSlice(p, ints(1000)), 2, pipeline.Buffer(1))
	first := pipeline.Custom(outs[0], func(ctx context.Context, io *pipeline.IO[int, int]) error {
		x, _ := io.Recv()
		return io.Send(x)
	}, pipeline.Buffer(1))
	head, all := pipeline.Collect(first), pipeline.Collect(outs[1])
	if err := runWithin(t, p, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(head.Value(), []int{0}) || !slices.Equal(all.Value(), ints(1000)) {
		t.Errorf("head %v, the other branch %d items", head.Value(), len(all.Value()))
	}
}

// Items with a Release method need a Clone; with one, each branch owns its copy, and what the
// run drops is released once.
func TestBroadcastClonesReleasableItems(t *testing.T) {
	p := pipeline.New()
	l := newTally(10)
	pipeline.Broadcast(pipeline.FromSlice(p, []token{l.token(0)}), 2, pipeline.Name("bc"))
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "Clone") {
		t.Errorf("releasable items without Clone: %v", err)
	}

	p = pipeline.New()
	pipeline.Broadcast(pipeline.FromSlice(p, ints(3)), 2, pipeline.Clone(func(s string) string { return s }))
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "Clone takes a string") {
		t.Errorf("Clone of the wrong type: %v", err)
	}

	const n = 20000
	const branches = 3
	l = newTally(branches * n) // the copy of item i for branch k counts at id k*n+i
	p = pipeline.New()
	sub := &tally{counts: l.counts[:n]} // the originals
	src := endless(p, sub, "src")
	made := make([]atomic.Int32, n)
	outs := pipeline.Broadcast(src, branches, pipeline.Clone(func(x token) token {
		k := made[x.id].Add(1)
		return l.token(int(k)*n + x.id)
	}))
	takeThenFail(outs[0], 500, "a")
	for _, o := range outs[1:] {
		pipeline.ForEach(o, func(_ context.Context, x token) error { x.Release(); return nil })
	}
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "enough") {
		t.Fatalf("Run returned %v", err)
	}
	if r := l.check(t); r < 500 {
		t.Errorf("%d tokens released", r)
	}
	// Every item and every copy made was released once: taken by a branch, which released
	// it, or dropped.
	for i := range int(sub.made.Load()) {
		if c := l.counts[i].Load(); c != 1 {
			t.Fatalf("item %d released %d times", i, c)
		}
		for k := 1; k <= int(made[i].Load()); k++ {
			if l.counts[k*n+i].Load() != 1 {
				t.Fatalf("copy %d of item %d was made and not released", k, i)
			}
		}
	}
}
