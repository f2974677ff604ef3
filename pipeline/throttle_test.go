package pipeline_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
)

func TestThrottleKeepsTheRateAndTheOrder(t *testing.T) {
	p := pipeline.New()
	out := pipeline.Collect(pipeline.Throttle(pipeline.FromSlice(p, ints(201)), 20, 10*time.Millisecond, 1, pipeline.Name("th")))
	start := time.Now()
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// 200 gaps of 0.5 ms.
	if d := time.Since(start); d < 95*time.Millisecond || d > 400*time.Millisecond {
		t.Errorf("201 items at 2000/s took %v, want about 100ms", d)
	}
	if !slices.Equal(out.Value(), ints(201)) {
		t.Errorf("items lost or reordered")
	}
	if b, _, _ := p.Bottleneck(); b.Name != "th" {
		t.Errorf("bottleneck %q, want the throttle", b.Name)
	}
}

// After an idle spell, burst items pass at once; the next waits its turn.
func TestThrottleBurst(t *testing.T) {
	p := pipeline.New()
	var at []time.Duration
	start := time.Now()
	pipeline.ForEach(pipeline.Throttle(pipeline.FromSlice(p, ints(7)), 1, 20*time.Millisecond, 5), func(context.Context, int) error {
		at = append(at, time.Since(start))
		return nil
	})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if at[4] > 15*time.Millisecond || at[5] < 19*time.Millisecond || at[6] < 39*time.Millisecond {
		t.Errorf("items passed at %v; want 5 at once, then one per 20ms", at)
	}
}

func TestThrottleDropDropsAndReleasesWhatComesTooSoon(t *testing.T) {
	l := newTally(1000)
	var src []token
	for i := range 1000 {
		src = append(src, l.token(i))
	}
	p := pipeline.New()
	var passed int
	pipeline.ForEach(pipeline.ThrottleDrop(pipeline.FromSlice(p, src), 10, time.Hour, 10, pipeline.Name("th")),
		func(_ context.Context, x token) error {
			passed++
			x.Release()
			return nil
		})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := statsOf(t, p, "th")
	if passed != 10 || st.Extra["dropped"] != 990 || st.Out != 10 {
		t.Errorf("%d passed, stats %+v", passed, st)
	}
	if n := l.check(t); n != 1000 {
		t.Errorf("%d of 1000 tokens released", n)
	}
}

func TestThrottleStopsPromptlyWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	p := pipeline.New()
	pipeline.Discard(pipeline.Throttle(pipeline.FromSlice(p, ints(10)), 1, time.Hour, 1))
	start := time.Now()
	if err := p.Run(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("Run returned %v after %v", err, time.Since(start))
	}

	p = pipeline.New()
	pipeline.Discard(pipeline.Throttle(pipeline.FromSlice(p, ints(1)), 0, time.Second, 1))
	if err := p.Run(context.Background()); err == nil {
		t.Errorf("a throttle of 0 items per second was accepted")
	}
}
