package gostreams_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reugn/go-streams/extension"
	"github.com/reugn/go-streams/flow"
	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/pipeline/gostreams"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// collector is a go-streams sink that finishes a little after its input closes, so that a
// caller that does not wait for AwaitCompletion sees a partial result.
type collector struct {
	in   chan any
	done chan struct{}
	mu   sync.Mutex
	got  []any
}

func newCollector() *collector {
	c := &collector{in: make(chan any), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for v := range c.in {
			time.Sleep(100 * time.Microsecond)
			c.mu.Lock()
			c.got = append(c.got, v)
			c.mu.Unlock()
		}
		time.Sleep(20 * time.Millisecond)
		c.mu.Lock()
		c.got = append(c.got, "end")
		c.mu.Unlock()
	}()
	return c
}

func (c *collector) In() chan<- any   { return c.in }
func (c *collector) AwaitCompletion() { <-c.done }

func (c *collector) values() []any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

func source(n int) chan any {
	ch := make(chan any)
	go func() {
		defer close(ch)
		for i := range n {
			ch <- i
		}
	}()
	return ch
}

func TestGoStreamsSourceThroughTypedStageIntoGoStreamsSink(t *testing.T) {
	typed := gostreams.NewFlow(context.Background(), func(in *pipeline.Stream[int]) *pipeline.Stream[string] {
		return pipeline.OrderedMap(in, func(_ context.Context, x int) (string, error) {
			return strconv.Itoa(x * x), nil
		}, pipeline.Workers(3))
	})
	sink := newCollector()
	extension.NewChanSource(source(50)).Via(typed).To(sink)
	if err := typed.Wait(); err != nil {
		t.Fatal(err)
	}
	got := sink.values()
	if len(got) != 51 || got[50] != "end" {
		t.Fatalf("sink got %d values ending %v", len(got), got[len(got)-1])
	}
	for i := range 50 {
		if got[i] != strconv.Itoa(i*i) {
			t.Fatalf("value %d is %v", i, got[i])
		}
	}
}

func TestFromAndToWaitForTheSink(t *testing.T) {
	p := pipeline.New()
	upstream := extension.NewChanSource(source(100)).Via(flow.NewMap(func(x int) int { return x + 1 }, 2))
	in := gostreams.From[int](p, upstream, pipeline.Name("from-go-streams"))
	sink := newCollector()
	gostreams.To(pipeline.Map(in, func(_ context.Context, x int) (int, error) { return -x, nil }), sink)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Run has returned, so the sink must have finished: its final value is there.
	got := sink.values()
	if len(got) != 101 || got[100] != "end" {
		t.Fatalf("after Run the sink holds %d values, last %v", len(got), got[len(got)-1])
	}
	sum := 0
	for _, v := range got[:100] {
		sum += v.(int)
	}
	if sum != -5050 {
		t.Fatalf("sum %d", sum)
	}
}

func TestWrongTypeIsAnErrorAndUpstreamFinishes(t *testing.T) {
	mixed := make(chan any)
	go func() {
		defer close(mixed)
		for i := range 1000 {
			if i == 10 {
				mixed <- "eleven"
				continue
			}
			mixed <- i
		}
	}()
	upstream := extension.NewChanSource(mixed).Via(flow.NewPassThrough())
	p := pipeline.New()
	pipeline.Discard(gostreams.From[int](p, upstream, pipeline.Name("ints")))
	err := p.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "received a string where a int was expected") || !strings.Contains(err.Error(), `"ints"`) {
		t.Fatalf("Run returned %v", err)
	}
	// The go-streams goroutines upstream must be able to finish: goleak in TestMain checks,
	// after waiting for them here.
	waitClosed(t, upstream.Out())
}

func waitClosed(t *testing.T, ch <-chan any) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("upstream never finished")
		}
	}
}

func TestCancelledFlowDrainsUpstream(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	typed := gostreams.NewFlow(ctx, func(in *pipeline.Stream[int]) *pipeline.Stream[int] {
		return pipeline.Map(in, func(ctx context.Context, x int) (int, error) {
			if x == 20 {
				cancel()
			}
			return x, nil
		})
	})
	upstream := flow.NewMap(func(x int) int { return x }, 2)
	go func() {
		for i := range 10000 {
			upstream.In() <- i
		}
		close(upstream.In())
	}()
	sink := newCollector()
	upstream.Via(typed).To(sink)
	if err := typed.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait returned %v", err)
	}
	if got := sink.values(); len(got) > 9000 || got[len(got)-1] != "end" {
		t.Fatalf("sink got %d values", len(got))
	}
}

// counted is released once by whoever drops it.
type counted struct {
	released *atomic.Int64
	once     atomic.Bool
	t        *testing.T
}

func (c *counted) Release() {
	if !c.once.CompareAndSwap(false, true) {
		c.t.Error("released twice")
	}
	c.released.Add(1)
}

// The values a cancelled run drops, inside the pipeline or drained from go-streams, are
// released.
func TestDroppedValuesAreReleased(t *testing.T) {
	const n = 1000
	var released, consumed atomic.Int64
	values := make(chan any)
	go func() {
		defer close(values)
		for range n {
			values <- &counted{released: &released, t: t}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := pipeline.New()
	in := gostreams.From[*counted](p, extension.NewChanSource(values).Via(flow.NewPassThrough()))
	pipeline.ForEach(in, func(_ context.Context, c *counted) error {
		if consumed.Add(1) == 20 {
			cancel()
		}
		return nil
	})
	if err := p.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	// The drain of go-streams goes on after Run has returned.
	for deadline := time.Now().Add(5 * time.Second); released.Load()+consumed.Load() < n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if r, c := released.Load(), consumed.Load(); r+c != n {
		t.Fatalf("%d released + %d consumed of %d", r, c, n)
	}
}
