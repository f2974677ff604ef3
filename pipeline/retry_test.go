package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
)

var errFlaky = errors.New("flaky")

// flaky fails the first fails calls for each item.
func flaky(fails int) (func(context.Context, int) (int, error), *[100]atomic.Int32) {
	var calls [100]atomic.Int32
	return func(_ context.Context, x int) (int, error) {
		if int(calls[x].Add(1)) <= fails {
			return 0, fmt.Errorf("item %d: %w", x, errFlaky)
		}
		return x, nil
	}, &calls
}

func TestRetryRecoversTransientFailuresAndCountsRetries(t *testing.T) {
	for _, kind := range []string{"map", "ordered", "filter", "flat-map", "for-each"} {
		fn, calls := flaky(2)
		p := pipeline.New()
		src := pipeline.FromSlice(p, ints(50))
		opts := []pipeline.Option{pipeline.Name("work"), pipeline.Workers(3),
			pipeline.Retry(pipeline.RetryPolicy{Attempts: 3, Base: 50 * time.Microsecond, Max: 80 * time.Microsecond, Jitter: 0.5})}
		var n atomic.Int64
		count := func(context.Context, int) error { n.Add(1); return nil }
		switch kind {
		case "map":
			pipeline.ForEach(pipeline.Map(src, fn, opts...), count)
		case "ordered":
			pipeline.ForEach(pipeline.OrderedMap(src, fn, opts...), count)
		case "filter":
			pipeline.ForEach(pipeline.Filter(src, func(ctx context.Context, x int) (bool, error) {
				_, err := fn(ctx, x)
				return err == nil, err
			}, opts...), count)
		case "flat-map":
			pipeline.ForEach(pipeline.FlatMap(src, func(ctx context.Context, x int, emit func(int) error) error {
				if _, err := fn(ctx, x); err != nil {
					return err
				}
				return emit(x)
			}, opts...), count)
		case "for-each":
			pipeline.ForEach(src, func(ctx context.Context, x int) error {
				_, err := fn(ctx, x)
				if err == nil {
					n.Add(1)
				}
				return err
			}, opts...)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		st := statsOf(t, p, "work")
		if n.Load() != 50 || st.Retries != 100 || st.Errors != 0 || calls[7].Load() != 3 {
			t.Errorf("%s: %d items through, %d retries, %d errors, item 7 called %d times",
				kind, n.Load(), st.Retries, st.Errors, calls[7].Load())
		}
	}
}

// After the last attempt the error policy applies; the error says how many attempts were
// made and still matches the function's error.
func TestRetryGivesUpThenTheErrorPolicyApplies(t *testing.T) {
	fn, calls := flaky(5)
	var skipped []string
	p := pipeline.New()
	out := pipeline.Collect(pipeline.Map(pipeline.FromSlice(p, ints(4)), fn, pipeline.Name("work"),
		pipeline.Retry(pipeline.RetryPolicy{Attempts: 3}),
		pipeline.SkipErrors(func(e *pipeline.StageError) {
			if !errors.Is(e, errFlaky) {
				t.Errorf("the error does not match the function's: %v", e)
			}
			skipped = append(skipped, e.Error())
		})))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(out.Value()) != 0 || len(skipped) != 4 || calls[0].Load() != 3 {
		t.Fatalf("out %v, skipped %v, calls %d", out.Value(), skipped, calls[0].Load())
	}
	if !strings.Contains(skipped[0], "after 3 attempts: item") {
		t.Errorf("message %q", skipped[0])
	}
	if st := statsOf(t, p, "work"); st.Errors != 4 || st.Retries != 8 {
		t.Errorf("errors %d retries %d", st.Errors, st.Retries)
	}
}

// Only transient errors are retried; Fatal errors and panics never are.
func TestRetryOnlyTransientErrors(t *testing.T) {
	permanent := errors.New("permanent")
	for _, c := range []struct {
		name string
		err  func() error
	}{
		{"not transient", func() error { return permanent }},
		{"fatal", func() error { return pipeline.Fatal(errFlaky) }},
		{"panic", func() error { panic("boom") }},
	} {
		var calls atomic.Int32
		p := pipeline.New()
		pipeline.ForEach(pipeline.FromSlice(p, ints(1)), func(context.Context, int) error {
			calls.Add(1)
			return c.err()
		}, pipeline.Retry(pipeline.RetryPolicy{Attempts: 5, Transient: func(err error) bool { return !errors.Is(err, permanent) }}))
		if err := p.Run(context.Background()); err == nil || strings.Contains(err.Error(), "attempts") {
			t.Errorf("%s: Run returned %v", c.name, err)
		}
		if calls.Load() != 1 {
			t.Errorf("%s: called %d times", c.name, calls.Load())
		}
	}
}

// A FlatMap item that has emitted a result is not tried again: its results would repeat.
func TestRetryFlatMapOnlyBeforeEmitting(t *testing.T) {
	var calls atomic.Int32
	p := pipeline.New()
	out := pipeline.Collect(pipeline.FlatMap(pipeline.FromSlice(p, ints(1)), func(_ context.Context, x int, emit func(int) error) error {
		calls.Add(1)
		if err := emit(x); err != nil {
			return err
		}
		return errFlaky
	}, pipeline.Retry(pipeline.RetryPolicy{Attempts: 5}), pipeline.SkipErrors(nil)))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 || len(out.Value()) != 1 {
		t.Errorf("called %d times, emitted %v", calls.Load(), out.Value())
	}
}

// The wait between attempts grows from Base, is capped by Max, and ends at once when the run
// is cancelled.
func TestRetryBackoffAndCancellation(t *testing.T) {
	var times []time.Time
	p := pipeline.New()
	pipeline.ForEach(pipeline.FromSlice(p, ints(1)), func(context.Context, int) error {
		times = append(times, time.Now())
		return errFlaky
	}, pipeline.Retry(pipeline.RetryPolicy{Attempts: 5, Base: 4 * time.Millisecond, Max: 10 * time.Millisecond}))
	if err := p.Run(context.Background()); !errors.Is(err, errFlaky) {
		t.Fatal(err)
	}
	var gaps []time.Duration
	for i := 1; i < len(times); i++ {
		gaps = append(gaps, times[i].Sub(times[i-1]))
	}
	want := []time.Duration{4, 8, 10, 10}
	for i, g := range gaps {
		if w := want[i] * time.Millisecond; g < w || g > w+40*time.Millisecond {
			t.Errorf("wait %d was %v, want %v", i+1, g, w)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	p = pipeline.New()
	var skipped atomic.Int32
	pipeline.ForEach(pipeline.FromSlice(p, ints(1)), func(context.Context, int) error { return errFlaky },
		pipeline.Retry(pipeline.RetryPolicy{Attempts: 3, Base: time.Hour}),
		pipeline.SkipErrors(func(*pipeline.StageError) { skipped.Add(1) }))
	start := time.Now()
	if err := p.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run returned %v", err)
	}
	if d := time.Since(start); d > 5*time.Second || skipped.Load() != 0 {
		t.Errorf("a cancelled retry wait took %v; %d items skipped", d, skipped.Load())
	}
}

// WriteStats shows a retries column when a stage retried.
func TestRetriesInWriteStats(t *testing.T) {
	fn, _ := flaky(1)
	p := pipeline.New()
	pipeline.Discard(pipeline.Map(pipeline.FromSlice(p, ints(7)), fn, pipeline.Name("work"),
		pipeline.Retry(pipeline.RetryPolicy{Attempts: 2})))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := pipeline.WriteStats(&b, p.Stats()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	header, work := strings.Fields(lines[0]), strings.Fields(strings.Replace(lines[2], " *", "", 1))
	if i := slices.Index(header, "retries"); i < 0 || work[0] != "work" || work[i] != "7" {
		t.Errorf("table:\n%s", b.String())
	}
}
