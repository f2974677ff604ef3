// Package jsqueue reads a NATS JetStream work queue into a pipeline: a pipeline.Queue whose
// items are JetStream messages, each acknowledged by the pipeline once (see
// pipeline.FromQueue).
//
// What each outcome does to the message:
//
//	Ack       Done is called (record the result), then the message is acknowledged and
//	          the server confirms it (a double ack): a work-queue stream then drops it
//	Retry     delivered again after Backoff(n), where n counts its deliveries; on its
//	          MaxDeliver-th delivery Dead is called instead (the dead-letter record) and
//	          the message is terminated
//	Term      Failed is called (the permanent failure, with its reason), then the message
//	          is terminated: never delivered again
//	HandBack  negatively acknowledged at once: delivered again, here or to another worker
//
// While a message is in flight (fetched and not yet resolved) the source tells the server
// it is still being worked on every Progress, so that the consumer's AckWait can stay short
// (a worker that dies loses its messages only for that long) whatever a batch takes on the
// device.
//
// The retry limit is the source's, not the server's: give the consumer no MaxDeliver (or
// one above the source's). A message the server stops delivering after its MaxDeliver stays
// in a work-queue stream without a record of why; here a message delivered more than
// MaxDeliver times without an outcome (its workers died holding it) is dead-lettered when
// it arrives.
package jsqueue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gpupipe/gpupipe/pipeline"
)

// Options configure a Source. The zero value works: five deliveries, backoff from a second
// doubling up to a minute, in-progress acks every third of the consumer's AckWait.
type Options struct {
	// MaxDeliver is how many times a message may be delivered before a transient failure
	// dead-letters it (default 5).
	MaxDeliver int
	// Backoff is the delay before the next delivery of a message whose n-th delivery failed
	// transiently (default: 1s, 2s, 4s, … up to a minute).
	Backoff func(n int) time.Duration
	// Progress is how often in-flight messages are reported in progress (default: a third
	// of the consumer's AckWait).
	Progress time.Duration
	// Fetch is how many messages one pull request asks for (default 1). A larger number
	// costs fewer round trips but holds messages that another worker could be processing.
	Fetch int
	// Poll is how long one pull request waits for messages (default 500ms); it bounds how
	// long Next takes to see a cancellation or an empty queue.
	Poll time.Duration
	// UntilEmpty ends the source (Next returns io.EOF) once the consumer has no message
	// left: none waiting and none delivered without an outcome, on any worker. A message
	// held by a worker that died counts until it comes back and is resolved.
	UntilEmpty bool
	// Done, Failed and Dead record outcomes (in a key-value bucket, a database): Done before
	// a message is acknowledged, Failed before a permanent failure is terminated, Dead
	// before an exhausted one is. An error from Done leaves the message to be delivered
	// again; errors from Failed and Dead are returned by the Acker after terminating it.
	Done   func(ctx context.Context, m jetstream.Msg) error
	Failed func(ctx context.Context, m jetstream.Msg, reason error) error
	Dead   func(ctx context.Context, m jetstream.Msg, deliveries int, reason error) error
	// Timeout bounds each acknowledgement and record (default 10s). They run with a
	// context of their own, since a message is handed back after its run was cancelled.
	Timeout time.Duration
}

func (o Options) withDefaults(ackWait time.Duration) Options {
	if o.MaxDeliver <= 0 {
		o.MaxDeliver = 5
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.Progress <= 0 {
		o.Progress = ackWait / 3
		if o.Progress <= 0 {
			o.Progress = 10 * time.Second
		}
	}
	if o.Fetch <= 0 {
		o.Fetch = 1
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	return o
}

// DefaultBackoff waits a second after the first failed delivery and twice as long after
// each next one, up to a minute.
func DefaultBackoff(n int) time.Duration {
	d := time.Second
	for i := 1; i < n && d < time.Minute; i++ {
		d *= 2
	}
	return min(d, time.Minute)
}

// Source is a pipeline.Queue of the messages of one JetStream pull consumer. Close it after
// the pipeline's run.
type Source struct {
	cons jetstream.Consumer
	opts Options

	mu       sync.Mutex
	inflight map[*delivery]struct{}
	buffered []*delivery // fetched, not yet returned by Next
	stop     chan struct{}
	done     chan struct{}
	closed   bool
}

var _ pipeline.Queue[jetstream.Msg] = (*Source)(nil)

// New returns a Source reading cons, and starts the in-progress acks.
func New(ctx context.Context, cons jetstream.Consumer, opts Options) (*Source, error) {
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("jsqueue: consumer: %w", err)
	}
	s := &Source{cons: cons, opts: opts.withDefaults(info.Config.AckWait), inflight: map[*delivery]struct{}{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go s.progress()
	return s, nil
}

// progress reports every in-flight message in progress, until Close.
func (s *Source) progress() {
	defer close(s.done)
	t := time.NewTicker(s.opts.Progress)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		ms := make([]jetstream.Msg, 0, len(s.inflight))
		for d := range s.inflight {
			ms = append(ms, d.m)
		}
		s.mu.Unlock()
		for _, m := range ms {
			// A failure here (the connection is down) shows later as a redelivery: at
			// least once.
			_ = m.InProgress()
		}
	}
}

// InFlight is the number of messages fetched and not yet resolved.
func (s *Source) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.inflight)
}

// Next returns the next message. It returns io.EOF when UntilEmpty is set and the consumer
// has nothing left, and ctx's error once ctx is done.
func (s *Source) Next(ctx context.Context) (jetstream.Msg, pipeline.Acker, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		s.mu.Lock()
		if len(s.buffered) > 0 {
			d := s.buffered[0]
			s.buffered = s.buffered[1:]
			s.mu.Unlock()
			if d.n > s.opts.MaxDeliver {
				// Its workers died holding it, again and again: a record, not a loop.
				_ = d.dead(fmt.Errorf("delivered %d times without an outcome (its workers stopped or timed out)", d.n-1))
				continue
			}
			return d.m, d, nil
		}
		s.mu.Unlock()
		n, err := s.fetch(ctx)
		if err != nil {
			return nil, nil, err
		}
		if n > 0 || !s.opts.UntilEmpty {
			continue
		}
		empty, err := s.empty(ctx)
		if err != nil {
			return nil, nil, err
		}
		if empty {
			return nil, nil, io.EOF
		}
	}
}

// fetch pulls up to Fetch messages into the buffer and returns how many came.
func (s *Source) fetch(ctx context.Context) (int, error) {
	batch, err := s.cons.Fetch(s.opts.Fetch, jetstream.FetchMaxWait(s.opts.Poll))
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("jsqueue: fetch: %w", err)
	}
	n := 0
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			_ = m.Term()
			continue
		}
		d := &delivery{s: s, m: m, n: int(md.NumDelivered)}
		s.mu.Lock()
		s.inflight[d] = struct{}{}
		s.buffered = append(s.buffered, d)
		s.mu.Unlock()
		n++
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
		return n, fmt.Errorf("jsqueue: fetch: %w", err)
	}
	return n, nil
}

// empty reports whether the consumer has no message waiting and none in flight anywhere.
func (s *Source) empty(ctx context.Context) (bool, error) {
	info, err := s.cons.Info(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, fmt.Errorf("jsqueue: consumer: %w", err)
	}
	return info.NumPending == 0 && info.NumAckPending == 0, nil
}

// Close stops the in-progress acks and hands back the messages fetched and not yet
// returned by Next. Messages returned by Next are the pipeline's to resolve; those still
// unresolved are no longer reported in progress and come back after the AckWait.
func (s *Source) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	left := s.buffered
	s.buffered = nil
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	var errs []error
	for _, d := range left {
		errs = append(errs, d.HandBack())
	}
	return errors.Join(errs...)
}

// delivery is one delivery of a message: its pipeline.Acker.
type delivery struct {
	s *Source
	m jetstream.Msg
	n int // the delivery's number: 1 the first time
}

func (d *delivery) forget() {
	d.s.mu.Lock()
	delete(d.s.inflight, d)
	d.s.mu.Unlock()
}

func (d *delivery) context() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d.s.opts.Timeout)
}

// Ack records the message done and acknowledges it.
func (d *delivery) Ack() error {
	defer d.forget()
	ctx, cancel := d.context()
	defer cancel()
	if done := d.s.opts.Done; done != nil {
		if err := done(ctx, d.m); err != nil {
			_ = d.m.Nak()
			return fmt.Errorf("jsqueue: recording a message done: %w", err)
		}
	}
	return d.m.DoubleAck(ctx)
}

// Retry delivers the message again after the backoff, or dead-letters it on its last
// delivery.
func (d *delivery) Retry(reason error) error {
	if d.n >= d.s.opts.MaxDeliver {
		return d.dead(reason)
	}
	defer d.forget()
	return d.m.NakWithDelay(d.s.opts.Backoff(d.n))
}

func (d *delivery) dead(reason error) error {
	defer d.forget()
	ctx, cancel := d.context()
	defer cancel()
	var err error
	if dead := d.s.opts.Dead; dead != nil {
		err = dead(ctx, d.m, d.n, reason)
	}
	return errors.Join(err, d.m.TermWithReason(short(reason)))
}

// Term records the permanent failure and terminates the message.
func (d *delivery) Term(reason error) error {
	defer d.forget()
	ctx, cancel := d.context()
	defer cancel()
	var err error
	if failed := d.s.opts.Failed; failed != nil {
		err = failed(ctx, d.m, reason)
	}
	return errors.Join(err, d.m.TermWithReason(short(reason)))
}

// HandBack makes the message available again at once.
func (d *delivery) HandBack() error {
	defer d.forget()
	return d.m.Nak()
}

// short is a reason as the server's termination advisory carries it: one line, bounded.
func short(err error) string {
	s := "failed"
	if err != nil {
		s = err.Error()
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
