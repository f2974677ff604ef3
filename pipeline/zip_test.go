package pipeline_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
)

// Zip ends with its shorter input and stops the longer one, even an endless one.
func TestZipPairsInOrderAndEndsWithTheShorterInput(t *testing.T) {
	p := pipeline.New()
	letters := pipeline.FromSlice(p, []string{"a", "b", "c"})
	var stopped error
	numbers := pipeline.Generate(p, func(ctx context.Context, emit func(int) error) error {
		for i := 0; ; i++ {
			if err := emit(i); err != nil {
				stopped = err
				return err
			}
		}
	})
	out := pipeline.Collect(pipeline.Zip(numbers, letters, pipeline.Name("zip")))
	if err := runWithin(t, p, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	want := []pipeline.Pair[int, string]{{0, "a"}, {1, "b"}, {2, "c"}}
	if !slices.Equal(out.Value(), want) {
		t.Errorf("got %v, want %v", out.Value(), want)
	}
	if stopped == nil {
		t.Errorf("the endless input was not stopped")
	}
	if st := statsOf(t, p, "zip"); st.Out != 3 || st.In < 6 {
		t.Errorf("stats %+v", st)
	}
}

func TestZipWithCombinesSkipsAndRetries(t *testing.T) {
	p := pipeline.New()
	a := pipeline.FromSlice(p, ints(6))
	b := pipeline.FromSlice(p, []string{"x", "y", "z", "w", "v", "u"})
	tries := map[int]int{}
	out := pipeline.Collect(pipeline.ZipWith(a, b, func(_ context.Context, n int, s string) (string, error) {
		tries[n]++
		switch {
		case n == 2:
			return "", errors.New("bad pair")
		case n == 4 && tries[n] == 1:
			return "", errFlaky
		}
		return strconv.Itoa(n) + s, nil
	}, pipeline.Name("zw"), pipeline.SkipErrors(nil),
		pipeline.Retry(pipeline.RetryPolicy{Attempts: 2, Transient: func(err error) bool { return errors.Is(err, errFlaky) }})))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"0x", "1y", "3w", "4v", "5u"}; !slices.Equal(out.Value(), want) {
		t.Errorf("got %v, want %v", out.Value(), want)
	}
	if st := statsOf(t, p, "zw"); st.Errors != 1 || st.Retries != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestZipN(t *testing.T) {
	p := pipeline.New()
	ins := []*pipeline.Stream[int]{
		pipeline.FromSlice(p, []int{1, 2, 3, 4}),
		pipeline.FromSlice(p, []int{10, 20, 30}),
		pipeline.FromSlice(p, []int{100, 200, 300, 400, 500}),
	}
	out := pipeline.Collect(pipeline.ZipN(ins))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := [][]int{{1, 10, 100}, {2, 20, 200}, {3, 30, 300}}
	if len(out.Value()) != 3 || !slices.EqualFunc(out.Value(), want, slices.Equal[[]int]) {
		t.Errorf("got %v", out.Value())
	}

	p, q := pipeline.New(), pipeline.New()
	pipeline.Discard(pipeline.Zip(pipeline.FromSlice(p, ints(1)), pipeline.FromSlice(q, ints(1))))
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "another pipeline") {
		t.Errorf("zip of two pipelines: %v", err)
	}
}

// The item Zip took from the longer input when the shorter ended is released.
func TestZipReleasesTheUnpairedItem(t *testing.T) {
	l := newTally(1000)
	p := pipeline.New()
	out := pipeline.Collect(pipeline.Zip(endless(p, l, "tokens"), pipeline.FromSlice(p, ints(5))))
	if err := runWithin(t, p, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, pr := range out.Value() {
		pr.First.Release()
	}
	if l.counts[5].Load() != 1 {
		t.Errorf("the sixth token, taken when the other input had ended, was not released")
	}
	l.checkAll(t)
}
