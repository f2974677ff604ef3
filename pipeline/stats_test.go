package pipeline_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gpupipe/gpupipe/pipeline"
)

// An OrderedMap whose window is full behind a slow item waits for order (WaitOrder); one
// whose results cannot go out waits for room downstream (WaitOut). Neither is busy time.
func TestOrderedMapWaitOrderApartFromWaitOut(t *testing.T) {
	const workers = 4
	accounted := func(st pipeline.StageStats) {
		t.Helper()
		sum := st.Busy + st.WaitIn + st.WaitOut + st.WaitOrder
		if all := time.Duration(workers) * st.Elapsed; sum < all/2 || sum > all*11/10 {
			t.Errorf("busy %v + waits %v, %v, %v = %v; %d workers × %v = %v",
				st.Busy, st.WaitIn, st.WaitOut, st.WaitOrder, sum, workers, st.Elapsed, all)
		}
	}

	// Item 0 takes 100ms; the other workers finish the rest of the window and wait for it.
	p := pipeline.New()
	slowFirst := func(_ context.Context, x int) (int, error) {
		if x == 0 {
			time.Sleep(100 * time.Millisecond)
		}
		return x, nil
	}
	pipeline.Discard(pipeline.OrderedMap(pipeline.FromSlice(p, ints(50)), slowFirst,
		pipeline.Workers(workers), pipeline.Window(8), pipeline.Name("ordered")))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := statsOf(t, p, "ordered")
	if st.WaitOrder < 200*time.Millisecond || st.WaitOut > st.WaitOrder/4 || st.Busy > 150*time.Millisecond {
		t.Errorf("slow item: wait order %v, wait out %v, busy %v; want about 300ms waiting for order", st.WaitOrder, st.WaitOut, st.Busy)
	}
	accounted(st)

	// A slow consumer: the window is full of finished results that cannot go out.
	p = pipeline.New()
	ordered := pipeline.OrderedMap(pipeline.FromSlice(p, ints(100)), double,
		pipeline.Workers(workers), pipeline.Window(8), pipeline.Name("ordered"))
	pipeline.ForEach(ordered, func(context.Context, int) error {
		time.Sleep(time.Millisecond)
		return nil
	}, pipeline.Buffer(2), pipeline.Name("sink"))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st = statsOf(t, p, "ordered")
	if st.WaitOut < 200*time.Millisecond || st.WaitOrder > st.WaitOut/4 {
		t.Errorf("slow consumer: wait out %v, wait order %v; want about 400ms waiting for room", st.WaitOut, st.WaitOrder)
	}
	accounted(st)
	if b, _, _ := p.Bottleneck(); b.Name != "sink" {
		t.Errorf("bottleneck %q, want the slow sink", b.Name)
	}
}

func lenOf(b []int) int { return len(b) }

// CountUnits measures a stage's items in the units they stand for: the items of a batch.
func TestCountUnits(t *testing.T) {
	p := pipeline.New()
	decoded := pipeline.Map(pipeline.FromSlice(p, ints(10)), func(_ context.Context, x int) (int, error) {
		if x%5 == 3 {
			return 0, errors.New("corrupt")
		}
		return x, nil
	}, pipeline.SkipErrors(nil), pipeline.Name("decode"))
	batches := pipeline.Batch(decoded, 3, 0, pipeline.Name("batch")) // [0 1 2] [4 5 6] [7 9]
	processed := pipeline.Map(batches, func(_ context.Context, b []int) ([]int, error) {
		if slices.Contains(b, 6) {
			return nil, errors.New("device fault")
		}
		return b, nil
	}, pipeline.CountUnits(lenOf), pipeline.SkipErrors(nil), pipeline.Name("gpu"))
	custom := pipeline.Custom(processed, func(ctx context.Context, io *pipeline.IO[[]int, []int]) error {
		for {
			b, ok := io.Recv()
			if !ok {
				return nil
			}
			if len(b) == 2 {
				if err := io.Fail(b, errors.New("odd batch")); err != nil {
					return err
				}
				continue
			}
			if err := io.Send(b); err != nil {
				return err
			}
		}
	}, pipeline.CountUnits(lenOf), pipeline.SkipErrors(nil), pipeline.Name("custom"))
	pipeline.ForEach(custom, func(context.Context, []int) error { return nil },
		pipeline.CountUnits(lenOf), pipeline.Name("write"))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	type units struct {
		counted            bool
		done, errs, errors int64
	}
	want := map[string]units{
		"decode": {false, 0, 2, 2},
		"batch":  {false, 0, 0, 0},
		"gpu":    {true, 5, 3, 1},
		"custom": {true, 3, 2, 1},
		"write":  {true, 3, 0, 0},
	}
	for name, w := range want {
		st := statsOf(t, p, name)
		if got := (units{st.Units, st.DoneUnits, st.ErrorUnits, st.Errors}); got != w {
			t.Errorf("%s: units %+v, want %+v", name, got, w)
		}
	}
}

func TestCountUnitsBuildErrors(t *testing.T) {
	p := pipeline.New()
	pipeline.Discard(pipeline.FromSlice(p, ints(3)), pipeline.CountUnits(func(string) int { return 1 }))
	err := p.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "CountUnits takes a string, but the stage's items are int") {
		t.Errorf("wrong type: %v", err)
	}
	p = pipeline.New()
	pipeline.Discard(pipeline.FromSlice(p, ints(3), pipeline.CountUnits(func(int) int { return 1 })))
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "a source has none") {
		t.Errorf("on a source: %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteStatsOfARun(t *testing.T) {
	p := pipeline.New()
	slow := pipeline.OrderedMap(pipeline.FromSlice(p, ints(200), pipeline.Name("src")), func(_ context.Context, x int) (int, error) {
		time.Sleep(100 * time.Microsecond)
		return x, nil
	}, pipeline.Workers(2), pipeline.Name("slow"))
	pipeline.Discard(slow, pipeline.Name("sink"))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := pipeline.WriteStats(&b, p.Stats()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "stage ") || !strings.HasPrefix(lines[2], "slow *") ||
		!strings.HasPrefix(lines[4], "* bottleneck: slow, ") || strings.Contains(lines[0], "units") {
		t.Errorf("table:\n%s", b.String())
	}
	for _, line := range lines[:4] {
		if utf8.RuneCountInString(line) > utf8.RuneCountInString(lines[0]) || strings.HasSuffix(line, " ") {
			t.Errorf("line %q is not aligned with the header or has trailing spaces", line)
		}
	}
	if err := pipeline.WriteStats(failingWriter{}, p.Stats()); err == nil || err.Error() != "disk full" {
		t.Errorf("write error: %v", err)
	}
}
