package jsqueue_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/internal/natstest"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/pipeline/jsqueue"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// workQueue makes a work-queue stream and a durable pull consumer on an embedded server and
// publishes msgs to it.
func workQueue(t *testing.T, ackWait time.Duration, msgs ...string) (jetstream.JetStream, jetstream.Consumer) {
	t.Helper()
	nc, err := nats.Connect(natstest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "work", Subjects: []string{"work.>"},
		Retention: jetstream.WorkQueuePolicy})
	if err != nil {
		t.Fatal(err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "workers",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if _, err := js.Publish(ctx, "work.items", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	return js, cons
}

// outcomes records what the source's hooks were told.
type outcomes struct {
	mu                 sync.Mutex
	done, failed, dead map[string]int
	deliveries         map[string]int
	processed          map[string]int
}

func newOutcomes() *outcomes {
	return &outcomes{done: map[string]int{}, failed: map[string]int{}, dead: map[string]int{},
		deliveries: map[string]int{}, processed: map[string]int{}}
}

func (o *outcomes) options(opts jsqueue.Options) jsqueue.Options {
	opts.Done = func(_ context.Context, m jetstream.Msg) error {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.done[string(m.Data())]++
		return nil
	}
	opts.Failed = func(_ context.Context, m jetstream.Msg, reason error) error {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.failed[string(m.Data())]++
		return nil
	}
	opts.Dead = func(_ context.Context, m jetstream.Msg, n int, reason error) error {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.dead[string(m.Data())]++
		o.deliveries[string(m.Data())] = n
		return nil
	}
	return opts
}

// run processes the queue until it is empty: "bad" messages fail for good, "flaky" ones
// transiently on their first two deliveries, "doomed" ones always transiently.
func (o *outcomes) run(t *testing.T, src *jsqueue.Source, work time.Duration) {
	t.Helper()
	p := pipeline.New()
	msgs := pipeline.FromQueue(p, src)
	names := pipeline.AckMap(msgs, func(_ context.Context, m jetstream.Msg) (string, error) {
		name := string(m.Data())
		md, _ := m.Metadata()
		o.mu.Lock()
		o.processed[name]++
		o.mu.Unlock()
		time.Sleep(work)
		switch {
		case strings.HasPrefix(name, "bad"):
			return "", errors.New("corrupt")
		case strings.HasPrefix(name, "doomed"), strings.HasPrefix(name, "flaky") && md.NumDelivered <= 2:
			return "", pipeline.Transient(errors.New("device fault"))
		}
		return name, nil
	}, pipeline.Workers(4), pipeline.SkipErrors(func(*pipeline.StageError) {}))
	pipeline.AckEach(names, func(context.Context, string) error { return nil })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSourceOutcomes(t *testing.T) {
	var msgs []string
	for i := range 10 {
		msgs = append(msgs, fmt.Sprintf("good-%d", i))
	}
	msgs = append(msgs, "bad-1", "bad-2", "flaky-1", "flaky-2", "doomed-1")
	_, cons := workQueue(t, 5*time.Second, msgs...)
	o := newOutcomes()
	src, err := jsqueue.New(context.Background(), cons, o.options(jsqueue.Options{MaxDeliver: 3, UntilEmpty: true,
		Fetch: 4, Poll: 100 * time.Millisecond, Backoff: func(int) time.Duration { return 20 * time.Millisecond }}))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	o.run(t, src, 0)
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range msgs {
		want := [3]int{1, 0, 0} // done, failed, dead
		switch {
		case strings.HasPrefix(m, "bad"):
			want = [3]int{0, 1, 0}
		case strings.HasPrefix(m, "doomed"):
			want = [3]int{0, 0, 1}
		}
		if got := [3]int{o.done[m], o.failed[m], o.dead[m]}; got != want {
			t.Errorf("%s: done, failed, dead %v, want %v", m, got, want)
		}
	}
	if o.processed["bad-1"] != 1 || o.processed["flaky-1"] != 3 || o.processed["doomed-1"] != 3 || o.deliveries["doomed-1"] != 3 {
		t.Errorf("processed bad %d (want 1), flaky %d (want 3), doomed %d (want 3), doomed dead after %d deliveries",
			o.processed["bad-1"], o.processed["flaky-1"], o.processed["doomed-1"], o.deliveries["doomed-1"])
	}
	info, err := cons.Info(context.Background())
	if err != nil || info.NumPending != 0 || info.NumAckPending != 0 || src.InFlight() != 0 {
		t.Errorf("after the run: %+v, %v; %d in flight", info, err, src.InFlight())
	}
}

// A message whose work outlasts the AckWait is kept by in-progress acks, not delivered
// again; one held by a worker that died comes back after the AckWait.
func TestSourceInProgressAndRedelivery(t *testing.T) {
	_, cons := workQueue(t, time.Second, "slow", "orphan")
	ctx := context.Background()
	// The first message goes to a worker that dies holding it.
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var orphan string
	for m := range batch.Messages() {
		orphan = string(m.Data()) // never acknowledged: its worker "died"
	}
	if orphan != "slow" {
		t.Fatalf("fetched %q", orphan)
	}
	o := newOutcomes()
	src, err := jsqueue.New(ctx, cons, o.options(jsqueue.Options{UntilEmpty: true, Poll: 100 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	o.run(t, src, 2500*time.Millisecond) // each message takes 2.5 AckWaits
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done["slow"] != 1 || o.done["orphan"] != 1 || o.processed["slow"] != 1 || o.processed["orphan"] != 1 {
		t.Errorf("done %v, processed %v: want each once", o.done, o.processed)
	}
}

// Cancelling the run hands back what it held: the messages are delivered again at once.
func TestSourceHandsBackOnCancel(t *testing.T) {
	msgs := make([]string, 20)
	for i := range msgs {
		msgs[i] = fmt.Sprintf("m-%d", i)
	}
	_, cons := workQueue(t, time.Minute, msgs...)
	src, err := jsqueue.New(context.Background(), cons, jsqueue.Options{Fetch: 5, Poll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.New()
	ctx, cancel := context.WithCancel(context.Background())
	var seen sync.Map
	pipeline.AckEach(pipeline.FromQueue(p, src), func(ctx context.Context, m jetstream.Msg) error {
		seen.Store(string(m.Data()), true)
		cancel()
		<-ctx.Done()
		return ctx.Err()
	})
	if err := p.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	// Everything comes back well before the minute of AckWait.
	got := 0
	deadline := time.Now().Add(5 * time.Second)
	for got < len(msgs) && time.Now().Before(deadline) {
		batch, err := cons.Fetch(len(msgs), jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			got++
			_ = m.Ack()
		}
	}
	if got != len(msgs) {
		t.Errorf("%d of %d messages available again after the cancellation", got, len(msgs))
	}
}
