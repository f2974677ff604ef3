package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
)

// fakeQueue delivers the ints 0, 1, … (up to n, or without end when n < 0) and records what
// each delivery's acknowledgement became.
type fakeQueue struct {
	t        *testing.T
	n        int
	next     atomic.Int64
	mu       sync.Mutex
	outcomes map[int][]string // per item, every call its Acker received
	reasons  map[int]error
}

func newFakeQueue(t *testing.T, n int) *fakeQueue {
	return &fakeQueue{t: t, n: n, outcomes: map[int][]string{}, reasons: map[int]error{}}
}

func (q *fakeQueue) Next(ctx context.Context) (int, pipeline.Acker, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	i := int(q.next.Add(1) - 1)
	if q.n >= 0 && i >= q.n {
		return 0, nil, io.EOF
	}
	return i, &fakeAcker{q: q, id: i}, nil
}

type fakeAcker struct {
	q  *fakeQueue
	id int
}

func (a *fakeAcker) record(what string, reason error) error {
	a.q.mu.Lock()
	defer a.q.mu.Unlock()
	a.q.outcomes[a.id] = append(a.q.outcomes[a.id], what)
	a.q.reasons[a.id] = reason
	return nil
}

func (a *fakeAcker) Ack() error               { return a.record("ack", nil) }
func (a *fakeAcker) Retry(reason error) error { return a.record("retry", reason) }
func (a *fakeAcker) Term(reason error) error  { return a.record("term", reason) }
func (a *fakeAcker) HandBack() error          { return a.record("handback", nil) }

// check asserts that every delivered item was resolved exactly once and returns how many
// were resolved each way.
func (q *fakeQueue) check() map[string]int {
	q.t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	delivered := int(q.next.Load())
	if q.n >= 0 && delivered > q.n {
		delivered = q.n
	}
	counts := map[string]int{}
	for i := range delivered {
		got := q.outcomes[i]
		if len(got) != 1 {
			q.t.Errorf("item %d: acknowledgement resolved %d times %v, want once", i, len(got), got)
			continue
		}
		counts[got[0]]++
	}
	if len(q.outcomes) > delivered {
		q.t.Errorf("%d items resolved, %d delivered", len(q.outcomes), delivered)
	}
	return counts
}

var errCorrupt = errors.New("corrupt")

func TestFromQueueResolvesEveryItemOnce(t *testing.T) {
	q := newFakeQueue(t, 200)
	p := pipeline.New()
	var skipped atomic.Int64
	items := pipeline.FromQueue(p, q)
	doubled := pipeline.AckMap(items, func(_ context.Context, x int) (int, error) {
		switch {
		case x%7 == 0:
			return 0, fmt.Errorf("item %d: %w", x, errCorrupt)
		case x%5 == 0:
			return 0, pipeline.Transient(fmt.Errorf("item %d: device fault", x))
		}
		return 2 * x, nil
	}, pipeline.Workers(4), pipeline.SkipErrors(func(*pipeline.StageError) { skipped.Add(1) }))
	var sum atomic.Int64
	pipeline.AckEach(doubled, func(_ context.Context, x int) error {
		if x == 2*11 {
			return errCorrupt // the last stage fails too
		}
		sum.Add(int64(x))
		return nil
	}, pipeline.Workers(3), pipeline.SkipErrors(func(*pipeline.StageError) { skipped.Add(1) }))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	counts := q.check()
	var wantTerm, wantRetry, wantAck int
	for x := range 200 {
		switch {
		case x%7 == 0 || x == 11:
			wantTerm++
		case x%5 == 0:
			wantRetry++
		default:
			wantAck++
		}
	}
	if counts["ack"] != wantAck || counts["term"] != wantTerm || counts["retry"] != wantRetry || counts["handback"] != 0 {
		t.Errorf("outcomes %v, want %d ack, %d term, %d retry", counts, wantAck, wantTerm, wantRetry)
	}
	if int(skipped.Load()) != wantTerm+wantRetry {
		t.Errorf("%d skipped, want %d", skipped.Load(), wantTerm+wantRetry)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !errors.Is(q.reasons[14], errCorrupt) || !pipeline.IsTransient(q.reasons[10]) {
		t.Errorf("reasons: item 14 %v, item 10 %v", q.reasons[14], q.reasons[10])
	}
}

// A run cancelled mid-stream hands back everything it took and did not finish: items in
// queues, in a Batch being gathered, in workers.
func TestFromQueueHandsBackOnCancel(t *testing.T) {
	for _, name := range []string{"cancel", "stage error"} {
		t.Run(name, func(t *testing.T) {
			q := newFakeQueue(t, -1)
			p := pipeline.New()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			items := pipeline.FromQueue(p, q, pipeline.Buffer(8))
			batches := pipeline.Batch(items, 5, time.Hour)
			flat := pipeline.Unbatch(batches)
			var acked atomic.Int64
			pipeline.AckEach(flat, func(ctx context.Context, x int) error {
				if acked.Add(1) == 30 {
					if name == "cancel" {
						cancel()
					} else {
						return errCorrupt // no SkipErrors: stops the run
					}
				}
				time.Sleep(100 * time.Microsecond)
				return nil
			}, pipeline.Workers(2))
			err := p.Run(ctx)
			if name == "cancel" && !errors.Is(err, context.Canceled) || name != "cancel" && !errors.Is(err, errCorrupt) {
				t.Fatalf("Run: %v", err)
			}
			counts := q.check()
			if counts["handback"] == 0 || counts["ack"] < 29 || counts["retry"] != 0 {
				t.Errorf("outcomes %v: want some handed back, 29 or more acknowledged", counts)
			}
			if name != "cancel" && counts["term"] != 1 {
				t.Errorf("outcomes %v: want the failed item terminated", counts)
			}
		})
	}
}

// With the Retry option, a transient failure that passes within the stage acknowledges the
// item; one that lasts is settled once, as a retry for the queue.
func TestAckMapWithRetry(t *testing.T) {
	q := newFakeQueue(t, 20)
	p := pipeline.New()
	var calls sync.Map
	out := pipeline.AckMap(pipeline.FromQueue(p, q), func(_ context.Context, x int) (int, error) {
		n, _ := calls.LoadOrStore(x, new(atomic.Int64))
		c := n.(*atomic.Int64).Add(1)
		if x%2 == 0 && c == 1 || x == 5 {
			return 0, pipeline.Transient(errors.New("timeout"))
		}
		return x, nil
	}, pipeline.Retry(pipeline.RetryPolicy{Attempts: 3}), pipeline.SkipErrors(func(*pipeline.StageError) {}))
	pipeline.AckEach(out, func(context.Context, int) error { return nil })
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if counts := q.check(); counts["ack"] != 19 || counts["retry"] != 1 {
		t.Errorf("outcomes %v, want 19 ack and 1 retry", counts)
	}
}

func TestAckResolvesOnce(t *testing.T) {
	q := newFakeQueue(t, 1)
	_, acker, _ := q.Next(context.Background())
	a := pipeline.NewAck(acker)
	var wg sync.WaitGroup
	var won atomic.Int64
	for i := range 8 {
		wg.Go(func() {
			var err error
			switch i % 4 {
			case 0:
				err = a.Done()
			case 1:
				err = a.Term(errCorrupt)
			case 2:
				err = a.Retry(errCorrupt)
			case 3:
				a.Release()
				return
			}
			if err == nil {
				won.Add(1)
			} else if !errors.Is(err, pipeline.ErrResolved) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	q.check()
	if a.Outcome() == pipeline.Unresolved {
		t.Error("unresolved")
	}
}

// memQueue is a queue in memory: its messages, and what became of each.
type memQueue struct {
	msgs    []string
	next    int
	mu      sync.Mutex
	outcome map[string]string
}

func (q *memQueue) Next(context.Context) (string, pipeline.Acker, error) {
	if q.next == len(q.msgs) {
		return "", nil, io.EOF
	}
	q.next++
	return q.msgs[q.next-1], memAcker{q, q.msgs[q.next-1]}, nil
}

type memAcker struct {
	q   *memQueue
	msg string
}

func (a memAcker) set(what string) error {
	a.q.mu.Lock()
	defer a.q.mu.Unlock()
	a.q.outcome[a.msg] = what
	return nil
}

func (a memAcker) Ack() error            { return a.set("acknowledged") }
func (a memAcker) Retry(err error) error { return a.set("retry later: " + err.Error()) }
func (a memAcker) Term(err error) error  { return a.set("failed for good: " + err.Error()) }
func (a memAcker) HandBack() error       { return a.set("handed back") }

// A queue's messages through two stages: each is acknowledged once its last stage has gone
// through, or settled by its failure.
func ExampleFromQueue() {
	q := &memQueue{msgs: []string{"12", "x", "40", "timeout"}, outcome: map[string]string{}}
	p := pipeline.New()
	parsed := pipeline.AckMap(pipeline.FromQueue(p, q), func(_ context.Context, s string) (int, error) {
		if s == "timeout" {
			return 0, pipeline.Transient(errors.New("storage timeout"))
		}
		var n int
		_, err := fmt.Sscan(s, &n)
		return n, err
	}, pipeline.SkipErrors(func(*pipeline.StageError) {}))
	pipeline.AckEach(parsed, func(_ context.Context, n int) error {
		fmt.Println("stored", n)
		return nil
	})
	if err := p.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	for _, m := range q.msgs {
		fmt.Printf("%s: %s\n", m, q.outcome[m])
	}
	// Output:
	// stored 12
	// stored 40
	// 12: acknowledged
	// x: failed for good: expected integer
	// 40: acknowledged
	// timeout: retry later: storage timeout
}
