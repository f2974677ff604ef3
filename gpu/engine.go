package gpu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Engine keeps several batches in flight on a device so that host→device copies, kernels
// and device→host copies of different batches overlap. Each batch takes a slot: a stream
// with its own pinned host buffers, device buffers and events. For each batch the engine
// waits for a free slot, packs the batch into the slot's host input buffer, enqueues the
// upload, the kernel chain (Work.Enqueue) and the download on the slot's stream, and records
// an event. Next hands finished batches back in the order they were submitted; a slot is
// reused only after its consumer has called Done.Release.
//
// With two slots (double buffering) batch i+1 uploads while batch i computes; with three,
// upload, compute and download of three batches can all run at once. A batch holds its slot
// from its upload to its release, so S slots carry at most S batches per upload+kernel+
// download time: when the three phases take about as long, two slots reach 2/3 of what the
// engines allow and three slots reach it all (bench/overlap measures both).
//
// One goroutine submits (Submit, or Acquire and Lease.Submit) while another takes results
// (Next); Stage wires both into a pipeline. The Engine starts no goroutines of its own.
type Engine[B any] struct {
	dev      Device
	work     Work[B]
	slots    []*slot
	free     chan *slot     // idle slots
	inflight chan flight[B] // submitted batches, in submission order
	stop     chan struct{}  // closed when the engine stops taking batches
	next     atomic.Int64   // numbers batches as they are offered
	stats    engineCounters

	// sendMu orders submissions: a batch's place in inflight is its place in the output.
	sendMu     sync.Mutex
	finished   bool  // no more batches: inflight is closed
	lastUpload Event // the event after the previous batch's upload

	mu     sync.Mutex
	closed bool  // Close has run
	err    error // the device fault that broke the engine

	// reuseEarly recycles each slot as soon as its work is enqueued, without waiting for
	// its event or its consumer: a deliberate bug, set only by the test that proves the
	// correctness check catches it.
	reuseEarly bool
}

// EngineOptions configure an Engine.
type EngineOptions struct {
	// Slots is the number of batches in flight: 2 (the default) is double buffering.
	Slots int
	// Reserve sizes every slot for batches up to these sizes when the engine starts, so
	// that no slot needs to grow during the run.
	Reserve Sizes
}

// flight is a batch submitted to a slot, waiting to be handed back by Next.
type flight[B any] struct {
	s     *slot
	seq   int64
	batch B
	sizes Sizes
	since time.Time // when its slot was acquired
}

// Done is a finished batch. Out is the batch's output: a view of the slot's pinned host
// buffer, valid until Release. The consumer must call Release once it is done with Out: the
// engine waits for released slots before it takes further batches.
type Done[B any] struct {
	Batch B
	Seq   int64  // the batch's number, from 0, in the order batches were offered
	Out   []byte // Sizes.Out bytes of output; do not use after Release

	e        *Engine[B]
	s        *slot
	released atomic.Bool
}

// Release gives the batch's slot back to the engine. Calling it again does nothing.
func (d *Done[B]) Release() {
	if d == nil || d.e == nil || !d.released.CompareAndSwap(false, true) {
		return
	}
	d.Out = nil
	d.e.release(d.s)
}

// Label names the batch in errors: the batch's own Label when it has one, else its number.
func (d *Done[B]) Label() string {
	if l := labelOf(d.Batch); l != "" {
		return l
	}
	return fmt.Sprintf("batch %d", d.Seq)
}

// BatchError is the failure of one batch: which batch, and at which step.
type BatchError struct {
	Seq   int64  // the batch's number, from 0, in the order batches were offered
	Label string // the batch's Label(), when it has one
	Op    string // "sizes", "allocate", "pack", "enqueue" or "device"
	Err   error
}

func (e *BatchError) Error() string {
	name := fmt.Sprintf("batch %d", e.Seq)
	if e.Label != "" {
		name += " (" + e.Label + ")"
	}
	return fmt.Sprintf("gpu: %s: %s: %v", name, e.Op, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }

// ErrEngineClosed is returned by an Engine that no longer takes batches.
var ErrEngineClosed = errors.New("gpu: engine closed")

// NewEngine creates an engine and its slots' streams and events on dev. Slot buffers are
// allocated when a batch first needs them (or now, for opts.Reserve) and grow when a batch
// does not fit; they are never allocated per batch. Close releases everything.
func NewEngine[B any](dev Device, work Work[B], opts EngineOptions) (*Engine[B], error) {
	if dev == nil || work == nil {
		return nil, errors.New("gpu: NewEngine needs a device and a Work")
	}
	n := opts.Slots
	if n == 0 {
		n = 2
	}
	if n < 0 {
		return nil, fmt.Errorf("gpu: NewEngine: %d slots", n)
	}
	if err := opts.Reserve.check(); err != nil {
		return nil, fmt.Errorf("gpu: NewEngine: Reserve: %w", err)
	}
	e := &Engine[B]{
		dev:      dev,
		work:     work,
		free:     make(chan *slot, n),
		inflight: make(chan flight[B], n),
		stop:     make(chan struct{}),
	}
	for i := range n {
		s, err := newSlot(dev, i)
		if err == nil {
			e.slots = append(e.slots, s)
			err = e.grow(s, opts.Reserve)
		}
		if err != nil {
			_ = e.Close()
			return nil, fmt.Errorf("gpu: NewEngine: slot %d: %w", i, err)
		}
		e.free <- s
	}
	return e, nil
}

// Submit packs b into a free slot, waiting for one, and enqueues its upload, kernels and
// download. Errors that concern b alone are *BatchError values; after a device fault the
// engine takes no more batches and Submit returns that fault.
func (e *Engine[B]) Submit(ctx context.Context, b B) error {
	seq := e.next.Add(1) - 1
	sizes, err := protect(func() (Sizes, error) { return e.work.Sizes(b) })
	if err == nil {
		err = sizes.check()
	}
	if err != nil {
		return batchError(seq, b, "sizes", err)
	}
	l, err := e.acquire(ctx, seq, sizes)
	if err != nil {
		return e.acquireError(seq, b, err)
	}
	if _, err := protect(func() (struct{}, error) { return struct{}{}, e.work.Pack(b, l.Input()) }); err != nil {
		l.Abandon()
		return batchError(seq, b, "pack", err)
	}
	return l.Submit(b)
}

// Acquire waits for a free slot and sizes it for a batch of the given sizes, for a
// producer that writes the batch's input straight into the slot's pinned host buffer
// (Lease.Input) instead of having Work.Pack copy it there. The lease must end with
// Lease.Submit or Lease.Abandon.
func (e *Engine[B]) Acquire(ctx context.Context, sizes Sizes) (*Lease[B], error) {
	seq := e.next.Add(1) - 1
	if err := sizes.check(); err != nil {
		return nil, &BatchError{Seq: seq, Op: "sizes", Err: err}
	}
	l, err := e.acquire(ctx, seq, sizes)
	if err != nil {
		var none B
		return nil, e.acquireError(seq, none, err)
	}
	return l, nil
}

// acquireError names the batch in allocation failures; cancellation and a stopped engine
// are not the batch's fault and pass through.
func (e *Engine[B]) acquireError(seq int64, b B, err error) error {
	var ae *allocError
	if errors.As(err, &ae) {
		return batchError(seq, b, "allocate", ae.err)
	}
	return err
}

func (e *Engine[B]) acquire(ctx context.Context, seq int64, sizes Sizes) (*Lease[B], error) {
	start := time.Now()
	var s *slot
	select {
	case s = <-e.free:
	case <-e.stop:
		return nil, e.stopped()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	waited := time.Since(start)
	if err := e.grow(s, sizes); err != nil {
		e.free <- s
		return nil, &allocError{err}
	}
	e.stats.acquired(s.index, waited)
	return &Lease[B]{e: e, s: s, seq: seq, sizes: sizes, since: time.Now()}, nil
}

type allocError struct{ err error }

func (a *allocError) Error() string { return a.err.Error() }

// stopped is the error for a caller that finds the engine no longer taking batches.
func (e *Engine[B]) stopped() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return e.err
	}
	return ErrEngineClosed
}

// Lease is a slot held by a producer between Engine.Acquire and Submit or Abandon.
type Lease[B any] struct {
	e     *Engine[B]
	s     *slot
	seq   int64
	sizes Sizes
	since time.Time
	ended bool
}

// Input is the slot's pinned host input buffer, exactly Sizes.In bytes long. Write the
// batch's input here before Submit.
func (l *Lease[B]) Input() []byte { return l.s.input(l.sizes.In) }

// Seq is the number the batch will carry.
func (l *Lease[B]) Seq() int64 { return l.seq }

// Abandon gives the slot back unused.
func (l *Lease[B]) Abandon() {
	if l.ended {
		return
	}
	l.ended = true
	l.e.free <- l.s
}

// Submit enqueues the upload of Input, b's kernel chain and the download on the slot's
// stream. The lease ends whether or not it succeeds.
func (l *Lease[B]) Submit(b B) error {
	if l.ended {
		return batchError(l.seq, b, "enqueue", errors.New("lease already ended"))
	}
	l.ended = true
	e, s := l.e, l.s
	e.sendMu.Lock()
	defer e.sendMu.Unlock()
	if e.finished {
		e.free <- s
		return batchError(l.seq, b, "enqueue", ErrEngineClosed)
	}
	if err := e.enqueue(s, b, l.sizes); err != nil {
		// The stream may hold part of the batch's work: let it finish before the slot
		// is reused.
		if serr := s.stream.Synchronize(); serr != nil {
			return e.fail(batchError(l.seq, b, "device", serr), s)
		}
		e.free <- s
		return batchError(l.seq, b, "enqueue", err)
	}
	e.lastUpload = s.events[evUploaded]
	// Never blocks: a batch in inflight holds one of the slots, and there are as many
	// places as slots.
	e.inflight <- flight[B]{s: s, seq: l.seq, batch: b, sizes: l.sizes, since: l.since}
	if e.reuseEarly {
		e.free <- s
	}
	return nil
}

// enqueue puts one batch's work on its slot's stream, with an event at each phase
// boundary: the events time the phases and the last one says when the slot is done.
//
// The upload first waits for the previous batch's upload, on whatever slot it is. Batches
// come back in order, so a batch that overtook its predecessor on the copy engine would
// only finish early to wait for it, holding its slot idle; when two slots come free
// together (the consumer releases in order), which one's upload starts first would be a
// race between streams. Uploads share one engine anyway, so ordering them costs nothing.
func (e *Engine[B]) enqueue(s *slot, b B, sizes Sizes) error {
	st := s.stream
	if e.lastUpload != nil && e.lastUpload != s.events[evUploaded] {
		if err := st.Wait(e.lastUpload); err != nil {
			return err
		}
	}
	if err := st.Record(s.events[evStart]); err != nil {
		return err
	}
	if sizes.In > 0 {
		if err := st.CopyHtoD(s.bufs.In, 0, s.hostIn, 0, sizes.In); err != nil {
			return err
		}
	}
	if err := st.Record(s.events[evUploaded]); err != nil {
		return err
	}
	if _, err := protect(func() (struct{}, error) { return struct{}{}, e.work.Enqueue(st, b, s.bufs) }); err != nil {
		return err
	}
	if err := st.Record(s.events[evComputed]); err != nil {
		return err
	}
	if sizes.Out > 0 {
		if err := st.CopyDtoH(s.hostOut, 0, s.bufs.Out, 0, sizes.Out); err != nil {
			return err
		}
	}
	return st.Record(s.events[evDone])
}

// Finish says no more batches will be submitted: Next returns io.EOF once it has handed
// back every batch submitted before.
func (e *Engine[B]) Finish() {
	e.sendMu.Lock()
	defer e.sendMu.Unlock()
	if !e.finished {
		e.finished = true
		close(e.inflight)
	}
}

// Next waits for the oldest batch in flight to finish and hands it over. It returns io.EOF
// after Finish once every batch has been handed back, and a *BatchError naming the batch
// and the operation when the device failed; after such a fault the engine is stopped.
func (e *Engine[B]) Next(ctx context.Context) (*Done[B], error) {
	var f flight[B]
	select {
	case fl, ok := <-e.inflight:
		if !ok {
			return nil, io.EOF
		}
		f = fl
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Device work always ends, so this wait is bounded even when ctx is cancelled.
	if err := f.s.events[evDone].Synchronize(); err != nil {
		return nil, e.fail(batchError(f.seq, f.batch, "device", err), f.s)
	}
	e.stats.finished(f.s, f.sizes, f.since)
	e.mu.Lock()
	f.s.held = true
	e.mu.Unlock()
	return &Done[B]{Batch: f.batch, Seq: f.seq, Out: f.s.output(f.sizes.Out), e: e, s: f.s}, nil
}

// fail records a device fault: the slot's stream is poisoned, so the slot is never reused,
// and the engine stops taking batches.
func (e *Engine[B]) fail(err error, s *slot) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s.dead = true
	if e.err == nil {
		e.err = err
		close(e.stop)
	}
	return err
}

func (e *Engine[B]) release(s *slot) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s.held = false
	switch {
	case e.reuseEarly:
		// Already recycled when submitted.
	case e.closed:
		_ = s.freeOutput()
	default:
		e.free <- s
	}
}

// Close waits for the device work still in flight, then frees every slot's buffers, streams
// and events. Call it once Submit, Acquire and Next have returned and every lease has ended.
// Batches submitted but not yet handed back are dropped. The output buffer of a batch handed
// back but not yet released stays valid until its Release, which frees it.
func (e *Engine[B]) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	if e.err == nil {
		close(e.stop)
	}
	e.mu.Unlock()
	e.Finish()

	// Nothing may be freed while a stream could still read or write it.
	for _, s := range e.slots {
		_ = s.stream.Synchronize()
	}
	for range e.inflight {
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, s := range e.slots {
		errs = append(errs, s.freeDevice())
		if !s.held {
			errs = append(errs, s.freeOutput())
		}
	}
	return errors.Join(errs...)
}

// Stats reports the engine's work so far. It is safe to call at any time.
func (e *Engine[B]) Stats() EngineStats { return e.stats.snapshot(e.slots) }

func batchError[B any](seq int64, b B, op string, err error) error {
	return &BatchError{Seq: seq, Label: labelOf(b), Op: op, Err: err}
}

// labelOf is b's Label() when it has one; a Label that panics (a nil pointer) gives "".
func labelOf(b any) (label string) {
	l, ok := b.(interface{ Label() string })
	if !ok {
		return ""
	}
	defer func() {
		if recover() != nil {
			label = ""
		}
	}()
	return l.Label()
}

// protect calls fn, turning a panic into an error: a Work that panics on one bad batch
// fails that batch, not the process.
func protect[T any](fn func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn()
}

func (s Sizes) check() error {
	if s.In < 0 || s.Out < 0 || s.Scratch < 0 {
		return fmt.Errorf("negative sizes %+v", s)
	}
	return nil
}
