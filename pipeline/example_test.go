package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
)

func Example() {
	p := pipeline.New()
	words := pipeline.FromSlice(p, []string{"gpu", "pipe", "go"})
	upper := pipeline.OrderedMap(words, func(_ context.Context, w string) (string, error) {
		return strings.ToUpper(w), nil
	}, pipeline.Workers(4), pipeline.Name("upper"))
	out := pipeline.Collect(upper)
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Value())
	// Output: [GPU PIPE GO]
}

func ExampleMap() {
	p := pipeline.New()
	squares := pipeline.Map(pipeline.FromSlice(p, []int{1, 2, 3, 4}), func(_ context.Context, x int) (int, error) {
		return x * x, nil
	}, pipeline.Workers(2))
	sum := pipeline.Reduce(squares, 0, func(acc, x int) (int, error) { return acc + x, nil })
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println(sum.Value())
	// Output: 30
}

func ExampleBatch() {
	p := pipeline.New()
	batches := pipeline.Batch(pipeline.FromSlice(p, []int{1, 2, 3, 4, 5}), 2, 10*time.Millisecond)
	out := pipeline.Collect(batches)
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println(out.Value())
	// Output: [[1 2] [3 4] [5]]
}

type photo string

func (p photo) Label() string { return string(p) }

func ExampleSkipErrors() {
	p := pipeline.New()
	photos := pipeline.FromSlice(p, []photo{"a.jpg", "broken.jpg", "c.jpg"})
	checked := pipeline.Map(photos, func(_ context.Context, ph photo) (photo, error) {
		if strings.HasPrefix(string(ph), "broken") {
			return "", errors.New("truncated file")
		}
		return ph, nil
	}, pipeline.Name("decode"), pipeline.SkipErrors(func(err *pipeline.StageError) {
		fmt.Println("skipped:", err)
	}))
	out := pipeline.Collect(checked)
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println(out.Value())
	// Output:
	// skipped: stage "decode": item "broken.jpg": truncated file
	// [a.jpg c.jpg]
}

func ExamplePipeline_Run_error() {
	p := pipeline.New()
	photos := pipeline.FromSlice(p, []photo{"a.jpg", "broken.jpg", "c.jpg"})
	pipeline.ForEach(photos, func(_ context.Context, ph photo) error {
		if ph == "broken.jpg" {
			return errors.New("truncated file")
		}
		return nil
	}, pipeline.Name("decode"))
	err := p.Run(context.Background())
	fmt.Println(err)
	// Output: stage "decode": item "broken.jpg": truncated file
}

func ExampleGenerate() {
	p := pipeline.New()
	evens := pipeline.Generate(p, func(ctx context.Context, emit func(int) error) error {
		for i := 0; i < 10; i += 2 {
			if err := emit(i); err != nil {
				return err // the run was cancelled
			}
		}
		return nil
	})
	out := pipeline.Collect(evens)
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println(out.Value())
	// Output: [0 2 4 6 8]
}

func ExamplePipeline_Stats() {
	p := pipeline.New()
	slow := pipeline.Map(pipeline.FromSlice(p, make([]int, 20)), func(_ context.Context, x int) (int, error) {
		time.Sleep(time.Millisecond)
		return x, nil
	}, pipeline.Name("slow"))
	pipeline.Discard(slow, pipeline.Name("sink"))
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	for _, s := range p.Stats() {
		fmt.Printf("%s: in %d out %d\n", s.Name, s.In, s.Out)
	}
	b, _, _ := p.Bottleneck()
	fmt.Println("bottleneck:", b.Name)
	// Output:
	// slice#1: in 0 out 20
	// slow: in 20 out 20
	// sink: in 20 out 20
	// bottleneck: slow
}

// WriteStats prints a run's statistics as a table. Here the statistics are made up, as a
// run of 1000 images would leave them: the decode stage is the bottleneck, its workers busy
// 95% of the time.
func ExampleWriteStats() {
	ms := time.Millisecond
	stats := []pipeline.StageStats{
		{Name: "walk", Kind: "generate", Workers: 1, Out: 1000,
			Busy: 150 * ms, WaitOut: 1850 * ms, Elapsed: 2 * time.Second},
		{Name: "decode", Kind: "ordered-map", Workers: 4, In: 1000, Out: 998, Errors: 2, ErrorUnits: 2,
			Busy: 7600 * ms, WaitIn: 120 * ms, WaitOut: 80 * ms, WaitOrder: 200 * ms,
			QueueLen: 8, QueueCap: 8, Elapsed: 2 * time.Second},
		{Name: "batch", Kind: "batch", Workers: 1, In: 998, Out: 63,
			Busy: 20 * ms, WaitIn: 1900 * ms, WaitOut: 80 * ms, QueueCap: 2, Elapsed: 2 * time.Second},
		{Name: "gpu", Kind: "custom", Workers: 1, In: 63, Out: 63, Units: true, DoneUnits: 998,
			Busy: 1100 * ms, WaitIn: 850 * ms, QueueLen: 1, QueueCap: 2, Elapsed: 2 * time.Second,
			Extra: map[string]float64{"slots": 2, "batches": 63, "h2d_ms": 212.5}},
		{Name: "write", Kind: "for-each", Workers: 2, In: 998, Out: 998,
			Busy: 1400 * ms, WaitIn: 2600 * ms, QueueCap: 4, Elapsed: 2 * time.Second},
	}
	if err := pipeline.WriteStats(os.Stdout, stats); err != nil {
		fmt.Println(err)
	}
	// Output:
	// stage     workers    in   out  errors  busy  wait in  wait out  wait order  queue  units  extra
	// walk            1     0  1000       0    8%        0     1.85s           0      -      -
	// decode *        4  1000   998       2   95%    120ms    80.0ms       200ms    8/8      -
	// batch           1   998    63       0    1%    1.90s    80.0ms           0    0/2      -
	// gpu             1    63    63       0   55%    850ms         0           0    1/2    998  batches=63 h2d_ms=212.5 slots=2
	// write           2   998   998       0   35%    2.60s         0           0    0/4      -
	// * bottleneck: decode, 95% busy
}

func ExampleOrderedMap() {
	p := pipeline.New()
	delays := pipeline.FromSlice(p, []int{30, 20, 10, 0})
	// Four workers finish the items in reverse order; the results come out in input order.
	done := pipeline.OrderedMap(delays, func(_ context.Context, ms int) (string, error) {
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return fmt.Sprintf("%dms", ms), nil
	}, pipeline.Workers(4))
	out := pipeline.Collect(done)
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println(out.Value())
	// Output: [30ms 20ms 10ms 0ms]
}

func ExamplePrioritize() {
	p := pipeline.New()
	sizes := pipeline.FromSlice(p, []int{9, 2, 7, 4, 8, 1})
	largest := pipeline.Prioritize(sizes, 10, func(a, b int) bool { return a > b })
	// A consumer busy with its first item while the rest arrive, as a decoder is behind a
	// fast folder listing: it takes the others largest first.
	var got []int
	pipeline.ForEach(largest, func(_ context.Context, size int) error {
		for len(got) == 0 && p.Stats()[1].In < 6 { // the Prioritize stage has them all
			time.Sleep(time.Millisecond)
		}
		got = append(got, size)
		return nil
	}, pipeline.Buffer(0))
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println(got)
	// Output: [9 8 7 4 2 1]
}

// buffer stands for an item that holds a resource, such as pooled memory.
type buffer struct{ name string }

func (b *buffer) Release()      { fmt.Println("released", b.name) }
func (b *buffer) Label() string { return b.name }

// Example_droppedItems shows the rule for dropped items: an item the pipeline does not
// deliver (here, one that fails under SkipErrors) has its Release method called by the
// pipeline, after the SkipErrors handler has seen it. Delivered items are never released
// by the pipeline: they are the receiver's.
func Example_droppedItems() {
	p := pipeline.New()
	bufs := pipeline.FromSlice(p, []*buffer{{"a"}, {"b"}, {"c"}})
	checked := pipeline.Map(bufs, func(_ context.Context, b *buffer) (*buffer, error) {
		if b.name == "b" {
			return nil, errors.New("checksum mismatch") // b stays the pipeline's
		}
		return b, nil
	}, pipeline.Name("check"), pipeline.SkipErrors(func(err *pipeline.StageError) {
		fmt.Println("skipped:", err)
	}))
	out := pipeline.Collect(checked)
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	for _, b := range out.Value() {
		fmt.Println("delivered", b.name)
	}
	// Output:
	// skipped: stage "check": item "b": checksum mismatch
	// released b
	// delivered a
	// delivered c
}

// CountUnits lets the statistics, and the progress display, count the items inside
// batches.
func ExampleCountUnits() {
	p := pipeline.New()
	batches := pipeline.Batch(pipeline.FromSlice(p, []int{1, 2, 3, 4, 5}), 2, 0)
	pipeline.ForEach(batches, func(context.Context, []int) error { return nil },
		pipeline.Name("write"), pipeline.CountUnits(func(b []int) int { return len(b) }))
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	for _, s := range p.Stats() {
		if s.Name == "write" {
			fmt.Printf("%s: %d batches, %d items\n", s.Name, s.Out, s.DoneUnits)
		}
	}
	// Output: write: 3 batches, 5 items
}

// Items without a Label or String method, such as plain strings, are not named by the error:
// its message is the stage's name and the function's error, which often names the item
// itself, as os.Stat's does.
func ExampleStageError_unlabelled() {
	p := pipeline.New()
	paths := pipeline.FromSlice(p, []string{"/nonexistent/x"})
	sizes := pipeline.Map(paths, func(_ context.Context, path string) (int64, error) {
		fi, err := os.Stat(path)
		if err != nil {
			return 0, err
		}
		return fi.Size(), nil
	}, pipeline.Name("stat"))
	pipeline.Discard(sizes)
	fmt.Println(p.Run(context.Background()))
	// Output: stage "stat": stat /nonexistent/x: no such file or directory
}
