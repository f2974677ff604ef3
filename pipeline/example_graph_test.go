package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
)

// Fan-in: two sources merged into one stream.
func ExampleMerge() {
	p := pipeline.New()
	cats := pipeline.FromSlice(p, []string{"tabby", "siamese"})
	dogs := pipeline.FromSlice(p, []string{"collie", "beagle", "pug"})
	pets := pipeline.Collect(pipeline.Merge([]*pipeline.Stream[string]{cats, dogs}))
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	all := pets.Value()
	slices.Sort(all) // the inputs interleave as they come
	fmt.Println(all)
	// Output: [beagle collie pug siamese tabby]
}

// Fan-out: every item to two branches, one that sums and one that keeps the largest.
func ExampleTee() {
	p := pipeline.New()
	a, b := pipeline.Tee(pipeline.FromSlice(p, []int{3, 9, 4}))
	sum := pipeline.Reduce(a, 0, func(acc, x int) (int, error) { return acc + x, nil })
	top := pipeline.Reduce(b, 0, func(acc, x int) (int, error) { return max(acc, x), nil })
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sum.Value(), top.Value())
	// Output: 16 9
}

// Fan-out by predicate, and back in with Zip.
func ExampleSplit() {
	p := pipeline.New()
	small, large := pipeline.Split(pipeline.FromSlice(p, []int{1, 50, 2, 70, 3}), func(x int) bool { return x < 10 })
	pairs := pipeline.Collect(pipeline.Zip(small, large))
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pairs.Value()) // Zip ends with the shorter side: 3 has no partner
	// Output: [{1 50} {2 70}]
}

// Fan-out to workers of different speeds: each item goes to one branch.
func ExampleRoundRobin() {
	p := pipeline.New()
	var shards []*pipeline.Result[int]
	for _, shard := range pipeline.RoundRobin(pipeline.FromSlice(p, []int{1, 2, 3, 4, 5, 6}), 3) {
		shards = append(shards, pipeline.Reduce(shard, 0, func(acc, x int) (int, error) { return acc + x, nil }))
	}
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	total := 0
	for _, s := range shards {
		total += s.Value()
	}
	fmt.Println(total)
	// Output: 21
}

// Per-key state: a running total per customer.
func ExampleKeyedScan() {
	type order struct {
		customer string
		amount   int
	}
	p := pipeline.New()
	orders := pipeline.FromSlice(p, []order{{"ann", 5}, {"bob", 7}, {"ann", 3}})
	totals := pipeline.KeyedScan(orders, func(o order) string { return o.customer },
		func(string) int { return 0 },
		func(total int, o order) (int, error) { return total + o.amount, nil })
	out := pipeline.Collect(totals)
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Value())
	// Output: [{ann 5} {bob 7} {ann 8}]
}

// Windows by count: tumbling windows do not overlap, sliding windows do.
func ExampleSlidingWindowCount() {
	p := pipeline.New()
	a, b := pipeline.Tee(pipeline.FromSlice(p, []int{1, 2, 3, 4, 5, 6}))
	tumbling := pipeline.Collect(pipeline.TumblingWindowCount(a, 4))
	sliding := pipeline.Collect(pipeline.SlidingWindowCount(b, 3, 2))
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tumbling.Value())
	fmt.Println(sliding.Value())
	// Output:
	// [[1 2 3 4] [5 6]]
	// [[1 2 3] [3 4 5] [5 6]]
}

// Windows by time: a session closes after a pause of the gap.
func ExampleSessionWindow() {
	p := pipeline.New()
	clicks := pipeline.Generate(p, func(ctx context.Context, emit func(string) error) error {
		for _, c := range []string{"home", "search", "-", "cart", "pay"} {
			if c == "-" {
				time.Sleep(300 * time.Millisecond) // the user pauses
				continue
			}
			if err := emit(c); err != nil {
				return err
			}
		}
		return nil
	})
	sessions := pipeline.Collect(pipeline.SessionWindow(clicks, 100*time.Millisecond))
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sessions.Value())
	// Output: [[home search] [cart pay]]
}

// Retries: a flaky call retried with backoff before the error policy applies.
func ExampleRetry() {
	errBusy := errors.New("server busy")
	calls := map[string]int{}
	fetch := func(_ context.Context, url string) (string, error) {
		calls[url]++
		if calls[url] < 3 {
			return "", errBusy // fails twice, then works
		}
		return strings.ToUpper(url), nil
	}
	p := pipeline.New()
	pages := pipeline.Map(pipeline.FromSlice(p, []string{"a.example", "b.example"}), fetch,
		pipeline.Name("fetch"),
		pipeline.Retry(pipeline.RetryPolicy{
			Attempts:  4,
			Base:      time.Millisecond,
			Max:       50 * time.Millisecond,
			Jitter:    0.2,
			Transient: func(err error) bool { return errors.Is(err, errBusy) },
		}))
	out := pipeline.Collect(pages)
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	st := p.Stats()[1]
	fmt.Println(out.Value(), "retries:", st.Retries)
	// Output: [A.EXAMPLE B.EXAMPLE] retries: 4
}

// Results as they come: the loop runs the pipeline and receives each item as soon as it is
// made; breaking out stops the run.
func ExampleItems() {
	p := pipeline.New()
	squares := pipeline.Map(pipeline.FromSlice(p, []int{1, 2, 3, 4, 5, 6}), func(_ context.Context, x int) (int, error) {
		return x * x, nil
	})
	for sq, err := range pipeline.Items(context.Background(), squares) {
		if err != nil {
			fmt.Println("run failed:", err)
			break
		}
		if sq > 10 {
			break // cancels the run; every goroutine has ended after the loop
		}
		fmt.Println(sq)
	}
	// Output:
	// 1
	// 4
	// 9
}

// Throttle: at most 50 items per second, so five items take at least 80ms after the first.
func ExampleThrottle() {
	p := pipeline.New()
	slow := pipeline.Throttle(pipeline.FromSlice(p, []int{1, 2, 3, 4, 5}), 50, time.Second, 1)
	out := pipeline.Collect(slow)
	start := time.Now()
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Value(), time.Since(start) >= 80*time.Millisecond)
	// Output: [1 2 3 4 5] true
}
