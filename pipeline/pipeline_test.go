package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ints(n int) []int {
	xs := make([]int, n)
	for i := range xs {
		xs[i] = i
	}
	return xs
}

func double(_ context.Context, x int) (int, error) { return 2 * x, nil }

func TestMapCollectAllItems(t *testing.T) {
	for _, n := range []int{0, 1, 1000} {
		p := pipeline.New()
		out := pipeline.Collect(pipeline.Map(pipeline.FromSlice(p, ints(n)), double, pipeline.Workers(4)))
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := out.Value()
		slices.Sort(got)
		want := make([]int, n)
		for i := range want {
			want[i] = 2 * i
		}
		if !slices.Equal(got, want) && !(n == 0 && len(got) == 0) {
			t.Fatalf("n=%d: got %v..., want %v...", n, head(got), head(want))
		}
	}
}

func head(xs []int) []int { return xs[:min(len(xs), 10)] }

func TestOrderedMapKeepsOrderUnderRandomDelays(t *testing.T) {
	const n = 400
	p := pipeline.New()
	slow := func(_ context.Context, x int) (int, error) {
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		return x * 3, nil
	}
	out := pipeline.Collect(pipeline.OrderedMap(pipeline.FromSlice(p, ints(n)), slow, pipeline.Workers(8)))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, v := range out.Value() {
		if v != 3*i {
			t.Fatalf("item %d is %d, want %d", i, v, 3*i)
		}
	}
	if len(out.Value()) != n {
		t.Fatalf("got %d items, want %d", len(out.Value()), n)
	}
}

// With one item stuck, an OrderedMap must stop taking input once its window is full instead
// of buffering everything behind the stuck item.
func TestOrderedMapWindowBoundsBuffering(t *testing.T) {
	const window = 6
	var started atomic.Int64
	release := make(chan struct{})
	p := pipeline.New()
	fn := func(_ context.Context, x int) (int, error) {
		started.Add(1)
		if x == 0 {
			<-release
		}
		return x, nil
	}
	out := pipeline.Collect(pipeline.OrderedMap(pipeline.FromSlice(p, ints(1000)), fn,
		pipeline.Workers(3), pipeline.Window(window)))
	done := make(chan error)
	go func() { done <- p.Run(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	if got := started.Load(); got > window {
		t.Errorf("%d items started while item 0 was stuck; the window is %d", got, window)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(out.Value()) != 1000 {
		t.Fatalf("got %d items", len(out.Value()))
	}
}

func TestFilterFlatMapUnbatch(t *testing.T) {
	p := pipeline.New()
	even := pipeline.Filter(pipeline.FromSlice(p, ints(100)), func(_ context.Context, x int) (bool, error) {
		return x%2 == 0, nil
	}, pipeline.Workers(3))
	tripled := pipeline.FlatMap(even, func(_ context.Context, x int, emit func(int) error) error {
		for range 3 {
			if err := emit(x); err != nil {
				return err
			}
		}
		return nil
	}, pipeline.Workers(2))
	batches := pipeline.Batch(tripled, 7, 0)
	flat := pipeline.Collect(pipeline.Unbatch(batches))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := flat.Value()
	slices.Sort(got)
	var want []int
	for x := 0; x < 100; x += 2 {
		want = append(want, x, x, x)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
}

func TestBatchSizesAndOrder(t *testing.T) {
	p := pipeline.New()
	out := pipeline.Collect(pipeline.Batch(pipeline.FromSlice(p, ints(23)), 5, time.Hour))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sizes, all []int
	for _, b := range out.Value() {
		sizes = append(sizes, len(b))
		all = append(all, b...)
	}
	if !slices.Equal(sizes, []int{5, 5, 5, 5, 3}) || !slices.Equal(all, ints(23)) {
		t.Fatalf("sizes %v, items %v", sizes, all)
	}
}

func TestBatchMaxWaitFlushesPartialBatch(t *testing.T) {
	ch := make(chan int)
	p := pipeline.New()
	batches := make(chan []int, 10)
	pipeline.ForEach(pipeline.Batch(pipeline.FromChan(p, ch), 100, 20*time.Millisecond),
		func(_ context.Context, b []int) error { batches <- b; return nil })
	done := make(chan error)
	go func() { done <- p.Run(context.Background()) }()
	ch <- 1
	ch <- 2
	select {
	case b := <-batches:
		if !slices.Equal(b, []int{1, 2}) {
			t.Errorf("first batch %v, want [1 2]", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a partial batch was not flushed after maxWait")
	}
	ch <- 3
	close(ch)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b := <-batches; !slices.Equal(b, []int{3}) {
		t.Errorf("last batch %v, want [3]", b)
	}
}

func TestSourcesSeqGenerateChan(t *testing.T) {
	p := pipeline.New()
	seq := pipeline.Collect(pipeline.FromSeq(p, slices.Values([]int{4, 5, 6})))
	gen := pipeline.Collect(pipeline.Generate(p, func(ctx context.Context, emit func(string) error) error {
		for _, s := range []string{"a", "b"} {
			if err := emit(s); err != nil {
				return err
			}
		}
		return nil
	}))
	ch := make(chan int, 3)
	ch <- 7
	ch <- 8
	close(ch)
	fromChan := pipeline.Collect(pipeline.FromChan(p, ch))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seq.Value(), []int{4, 5, 6}) || !slices.Equal(gen.Value(), []string{"a", "b"}) ||
		!slices.Equal(fromChan.Value(), []int{7, 8}) {
		t.Fatalf("seq %v gen %v chan %v", seq.Value(), gen.Value(), fromChan.Value())
	}
}

func TestReduceAndForEachWorkers(t *testing.T) {
	p := pipeline.New()
	sum := pipeline.Reduce(pipeline.FromSlice(p, ints(101)), 0, func(acc, x int) (int, error) { return acc + x, nil })
	var total atomic.Int64
	var active, peak atomic.Int64
	pipeline.ForEach(pipeline.FromSlice(p, ints(50)), func(_ context.Context, x int) error {
		if a := active.Add(1); a > peak.Load() {
			peak.Store(a)
		}
		time.Sleep(time.Millisecond)
		active.Add(-1)
		total.Add(int64(x))
		return nil
	}, pipeline.Workers(4))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sum.Value() != 5050 || total.Load() != 1225 {
		t.Fatalf("sum %d total %d", sum.Value(), total.Load())
	}
	if peak.Load() < 2 {
		t.Errorf("ForEach with 4 workers never ran two items at once")
	}
}

type file string

func (f file) Label() string { return string(f) }

func TestErrorStopsRunAndNamesStageAndItem(t *testing.T) {
	var produced atomic.Int64
	p := pipeline.New()
	src := pipeline.Generate(p, func(ctx context.Context, emit func(file) error) error {
		for i := 0; ; i++ {
			produced.Add(1)
			if err := emit(file(fmt.Sprintf("img%d.jpg", i))); err != nil {
				return err
			}
		}
	})
	boom := errors.New("corrupt header")
	decoded := pipeline.Map(src, func(_ context.Context, f file) (file, error) {
		if f == "img500.jpg" {
			return "", boom
		}
		return f, nil
	}, pipeline.Name("decode"), pipeline.Workers(2))
	pipeline.Discard(decoded)
	err := p.Run(context.Background())
	var se *pipeline.StageError
	if !errors.As(err, &se) || !errors.Is(err, boom) {
		t.Fatalf("Run returned %v, want a StageError wrapping %v", err, boom)
	}
	if se.Stage != "decode" || se.Item != file("img500.jpg") {
		t.Errorf("error names stage %q item %v", se.Stage, se.Item)
	}
	if msg := err.Error(); msg != `stage "decode": item "img500.jpg": corrupt header` {
		t.Errorf("message %q does not name the stage and the item", msg)
	}
	// An error that names the item itself is not prefixed with it twice.
	named := &pipeline.StageError{Stage: "decode", Item: file("a.jpg"), Err: errors.New("a.jpg: truncated")}
	if msg := named.Error(); msg != `stage "decode": a.jpg: truncated` {
		t.Errorf("message %q", msg)
	}
	if produced.Load() > 10000 {
		t.Errorf("the source went on to %d items after the error", produced.Load())
	}
}

func TestSkipErrorsReportsAndContinues(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		var mu sync.Mutex
		var failed []int
		p := pipeline.New()
		fn := func(_ context.Context, x int) (int, error) {
			if x%10 == 3 {
				return 0, fmt.Errorf("bad %d", x)
			}
			return x + 1000, nil
		}
		opts := []pipeline.Option{pipeline.Workers(4), pipeline.Name("check"), pipeline.SkipErrors(func(e *pipeline.StageError) {
			mu.Lock()
			failed = append(failed, e.Item.(int))
			mu.Unlock()
		})}
		in := pipeline.FromSlice(p, ints(100))
		var mapped *pipeline.Stream[int]
		if ordered {
			mapped = pipeline.OrderedMap(in, fn, opts...)
		} else {
			mapped = pipeline.Map(in, fn, opts...)
		}
		out := pipeline.Collect(mapped)
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		slices.Sort(failed)
		if !slices.Equal(failed, []int{3, 13, 23, 33, 43, 53, 63, 73, 83, 93}) {
			t.Errorf("ordered=%v: handler saw %v", ordered, failed)
		}
		got := out.Value()
		if !ordered {
			slices.Sort(got)
		}
		var want []int
		for x := range 100 {
			if x%10 != 3 {
				want = append(want, x+1000)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("ordered=%v: passed %v, want %v", ordered, got, want)
		}
		st := statsOf(t, p, "check")
		if st.Errors != 10 || st.In != 100 || st.Out != 90 {
			t.Errorf("ordered=%v: stats in %d out %d errors %d", ordered, st.In, st.Out, st.Errors)
		}
	}
}

func TestFatalStopsEvenWhenSkipping(t *testing.T) {
	diskFull := errors.New("no space left on device")
	var skipped atomic.Int64
	p := pipeline.New()
	pipeline.ForEach(pipeline.FromSlice(p, ints(100)), func(_ context.Context, x int) error {
		switch {
		case x == 5:
			return errors.New("corrupt")
		case x == 50:
			return pipeline.Fatal(diskFull)
		}
		return nil
	}, pipeline.Name("write"), pipeline.SkipErrors(func(*pipeline.StageError) { skipped.Add(1) }))
	err := p.Run(context.Background())
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Err != diskFull || se.Item != 50 {
		t.Fatalf("Run returned %#v, want the fatal error of item 50", err)
	}
	if skipped.Load() != 1 {
		t.Errorf("%d items skipped, want 1", skipped.Load())
	}
}

func statsOf(t *testing.T, p *pipeline.Pipeline, name string) pipeline.StageStats {
	t.Helper()
	for _, s := range p.Stats() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no stage %q", name)
	return pipeline.StageStats{}
}

func TestPanicBecomesErrorWithStack(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		p := pipeline.New()
		fn := func(_ context.Context, x int) (int, error) {
			if x == 7 {
				var m map[string]int
				m["x"] = 1 // nil map write
			}
			return x, nil
		}
		in := pipeline.FromSlice(p, ints(20))
		var mapped *pipeline.Stream[int]
		if ordered {
			mapped = pipeline.OrderedMap(in, fn, pipeline.Workers(2))
		} else {
			mapped = pipeline.Map(in, fn, pipeline.Workers(2))
		}
		pipeline.Discard(mapped)
		err := p.Run(context.Background())
		var pe *pipeline.PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("ordered=%v: Run returned %v, want a PanicError", ordered, err)
		}
		if !strings.Contains(string(pe.Stack), "pipeline_test.go") || !strings.Contains(err.Error(), "nil map") {
			t.Errorf("panic error lacks the stack or the reason: %v", err)
		}
	}
}

func TestCancelStopsPromptly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var seen atomic.Int64
	p := pipeline.New()
	src := pipeline.Generate(p, func(ctx context.Context, emit func(int) error) error {
		for i := 0; ; i++ {
			if err := emit(i); err != nil {
				return err
			}
		}
	})
	mid := pipeline.OrderedMap(pipeline.Map(src, double, pipeline.Workers(3)), double, pipeline.Workers(2))
	batched := pipeline.Unbatch(pipeline.Batch(mid, 16, time.Millisecond))
	pipeline.ForEach(batched, func(ctx context.Context, x int) error {
		if seen.Add(1) == 1000 {
			cancel()
		}
		return nil
	}, pipeline.Workers(2))
	start := time.Now()
	err := p.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run took %v after cancellation", d)
	}
}

func TestDeadlineReturnsDeadlineExceeded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	p := pipeline.New()
	pipeline.ForEach(pipeline.FromSlice(p, ints(100)), func(ctx context.Context, x int) error {
		select {
		case <-time.After(time.Second):
			return nil
		case <-ctx.Done():
			return fmt.Errorf("interrupted: %w", ctx.Err())
		}
	})
	if err := p.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run returned %v", err)
	}
}

// A slow consumer must hold the producer back: it may run ahead by at most the consumer's
// queue plus its workers.
func TestBackpressureBoundsProducer(t *testing.T) {
	const buffer, workers = 5, 3
	var produced, consumed, worst atomic.Int64
	p := pipeline.New()
	src := pipeline.Generate(p, func(ctx context.Context, emit func(int) error) error {
		for i := range 200 {
			if err := emit(i); err != nil {
				return err
			}
			ahead := produced.Add(1) - consumed.Load()
			for old := worst.Load(); ahead > old && !worst.CompareAndSwap(old, ahead); old = worst.Load() {
			}
		}
		return nil
	})
	pipeline.ForEach(src, func(context.Context, int) error {
		time.Sleep(200 * time.Microsecond)
		consumed.Add(1)
		return nil
	}, pipeline.Workers(workers), pipeline.Buffer(buffer))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w := worst.Load(); w > buffer+workers {
		t.Fatalf("producer ran %d items ahead; the bound is %d", w, buffer+workers)
	} else if w < buffer {
		t.Fatalf("producer never filled the queue (%d ahead): the test measures nothing", w)
	}
}

func TestStatsAndBottleneck(t *testing.T) {
	p := pipeline.New()
	fast := pipeline.Map(pipeline.FromSlice(p, ints(200)), double, pipeline.Name("fast"))
	slow := pipeline.Map(fast, func(_ context.Context, x int) (int, error) {
		time.Sleep(200 * time.Microsecond)
		return x, nil
	}, pipeline.Name("slow"), pipeline.Buffer(8))
	pipeline.Discard(slow, pipeline.Name("sink"))
	midRun := make(chan []pipeline.StageStats, 1)
	go func() {
		time.Sleep(10 * time.Millisecond)
		midRun <- p.Stats()
	}()
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, s := range <-midRun {
		if s.Name == "slow" && (s.Done || s.In == 0 || s.In == 200 || s.QueueLen > s.QueueCap) {
			t.Errorf("slow stage in mid-run %+v", s)
		}
	}
	st := statsOf(t, p, "slow")
	if st.In != 200 || st.Out != 200 || !st.Done || st.QueueCap != 8 {
		t.Errorf("slow stage stats %+v", st)
	}
	if st.Busy < 200*150*time.Microsecond {
		t.Errorf("slow stage busy %v for 200 sleeps of 200µs", st.Busy)
	}
	if f := statsOf(t, p, "fast"); f.WaitOut < st.Busy/4 {
		t.Errorf("the stage before the slow one waited for room only %v", f.WaitOut)
	}
	b, u, ok := p.Bottleneck()
	if !ok || b.Name != "slow" || u < 0.5 {
		t.Errorf("bottleneck %q at %.2f, want slow", b.Name, u)
	}
}

// Busy time read while the pipeline runs must never run ahead of the clock or go backwards,
// whatever the workers are doing at the moment of the snapshot.
func TestLiveUtilizationStaysInRange(t *testing.T) {
	p := pipeline.New()
	src := pipeline.Generate(p, func(ctx context.Context, emit func(int) error) error {
		for i := range 3000 {
			if i%50 == 0 {
				time.Sleep(time.Millisecond)
			}
			if err := emit(i); err != nil {
				return err
			}
		}
		return nil
	}, pipeline.Name("src"))
	work := pipeline.Map(src, func(_ context.Context, x int) (int, error) {
		if x%7 == 0 {
			time.Sleep(20 * time.Microsecond)
		}
		return x, nil
	}, pipeline.Name("work"), pipeline.Workers(2), pipeline.Buffer(4))
	batches := pipeline.Batch(work, 8, 300*time.Microsecond, pipeline.Name("batch"))
	pipeline.Discard(pipeline.Unbatch(batches, pipeline.Name("unbatch")), pipeline.Name("sink"))
	done := make(chan error)
	go func() { done <- p.Run(context.Background()) }()
	// A snapshot reads its stages one after the other: busy time is read at a stage's own
	// clock reading, Elapsed just after. A reader held up within Stats (a loaded machine)
	// skews the two by at most the time Stats took, which is the slack allowed above the
	// bound; below zero only clock granularity is allowed.
	stats := func() ([]pipeline.StageStats, time.Duration) {
		start := time.Now()
		st := p.Stats()
		return st, time.Since(start)
	}
	prev, prevTook := stats()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		case <-time.After(500 * time.Microsecond):
		}
		cur, took := stats()
		for i, s := range cur {
			dBusy, dElapsed := s.Busy-prev[i].Busy, s.Elapsed-prev[i].Elapsed
			slack := (50*time.Microsecond + took + prevTook) * time.Duration(s.Workers)
			if dBusy < -time.Microsecond || dBusy > time.Duration(s.Workers)*dElapsed+slack {
				t.Errorf("%s: busy moved by %v while %v passed with %d workers\nprev %+v\ncur %+v", s.Name, dBusy, dElapsed, s.Workers, prev[i], s)
			}
		}
		prev, prevTook = cur, took
	}
}

func TestBuildErrors(t *testing.T) {
	p := pipeline.New()
	src := pipeline.FromSlice(p, ints(3), pipeline.Name("src"))
	pipeline.Map(src, double, pipeline.Name("m"))
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), `"m" is not consumed`) {
		t.Errorf("unconsumed output: %v", err)
	}
	if err := p.Run(context.Background()); !errors.Is(err, pipeline.ErrAlreadyRun) {
		t.Errorf("second Run: %v", err)
	}

	p = pipeline.New()
	src = pipeline.FromSlice(p, ints(3), pipeline.Name("src"))
	pipeline.Discard(src)
	pipeline.Discard(src)
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "consumed by both") {
		t.Errorf("double consumer: %v", err)
	}

	p = pipeline.New()
	pipeline.Discard(pipeline.FromSlice(p, ints(3), pipeline.Name("x")), pipeline.Name("x"))
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), `two stages are named "x"`) {
		t.Errorf("duplicate names: %v", err)
	}

	p = pipeline.New()
	pipeline.Discard(pipeline.Batch(pipeline.FromSlice(p, ints(3)), 0, 0))
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "below 1") {
		t.Errorf("batch size 0: %v", err)
	}
}
