// Command framework measures the overhead of gpupipe's stages against hand-written channels
// and goroutines and against go-streams, on the same three-stage pipeline with the same worker
// counts: a source of small items, two parallel maps, and a sink that sums. Then it measures
// each graph operator (merge, broadcast, roundrobin, split, zip, flatten, fold, keyed,
// window, sliding, session, throttle) built the three ways, once each.
//
//	go run ./bench/framework [-items 1000000] [-workers 2] [-buffer 64] [-rounds 3]
//	    [-ops all|none|merge,broadcast,...] [-op-items 1000000] [-throttle-rate 100000]
//
// It prints one JSON object per implementation and round of the chain, and one per operator
// and implementation, with "op" set:
//
//	{"impl":"raw","items":1000000,"seconds":0.41,"items_per_s":2430000}
//	{"op":"merge","impl":"gpupipe","items":1000000,"seconds":0.2,"items_per_s":5000000}
//
// For throttle, the items are half a second's worth at -throttle-rate: items_per_s says how
// close each implementation comes to that rate, not how fast it can go.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/reugn/go-streams/extension"
	"github.com/reugn/go-streams/flow"

	"github.com/gpupipe/gpupipe/pipeline"
)

// The work per item is tiny on purpose: the benchmark measures the framework, not the work.
func step1(x int) int { return x*2654435761 ^ x>>7 }
func step2(x int) int { return x&0xffff + 1 }

type result struct {
	Op        string  `json:"op,omitempty"`
	Impl      string  `json:"impl"`
	Items     int     `json:"items"`
	Seconds   float64 `json:"seconds"`
	ItemsPerS float64 `json:"items_per_s"`
}

func main() {
	items := flag.Int("items", 1_000_000, "items per run")
	workers := flag.Int("workers", 2, "workers per map stage")
	buffer := flag.Int("buffer", 64, "queue capacity between stages")
	rounds := flag.Int("rounds", 3, "rounds of the three implementations, interleaved")
	ops := flag.String("ops", "all", "operators to measure after the chain: all, none, or a comma-separated list")
	opItems := flag.Int("op-items", 1_000_000, "items per operator run")
	throttleRate := flag.Int("throttle-rate", 100_000, "the throttle's target rate, in items per second")
	flag.Parse()

	want := expected(*items)
	impls := []struct {
		name string
		run  func(n, workers, buffer int) int
	}{{"raw", runRaw}, {"gostreams", runGoStreams}, {"gpupipe", runGpupipe}}
	enc := json.NewEncoder(os.Stdout)
	for range *rounds {
		for _, impl := range impls {
			start := time.Now()
			sum := impl.run(*items, *workers, *buffer)
			secs := time.Since(start).Seconds()
			if sum != want {
				fmt.Fprintf(os.Stderr, "framework: %s computed %d, want %d\n", impl.name, sum, want)
				os.Exit(1)
			}
			enc.Encode(result{"", impl.name, *items, secs, float64(*items) / secs})
		}
	}
	if err := runOps(enc, *ops, *opItems, *buffer, *throttleRate); err != nil {
		fmt.Fprintln(os.Stderr, "framework:", err)
		os.Exit(1)
	}
}

// runOps measures the operators named in list, each implementation once.
func runOps(enc *json.Encoder, list string, n, buffer, throttleRate int) error {
	if list == "none" {
		return nil
	}
	want := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		want[strings.TrimSpace(name)] = true
	}
	for _, op := range benchOps(throttleRate) {
		if !want["all"] && !want[op.name] {
			continue
		}
		delete(want, op.name)
		for i, run := range op.impls {
			runtime.GC()
			start := time.Now()
			got := run(n, buffer)
			secs := time.Since(start).Seconds()
			if !op.check(n, got) {
				return fmt.Errorf("%s/%s computed %d, which is wrong", op.name, implNames[i], got)
			}
			items := op.items(n)
			enc.Encode(result{op.name, implNames[i], items, secs, float64(items) / secs})
		}
	}
	delete(want, "all")
	for name := range want {
		return fmt.Errorf("no operator %q", name)
	}
	return nil
}

func expected(n int) int {
	sum := 0
	for i := range n {
		sum += step2(step1(i))
	}
	return sum
}

func runRaw(n, workers, buffer int) int {
	src := make(chan int, buffer)
	go func() {
		for i := range n {
			src <- i
		}
		close(src)
	}()
	mid := stage(src, workers, buffer, step1)
	out := stage(mid, workers, buffer, step2)
	sum := 0
	for x := range out {
		sum += x
	}
	return sum
}

func stage(in <-chan int, workers, buffer int, f func(int) int) <-chan int {
	out := make(chan int, buffer)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for x := range in {
				out <- f(x)
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()
	return out
}

func runGoStreams(n, workers, buffer int) int {
	src := make(chan any, buffer)
	go func() {
		for i := range n {
			src <- i
		}
		close(src)
	}()
	sink := make(chan any, buffer)
	done := make(chan int)
	go func() {
		sum := 0
		for x := range sink {
			sum += x.(int)
		}
		done <- sum
	}()
	extension.NewChanSource(src).
		Via(flow.NewMap(step1, workers)).
		Via(flow.NewMap(step2, workers)).
		To(extension.NewChanSink(sink))
	return <-done
}

func runGpupipe(n, workers, buffer int) int {
	p := pipeline.New()
	src := pipeline.Generate(p, func(ctx context.Context, emit func(int) error) error {
		for i := range n {
			if err := emit(i); err != nil {
				return err
			}
		}
		return nil
	})
	opts := []pipeline.Option{pipeline.Workers(workers), pipeline.Buffer(buffer)}
	mid := pipeline.Map(src, func(_ context.Context, x int) (int, error) { return step1(x), nil }, opts...)
	out := pipeline.Map(mid, func(_ context.Context, x int) (int, error) { return step2(x), nil }, opts...)
	sum := pipeline.Reduce(out, 0, func(acc, x int) (int, error) { return acc + x, nil }, pipeline.Buffer(buffer))
	if err := p.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "framework:", err)
		os.Exit(1)
	}
	return sum.Value()
}
