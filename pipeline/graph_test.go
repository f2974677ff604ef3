package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
)

// token is an item with a Release method; its tally counts how often each token was
// released, by the pipeline (dropped) or by the test's consumer (delivered).
type token struct {
	id int
	l  *tally
}

func (t token) Release() { t.l.counts[t.id].Add(1) }

type tally struct {
	counts []atomic.Int32
	made   atomic.Int64 // tokens made by endless
}

func newTally(n int) *tally { return &tally{counts: make([]atomic.Int32, n)} }

func (l *tally) token(i int) token { return token{id: i, l: l} }

// check fails the test for a token released more than once, and returns how many tokens
// were released at least once.
func (l *tally) check(t *testing.T) int {
	t.Helper()
	n := 0
	for i := range l.counts {
		switch c := l.counts[i].Load(); {
		case c > 1:
			t.Errorf("token %d released %d times", i, c)
		case c == 1:
			n++
		}
	}
	return n
}

// checkAll fails the test unless every token endless made was released exactly once, by the
// pipeline or by the test's consumers.
func (l *tally) checkAll(t *testing.T) {
	t.Helper()
	made := int(l.made.Load())
	for i := range made {
		if c := l.counts[i].Load(); c != 1 {
			t.Errorf("token %d of %d released %d times", i, made, c)
		}
	}
	for i := made; i < len(l.counts); i++ {
		if l.counts[i].Load() != 0 {
			t.Errorf("token %d released but never made", i)
		}
	}
}

// endless is a source of tokens that runs until the run stops it.
func endless(p *pipeline.Pipeline, l *tally, name string) *pipeline.Stream[token] {
	return pipeline.Generate(p, func(ctx context.Context, emit func(token) error) error {
		for {
			i := int(l.made.Add(1) - 1)
			if i >= len(l.counts) {
				return nil
			}
			if err := emit(l.token(i)); err != nil {
				return err
			}
		}
	}, pipeline.Name(name))
}

var errEnough = errors.New("enough")

// takeThenFail is a sink that releases the items it takes, as their owner, and fails the run
// on the n-th, which it leaves to the pipeline to release.
func takeThenFail[T interface{ Release() }](in *pipeline.Stream[T], n int, name string) {
	var seen atomic.Int64
	pipeline.ForEach(in, func(_ context.Context, x T) error {
		if seen.Add(1) == int64(n) {
			return errEnough
		}
		x.Release()
		return nil
	}, pipeline.Name(name))
}

func TestGraphBuildErrors(t *testing.T) {
	p, q := pipeline.New(), pipeline.New()
	a := pipeline.FromSlice(p, ints(3))
	b := pipeline.FromSlice(q, ints(3))
	pipeline.Discard(pipeline.Merge([]*pipeline.Stream[int]{a, b}, pipeline.Name("m")))
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "another pipeline") {
		t.Errorf("merging two pipelines: %v", err)
	}

	p = pipeline.New()
	outs := pipeline.Broadcast(pipeline.FromSlice(p, ints(3)), 3, pipeline.Name("b"))
	pipeline.Discard(outs[0])
	pipeline.Discard(outs[2])
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), `"b" is not consumed`) {
		t.Errorf("a branch left unread: %v", err)
	}

	defer func() {
		if recover() == nil {
			t.Errorf("Merge of no streams did not panic")
		}
	}()
	pipeline.Merge[int](nil)
}

// Stats and Bottleneck cover every branch of a graph: the slow branch of a Broadcast is the
// bottleneck, and the branch beside it waits on it.
func TestGraphStatsCoverBranches(t *testing.T) {
	p := pipeline.New()
	fast, slow := pipeline.Tee(pipeline.FromSlice(p, ints(300)), pipeline.Name("tee"))
	f := pipeline.Map(fast, double, pipeline.Name("fast"))
	s := pipeline.Map(slow, func(_ context.Context, x int) (int, error) {
		time.Sleep(100 * time.Microsecond)
		return x, nil
	}, pipeline.Name("slow"))
	sum := pipeline.Reduce(pipeline.Merge([]*pipeline.Stream[int]{f, s}, pipeline.Name("merge")), 0,
		func(acc, x int) (int, error) { return acc + x, nil })
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := 3 * 299 * 300 / 2; sum.Value() != want {
		t.Errorf("sum %d, want %d", sum.Value(), want)
	}
	tee, merge := statsOf(t, p, "tee"), statsOf(t, p, "merge")
	if tee.In != 300 || tee.Out != 600 || merge.In != 600 || merge.Out != 600 || merge.Workers != 2 || merge.QueueCap != 4 {
		t.Errorf("tee %+v\nmerge %+v", tee, merge)
	}
	if tee.WaitOut < 10*time.Millisecond {
		t.Errorf("the tee waited for its slow branch only %v", tee.WaitOut)
	}
	if b, _, _ := p.Bottleneck(); b.Name != "slow" {
		t.Errorf("bottleneck %q, want slow", b.Name)
	}
}

// A stage that stops early stops its producers, through every kind of stage, and every
// goroutine ends; no item is released twice on the way.
func TestGraphEarlyStopPropagates(t *testing.T) {
	const n = 100000
	l := newTally(2 * n) // copies made by the tee count at id+n
	p := pipeline.New()
	a, b := pipeline.Tee(endless(p, &tally{counts: l.counts[:n]}, "src"),
		pipeline.Clone(func(x token) token { return l.token(x.id + n) }))
	merged := pipeline.Merge([]*pipeline.Stream[token]{a, b})
	first := pipeline.Custom(merged, func(ctx context.Context, io *pipeline.IO[token, token]) error {
		for range 10 {
			x, ok := io.Recv()
			if !ok {
				return nil
			}
			if err := io.Send(x); err != nil {
				return err
			}
		}
		return nil
	})
	var got atomic.Int64
	pipeline.ForEach(first, func(_ context.Context, x token) error {
		x.Release()
		got.Add(1)
		return nil
	})
	if err := runWithin(t, p, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got.Load() != 10 {
		t.Errorf("got %d items, want 10", got.Load())
	}
	if r := l.check(t); r < 10 {
		t.Errorf("%d tokens released", r)
	}
	for _, st := range p.Stats() {
		if !st.Done {
			t.Errorf("stage %s has not finished", st.Name)
		}
	}
}

// Graph operators count units (CountUnits) like the other stages: done when handled, failed
// when their function or route fails.
func TestGraphOperatorsCountUnits(t *testing.T) {
	size := func(b []int) int { return len(b) }
	p := pipeline.New()
	batches := pipeline.FromSlice(p, [][]int{{1, 2}, {3}, {4, 5, 6}, {7}})
	parts := pipeline.Partition(batches, 2, func(b []int) int {
		if b[0] == 4 {
			return 9 // a bad route
		}
		return len(b) % 2
	}, pipeline.Name("part"), pipeline.CountUnits(size), pipeline.SkipErrors(nil))
	merged := pipeline.Merge(parts, pipeline.Name("merge"), pipeline.CountUnits(size))
	pipeline.Discard(pipeline.Scan(merged, 0, func(acc int, b []int) (int, error) { return acc + len(b), nil },
		pipeline.Name("scan"), pipeline.CountUnits(size)))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][2]int64{"part": {4, 3}, "merge": {4, 0}, "scan": {4, 0}} {
		if st := statsOf(t, p, name); !st.Units || st.DoneUnits != want[0] || st.ErrorUnits != want[1] {
			t.Errorf("%s: units %v done %d failed %d, want %v", name, st.Units, st.DoneUnits, st.ErrorUnits, want)
		}
	}
}
