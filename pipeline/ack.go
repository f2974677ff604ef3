package pipeline

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// Items taken from a message queue carry an acknowledgement: the queue keeps the message
// until it is told what became of it. The transaction model of stream processors maps onto
// the pipeline's ownership rules:
//
//	left the last stage (AckEach succeeded)       ─▶ Ack       the queue forgets it
//	failed, transient (Transient(err))            ─▶ Retry     delivered again later
//	failed, permanent                             ─▶ Term      recorded, never again
//	dropped when the run ended early (released)   ─▶ HandBack  delivered again soon
//
// The last row is the dropped-item rule (see "Dropped items" in the package documentation):
// an Acked item the pipeline drops is released, and releasing it hands its message back, so
// every path an item can take resolves its acknowledgement, once.

// Acker is a queue's side of one delivered message: what a Queue hands out with each item.
// An Ack calls exactly one of its methods, once.
type Acker interface {
	// Ack tells the queue that the item is done: it is not delivered again.
	Ack() error
	// Retry tells the queue that the item failed for a reason that may pass (a device
	// fault, a storage timeout): the queue delivers it again later, after a delay and up to
	// a limit of its own choosing, beyond which it records the item as dead.
	Retry(reason error) error
	// Term tells the queue that the item failed for good (a corrupt file): the queue records
	// the reason and never delivers it again.
	Term(reason error) error
	// HandBack returns an item that was not processed (the run stopped before it): the
	// queue delivers it again, to this consumer or another, as soon as it can. It is not a
	// failure.
	HandBack() error
}

// Outcome is how an Ack was resolved.
type Outcome int32

// The outcomes of an Ack.
const (
	Unresolved Outcome = iota
	Acknowledged
	Retried
	Terminated
	HandedBack
)

func (o Outcome) String() string {
	switch o {
	case Acknowledged:
		return "acknowledged"
	case Retried:
		return "retried"
	case Terminated:
		return "terminated"
	case HandedBack:
		return "handed back"
	}
	return "unresolved"
}

// ErrResolved is returned by an Ack's methods once it has been resolved: the queue was
// already told, and is not told twice.
var ErrResolved = errors.New("pipeline: acknowledgement already resolved")

// Ack is the acknowledgement of one item taken from a queue. Exactly one of Done, Retry,
// Term, Fail or Release reaches the queue; the others return ErrResolved (Release returns
// nothing). It is safe for concurrent use.
type Ack struct {
	acker   Acker
	state   atomic.Int32
	mu      sync.Mutex
	failure error // the last failure a stage noted (AckMap), for Release
}

// NewAck wraps a queue's Acker. Queues used through FromQueue need not call it.
func NewAck(a Acker) *Ack { return &Ack{acker: a} }

// Outcome reports how the Ack was resolved, or Unresolved.
func (a *Ack) Outcome() Outcome { return Outcome(a.state.Load()) }

// resolve claims the Ack for outcome o and calls fn, or returns ErrResolved.
func (a *Ack) resolve(o Outcome, fn func() error) error {
	if !a.state.CompareAndSwap(int32(Unresolved), int32(o)) {
		return ErrResolved
	}
	return fn()
}

// Done acknowledges the item: it has left the last stage.
func (a *Ack) Done() error { return a.resolve(Acknowledged, a.acker.Ack) }

// Retry hands the item back as a transient failure, to be delivered again later.
func (a *Ack) Retry(reason error) error {
	return a.resolve(Retried, func() error { return a.acker.Retry(reason) })
}

// Term ends the item as a permanent failure, recorded with its reason.
func (a *Ack) Term(reason error) error {
	return a.resolve(Terminated, func() error { return a.acker.Term(reason) })
}

// Fail resolves the item as failed with err: Retry when err is marked Transient, Term
// otherwise.
func (a *Ack) Fail(err error) error {
	if IsTransient(err) {
		return a.Retry(err)
	}
	return a.Term(err)
}

// Release is what the pipeline calls for a dropped item: it resolves the Ack as failed
// with the failure a stage noted for the item (AckMap and AckEach note it when their
// function fails, so that the stage's error policy sees the item before its message is
// settled), or else hands the item back. An error from the queue is not returned: the
// message then comes back when the queue's own wait for an acknowledgement runs out.
func (a *Ack) Release() {
	a.mu.Lock()
	failure := a.failure
	a.mu.Unlock()
	if failure != nil {
		_ = a.Fail(failure)
		return
	}
	_ = a.resolve(HandedBack, a.acker.HandBack)
}

// note records the failure of a stage function on the item; nil clears it (a retry that
// went through).
func (a *Ack) note(err error) {
	a.mu.Lock()
	a.failure = err
	a.mu.Unlock()
}

// Acked is an item taken from a queue, with its acknowledgement. The pipeline releases a
// dropped Acked item as it does any item: its Value is released (see Release), and its Ack
// is resolved (see Ack.Release).
type Acked[T any] struct {
	Value T
	Ack   *Ack
}

// Release releases the value and resolves the acknowledgement of a dropped item.
func (m Acked[T]) Release() {
	Release(m.Value)
	if m.Ack != nil {
		m.Ack.Release()
	}
}

// Label is the value's label (see Labeler), so that errors name the item, not its wrapper.
func (m Acked[T]) Label() string { return itemLabel(m.Value) }

// Queue is a source of acknowledged items: a message queue's consumer.
type Queue[T any] interface {
	// Next blocks until an item is delivered and returns it with its Acker. It returns
	// io.EOF when the queue has ended (no more items will come), and ctx's error once ctx
	// is done; any other error stops the run.
	Next(ctx context.Context) (T, Acker, error)
}

// FromQueue is a source that emits the items of q with their acknowledgements until q ends
// (io.EOF) or the run does. The pipeline resolves each acknowledgement once: carry it
// through the stages in Acked items (AckMap, Batch, …) to AckEach, which acknowledges an
// item once its function has gone through; what the pipeline drops on the way is released,
// which fails the item if a stage noted a failure, and otherwise hands it back.
//
// Cost: one call of Next, one Ack allocation and one queue hand-over per item.
func FromQueue[T any](p *Pipeline, q Queue[T], opts ...Option) *Stream[Acked[T]] {
	return source(p, "queue", opts, true, func(ctx context.Context, emit func(Acked[T]) bool) error {
		for {
			v, a, err := q.Next(ctx)
			switch {
			case errors.Is(err, io.EOF):
				return nil
			case err != nil && ctx.Err() != nil:
				return nil
			case err != nil:
				return err
			}
			// An item emit cannot hand on is released by the source: handed back.
			if !emit(Acked[T]{Value: v, Ack: NewAck(a)}) {
				return nil
			}
		}
	})
}

// AckMap applies fn to the value of each item and hands on the result with the item's
// acknowledgement. When fn fails, the failure is noted on the acknowledgement before the
// stage's error policy applies: the item is then dropped, and its release resolves it as
// failed (Retry for a Transient error, Term otherwise) instead of handing it back. A
// failure caused by the run's cancellation is not noted: that item is handed back.
// Options are Map's; with Retry, only the last failure counts.
func AckMap[T, R any](in *Stream[Acked[T]], fn func(ctx context.Context, x T) (R, error), opts ...Option) *Stream[Acked[R]] {
	return Map(in, func(ctx context.Context, m Acked[T]) (Acked[R], error) {
		r, err := fn(ctx, m.Value)
		if err != nil {
			if ctx.Err() == nil {
				m.Ack.note(err)
			}
			return Acked[R]{}, err
		}
		m.Ack.note(nil)
		return Acked[R]{Value: r, Ack: m.Ack}, nil
	}, opts...)
}

// AckEach is the last stage of a pipeline that reads a queue: it calls fn for the value of
// each item and acknowledges the item (Done) once fn has returned nil, so that a message
// leaves the queue only once its work is committed. A failure of fn is noted as in AckMap.
// An error from the queue's Ack goes through the stage's error policy: the message then
// comes back when the queue's wait for an acknowledgement runs out, so fn must be
// idempotent (at-least-once delivery). Options are ForEach's.
func AckEach[T any](in *Stream[Acked[T]], fn func(ctx context.Context, x T) error, opts ...Option) {
	ForEach(in, func(ctx context.Context, m Acked[T]) error {
		if err := fn(ctx, m.Value); err != nil {
			if ctx.Err() == nil {
				m.Ack.note(err)
			}
			return err
		}
		m.Ack.note(nil)
		return m.Ack.Done()
	}, opts...)
}

// Transient marks err as a failure that may pass if the item is tried again later (a
// device fault, a storage timeout): Ack.Fail and the release of a dropped Acked item retry
// it rather than terminate it.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &transientError{err}
}

// IsTransient reports whether err, or an error it wraps, is marked Transient.
func IsTransient(err error) bool {
	var t *transientError
	return errors.As(err, &t)
}

type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }
