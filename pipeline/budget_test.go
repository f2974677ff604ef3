package pipeline_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
)

func TestBudgetBlocksUntilReleased(t *testing.T) {
	b := pipeline.NewBudget(100)
	ctx := context.Background()
	if err := b.Acquire(ctx, 70); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- b.Acquire(ctx, 40) }()
	select {
	case err := <-got:
		t.Fatalf("70+40 of 100 admitted at once (err %v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	b.Release(70)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if u, p := b.Used(), b.Peak(); u != 40 || p != 70 {
		t.Errorf("used %d peak %d, want 40 and 70", u, p)
	}
	b.Release(40)
}

func TestBudgetRefusesMoreThanTheWhole(t *testing.T) {
	b := pipeline.NewBudget(600 << 20)
	err := b.Acquire(context.Background(), 601<<20)
	if !errors.Is(err, pipeline.ErrOverBudget) {
		t.Fatalf("err %v, want ErrOverBudget", err)
	}
	if want := "over the memory budget: needs 601 MiB, the whole budget is 600 MiB"; err.Error() != want {
		t.Errorf("err %q, want %q", err, want)
	}
	if b.Used() != 0 {
		t.Errorf("a refused request holds %d bytes", b.Used())
	}
}

// A large request at the head of the queue is not overtaken by small ones that would fit.
func TestBudgetFirstComeFirstServed(t *testing.T) {
	b := pipeline.NewBudget(100)
	ctx := context.Background()
	if err := b.Acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	big := make(chan error, 1)
	go func() { big <- b.Acquire(ctx, 90) }()
	waitFor(t, func() bool { return queued(b) })
	small := make(chan error, 1)
	go func() { small <- b.Acquire(ctx, 10) }()
	select {
	case <-small:
		t.Fatal("a small request overtook the large one waiting before it")
	case <-big:
		t.Fatal("90 admitted while 60 of 100 are held")
	case <-time.After(50 * time.Millisecond):
	}
	b.Release(60)
	if err := <-big; err != nil {
		t.Fatal(err)
	}
	b.Release(90)
	if err := <-small; err != nil {
		t.Fatal(err)
	}
	b.Release(10)
}

// A waiter whose context ends takes nothing and stops being in the way of those behind it.
func TestBudgetCancelledWaiter(t *testing.T) {
	b := pipeline.NewBudget(100)
	if err := b.Acquire(context.Background(), 50); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	big := make(chan error, 1)
	go func() { big <- b.Acquire(ctx, 80) }()
	waitFor(t, func() bool { return queued(b) })
	small := make(chan error, 1)
	go func() { small <- b.Acquire(context.Background(), 30) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-big; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	if err := <-small; err != nil {
		t.Fatal(err)
	}
	if u := b.Used(); u != 80 {
		t.Errorf("used %d, want 80", u)
	}
	b.Release(80)
}

// Under many concurrent users the budget is never exceeded and ends empty.
func TestBudgetConcurrent(t *testing.T) {
	b := pipeline.NewBudget(1000)
	var held, over atomic.Int64
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			n := int64(50 + 37*i%400)
			for range 200 {
				if err := b.Acquire(context.Background(), n); err != nil {
					t.Error(err)
					return
				}
				if h := held.Add(n); h > 1000 {
					over.Store(h)
				}
				held.Add(-n)
				b.Release(n)
			}
		})
	}
	wg.Wait()
	if o := over.Load(); o != 0 {
		t.Errorf("%d bytes held at once in a budget of 1000", o)
	}
	if b.Used() != 0 || b.Peak() > 1000 {
		t.Errorf("used %d, peak %d", b.Used(), b.Peak())
	}
}

func TestBudgetNilHasNoLimit(t *testing.T) {
	var b *pipeline.Budget
	if err := b.Acquire(context.Background(), 1<<50); err != nil || !b.TryAcquire(1<<50) {
		t.Fatal("a nil budget refused")
	}
	b.Release(1 << 50)
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"600MB": 600e6, "600 MiB": 600 << 20, "1.5GiB": 3 << 29, "2gb": 2e9, "512KB": 512e3,
		"512KiB": 512 << 10, "1048576": 1 << 20, "64M": 64 << 20, "1G": 1 << 30, "100b": 100,
	} {
		if got, err := pipeline.ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "600XB", "-5MB", "0", "1e30GB", "1.2.3MB", "0.1"} {
		if got, err := pipeline.ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) = %d, want an error", in, got)
		}
	}
	for n, want := range map[int64]string{512: "512 B", 1536: "1.5 KiB", 600 << 20: "600 MiB", 3 << 29: "1.5 GiB"} {
		if got := pipeline.FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// queued reports whether a request waits in b (TryAcquire fails while one does, even with
// room).
func queued(b *pipeline.Budget) bool {
	if b.TryAcquire(1) {
		b.Release(1)
		return false
	}
	return true
}

// Batches stop at the weight bound as well as the count; an item over the bound alone is a
// batch of its own; nothing is lost or reordered.
func TestBatchWeighted(t *testing.T) {
	weights := []int{3, 3, 3, 20, 1, 1, 1, 1, 1, 1, 1, 5, 5, 5}
	for _, wait := range []time.Duration{0, time.Hour} {
		p := pipeline.New()
		out := pipeline.Collect(pipeline.BatchWeighted(pipeline.FromSlice(p, weights), 4, 10,
			func(w int) int64 { return int64(w) }, wait))
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		var got [][]int
		var all []int
		for _, b := range out.Value() {
			got = append(got, b)
			all = append(all, b...)
		}
		want := [][]int{{3, 3, 3}, {20}, {1, 1, 1, 1}, {1, 1, 1, 5}, {5, 5}}
		if len(got) != len(want) || !slices.Equal(all, weights) {
			t.Fatalf("wait %v: batches %v, want %v", wait, got, want)
		}
		for i := range want {
			if !slices.Equal(got[i], want[i]) {
				t.Fatalf("wait %v: batches %v, want %v", wait, got, want)
			}
		}
	}
}

// A run that stops while an item waits to start the next batch releases it.
func TestBatchWeightedReleasesTheCarriedItem(t *testing.T) {
	var released atomic.Int64
	p := pipeline.New()
	items := []*releasable{{n: 6, released: &released}, {n: 6, released: &released}}
	batches := pipeline.BatchWeighted(pipeline.FromSlice(p, items), 4, 10,
		func(r *releasable) int64 { return r.n }, 0)
	pipeline.ForEach(batches, func(ctx context.Context, b []*releasable) error {
		return errors.New("stop")
	})
	if err := p.Run(context.Background()); err == nil {
		t.Fatal("the run did not stop")
	}
	if n := released.Load(); n != 2 {
		t.Errorf("%d of 2 items released", n)
	}
}

type releasable struct {
	n        int64
	released *atomic.Int64
	once     sync.Once
}

func (r *releasable) Release() { r.once.Do(func() { r.released.Add(1) }) }
