package pipeline_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
)

// The loop receives each item while the pipeline still runs: here the source waits, after
// its first item, for the loop to have received it.
func TestItemsYieldsWhileTheRunGoesOn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got0 := make(chan struct{})
	p := pipeline.New()
	src := pipeline.Generate(p, func(ctx context.Context, emit func(int) error) error {
		for i := range 5 {
			if err := emit(i); err != nil {
				return err
			}
			if i == 0 {
				select {
				case <-got0:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return nil
	})
	var got []int
	for x, err := range pipeline.Items(ctx, pipeline.Map(src, double), pipeline.Name("items")) {
		if err != nil {
			t.Fatal(err)
		}
		if x == 0 {
			close(got0)
		}
		got = append(got, x)
	}
	if !slices.Equal(got, []int{0, 2, 4, 6, 8}) {
		t.Errorf("got %v", got)
	}
	st := statsOf(t, p, "items")
	if st.In != 5 || st.Out != 5 || !st.Done {
		t.Errorf("stats %+v", st)
	}
}

func TestItemsEndsWithTheRunsError(t *testing.T) {
	p := pipeline.New()
	bad := errors.New("bad item")
	out := pipeline.Map(pipeline.FromSlice(p, ints(10)), func(_ context.Context, x int) (int, error) {
		if x == 5 {
			return 0, bad
		}
		return x, nil
	}, pipeline.Name("check"))
	var got []int
	var errs []error
	for x, err := range pipeline.Items(context.Background(), out) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got = append(got, x)
	}
	if len(errs) != 1 || !errors.Is(errs[0], bad) || !slices.Equal(got, ints(5)) {
		t.Errorf("items %v, errors %v", got, errs)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p = pipeline.New()
	n := 0
	var last error
	for _, err := range pipeline.Items(ctx, pipeline.Map(pipeline.FromSlice(p, ints(1000)), double)) {
		if n++; n == 10 {
			cancel()
		}
		last = err
	}
	if !errors.Is(last, context.Canceled) {
		t.Errorf("a cancelled run ended with %v", last)
	}
}

// Breaking out of the loop cancels the run; every goroutine has ended when the loop is done
// (TestMain checks for leaks) and the items queued for the loop are released.
func TestItemsBreakCancelsTheRun(t *testing.T) {
	l := newTally(100000)
	p := pipeline.New()
	seq := pipeline.Items(context.Background(), endless(p, l, "src"), pipeline.Buffer(16))
	n := 0
	for x, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		x.Release()
		if n++; n == 100 {
			break
		}
	}
	for _, st := range p.Stats() {
		if !st.Done {
			t.Errorf("stage %s still runs after the loop", st.Name)
		}
	}
	l.checkAll(t)
	for _, err := range seq {
		if !errors.Is(err, pipeline.ErrAlreadyRun) {
			t.Errorf("ranging twice: %v", err)
		}
	}
}

func TestItemsPanicInTheLoopEndsTheRun(t *testing.T) {
	p := pipeline.New()
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v", v)
			}
		}()
		for x := range pipeline.Items(context.Background(), pipeline.FromSlice(p, ints(1000))) {
			if x == 3 {
				panic("boom")
			}
		}
	}()
	for _, st := range p.Stats() {
		if !st.Done {
			t.Errorf("stage %s still runs after the panic", st.Name)
		}
	}
}

func TestItemsMisuse(t *testing.T) {
	p := pipeline.New()
	pipeline.Items(context.Background(), pipeline.FromSlice(p, ints(3)))
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "range over the sequence") {
		t.Errorf("Run of a pipeline with Items: %v", err)
	}

	p = pipeline.New()
	a, b := pipeline.Tee(pipeline.FromSlice(p, ints(3)))
	seq := pipeline.Items(context.Background(), a)
	pipeline.Items(context.Background(), b)
	for _, err := range seq {
		if err == nil || !strings.Contains(err.Error(), "one Items sink") {
			t.Errorf("two Items sinks: %v", err)
		}
	}
}
