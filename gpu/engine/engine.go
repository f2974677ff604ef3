package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
)

// DefaultHoldLimit is how long a submitter waits for a free slot, while every slot's output
// is held by a consumer, before the engine reports a *HeldError (Options.HoldLimit 0).
const DefaultHoldLimit = time.Minute

// Options configure an Engine, and the engines of a Stage or Views stage.
type Options struct {
	// Slots is the number of batches in flight per device: 2 (the default) is double
	// buffering; 3 lets upload, kernels and download of three batches all run at once.
	Slots int
	// Reserve sizes every slot for batches up to these sizes when the engine starts, so
	// that no slot needs to grow during the run.
	Reserve gpu.Sizes
	// HoldLimit bounds how long a submitter waits for a free slot while every slot's output
	// is held by a consumer that has not called View.Release, and no View was released
	// meanwhile (by the stage's consumer, in a stage of several devices): past it, Submit
	// and Acquire return a *HeldError, and a stage stops the run with it, instead of
	// hanging. A slow consumer that keeps releasing is not held. Device
	// work does not count: a slot whose batch is still on the device always comes back. 0
	// means DefaultHoldLimit (a minute); a negative limit waits forever.
	HoldLimit time.Duration
	// Keep bounds the buffers a slot keeps between batches: a slot whose buffers (input,
	// output and scratch together) grew past Keep bytes for a batch frees them once that
	// batch is done, and grows afresh for the next, so that the memory of an outlier (one
	// huge image) is not held for the rest of the run. With Keep, a buffer that must grow
	// grows straight to a third of Keep (or what the batch needs, if more), so that a
	// slot's size is set by its first batch rather than creeping up over a long run.
	// Buffers within Keep, and those Reserve sized, are reused as ever. 0 keeps every
	// buffer and grows them by half each time.
	Keep int
}

// Engine keeps several batches in flight on one device so that host→device copies, kernels
// and device→host copies of different batches overlap. Each batch takes a slot: a stream
// with its own pinned host buffers, device buffers and events. For each batch the engine
// waits for a free slot, packs the batch into the slot's host input buffer, enqueues the
// upload, the kernels (Enqueuer.Enqueue) and the download on the slot's stream, and records
// events between the phases. Next hands finished batches back, in the order they were
// submitted, as Views of the slot's pinned output; a slot is reused only after its View has
// been released.
//
// One goroutine submits (Submit, or Acquire and Lease.Submit) while another takes results
// (Next); Stage and Views wire both into a pipeline, for one device or several. The Engine
// starts no goroutines of its own.
type Engine[B any] struct {
	dev       gpu.Device
	work      Enqueuer[B]
	holdLimit time.Duration // ≤ 0: none
	keep      int           // see Options.Keep; 0: keep everything
	slots     []*slot
	free      chan *slot     // idle slots
	inflight  chan flight[B] // submitted batches, in submission order
	stop      chan struct{}  // closed when the engine stops taking batches
	next      atomic.Int64   // numbers batches as they are offered
	stats     counters

	// sendMu orders submissions: a batch's place in inflight is its place in the output.
	sendMu     sync.Mutex
	finished   bool      // no more batches: inflight is closed
	lastUpload gpu.Event // the event after the previous batch's upload

	mu           sync.Mutex
	closed       bool      // Close has run
	err          error     // the device fault that broke the engine
	held         int       // slots whose View is out and not released
	allHeldSince time.Time // when held last reached len(slots)

	// released is when a View was last released (Unix nanoseconds), by this engine's
	// consumer or, in a stage of several devices, by the stage's: one counter shared by the
	// stage's engines. A consumer that releases now and then is slow, not holding the ring.
	released *atomic.Int64

	// drop, when set, is given every batch the engine drops: submitted but never handed
	// back by Next (a device fault, or Close with batches in flight). The stages set it to
	// the pipeline's release, so that a dropped batch is released once.
	drop func(B)

	// reuseEarly recycles each slot as soon as its work is enqueued, without waiting for
	// its event or its consumer: a deliberate bug, set only by the test that proves the
	// correctness check catches it.
	reuseEarly bool
}

// flight is a batch submitted to a slot, waiting to be handed back by Next.
type flight[B any] struct {
	s     *slot
	seq   int64
	batch B
	sizes gpu.Sizes
	since time.Time // when its slot was acquired
}

// New creates an engine and its slots' streams and events on dev. Slot buffers are
// allocated when a batch first needs them (or now, for opts.Reserve) and grow when a batch
// does not fit; they are never allocated per batch. Close releases everything.
func New[B any](dev gpu.Device, work Enqueuer[B], opts Options) (*Engine[B], error) {
	if dev == nil || work == nil {
		return nil, errors.New("engine: New needs a device and a work")
	}
	n := opts.Slots
	if n == 0 {
		n = 2
	}
	if n < 0 {
		return nil, fmt.Errorf("engine: New: %d slots", n)
	}
	if err := checkSizes(opts.Reserve); err != nil {
		return nil, fmt.Errorf("engine: New: Reserve: %w", err)
	}
	e := &Engine[B]{
		dev:       dev,
		work:      work,
		holdLimit: holdLimit(opts.HoldLimit),
		keep:      keepLimit(opts),
		free:      make(chan *slot, n),
		inflight:  make(chan flight[B], n),
		stop:      make(chan struct{}),
		released:  new(atomic.Int64),
	}
	for i := range n {
		s, err := newSlot(dev, i)
		if err == nil {
			e.slots = append(e.slots, s)
			err = e.grow(s, opts.Reserve)
		}
		if err != nil {
			_ = e.Close()
			return nil, fmt.Errorf("engine: New: slot %d: %w", i, err)
		}
		e.free <- s
	}
	return e, nil
}

// keepLimit is what a slot keeps between batches: at least what Reserve sized.
func keepLimit(o Options) int {
	if o.Keep <= 0 {
		return 0
	}
	return max(o.Keep, o.Reserve.In+o.Reserve.Out+o.Reserve.Scratch)
}

func holdLimit(d time.Duration) time.Duration {
	if d == 0 {
		return DefaultHoldLimit
	}
	return d
}

// Device is the device the engine runs on.
func (e *Engine[B]) Device() gpu.Device { return e.dev }

// Submit packs b into a free slot, waiting for one, and enqueues its upload, kernels and
// download. Errors that concern b alone are *BatchError values; after a device fault the
// engine takes no more batches and Submit returns that fault. A *HeldError says that every
// slot stayed held by the consumer for longer than Options.HoldLimit.
func (e *Engine[B]) Submit(ctx context.Context, b B) error {
	seq := e.next.Add(1) - 1
	sizes, err := protect(func() (gpu.Sizes, error) { return e.work.Sizes(b) })
	if err == nil {
		err = checkSizes(sizes)
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
// (Lease.Input) instead of having Enqueuer.Pack copy it there. The lease must end with
// Lease.Submit or Lease.Abandon.
func (e *Engine[B]) Acquire(ctx context.Context, sizes gpu.Sizes) (*Lease[B], error) {
	seq := e.next.Add(1) - 1
	if err := checkSizes(sizes); err != nil {
		return nil, &BatchError{Seq: seq, Op: "sizes", Err: err}
	}
	l, err := e.acquire(ctx, seq, sizes)
	if err != nil {
		var none B
		return nil, e.acquireError(seq, none, err)
	}
	return l, nil
}

// acquireError names the batch in allocation failures; cancellation, a stopped engine and a
// held ring are not the batch's fault and pass through.
func (e *Engine[B]) acquireError(seq int64, b B, err error) error {
	var ae *allocError
	if errors.As(err, &ae) {
		return batchError(seq, b, "allocate", ae.err)
	}
	return err
}

func (e *Engine[B]) acquire(ctx context.Context, seq int64, sizes gpu.Sizes) (*Lease[B], error) {
	start := time.Now()
	var s *slot
	select {
	case s = <-e.free:
	default:
		var err error
		if s, err = e.waitFree(ctx, start); err != nil {
			return nil, err
		}
	}
	waited := time.Since(start)
	if err := e.grow(s, sizes); err != nil {
		e.free <- s
		return nil, &allocError{err}
	}
	e.stats.acquired(s.index, waited)
	return &Lease[B]{e: e, s: s, seq: seq, sizes: sizes, since: time.Now()}, nil
}

// waitFree waits for a free slot. While it waits, a timer checks now and then whether every
// slot has been held by the consumer for longer than the hold limit.
func (e *Engine[B]) waitFree(ctx context.Context, start time.Time) (*slot, error) {
	var timer *time.Timer
	var timeout <-chan time.Time // nil, which never fires, without a hold limit
	if e.holdLimit > 0 {
		timer = time.NewTimer(e.holdLimit)
		defer timer.Stop()
		timeout = timer.C
	}
	for {
		select {
		case s := <-e.free:
			return s, nil
		case <-e.stop:
			return nil, e.stopped()
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timeout:
			next, err := e.heldCheck(start)
			if err != nil {
				return nil, err
			}
			timer.Reset(next)
		}
	}
}

// heldCheck returns a *HeldError when every slot has been held, while the submitter waited,
// for at least the hold limit; otherwise how long to wait before checking again. While not
// every slot is held, the limit cannot be reached sooner than a full limit from now.
func (e *Engine[B]) heldCheck(start time.Time) (time.Duration, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	if e.held < len(e.slots) || len(e.slots) == 0 {
		return e.holdLimit, nil
	}
	since := start
	if e.allHeldSince.After(since) {
		since = e.allHeldSince
	}
	if last := e.released.Load(); last != 0 {
		if t := time.Unix(0, last); t.After(since) {
			since = t
		}
	}
	if left := e.holdLimit - now.Sub(since); left > 0 {
		return left, nil
	}
	return 0, &HeldError{Device: e.dev.Name(), Slots: len(e.slots), Waited: now.Sub(start)}
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
	return ErrClosed
}

// Lease is a slot held by a producer between Engine.Acquire and Submit or Abandon.
type Lease[B any] struct {
	e     *Engine[B]
	s     *slot
	seq   int64
	sizes gpu.Sizes
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

// Submit enqueues the upload of Input, b's kernels and the download on the slot's stream.
// The lease ends whether or not it succeeds.
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
		return batchError(l.seq, b, "enqueue", ErrClosed)
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
func (e *Engine[B]) enqueue(s *slot, b B, sizes gpu.Sizes) error {
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

// Next waits for the oldest batch in flight to finish and hands it over as a View of the
// slot's pinned output, which the caller must Release. It returns io.EOF after Finish once
// every batch has been handed back, and a *BatchError naming the batch and the operation
// when the device failed; after such a fault the engine is stopped.
func (e *Engine[B]) Next(ctx context.Context) (*View[B], error) {
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
		err = e.fail(batchError(f.seq, f.batch, "device", err), f.s)
		e.dropBatch(f.batch)
		return nil, err
	}
	e.stats.finished(f.s, f.sizes, f.since)
	e.mu.Lock()
	f.s.held = true
	if e.held++; e.held == len(e.slots) {
		e.allHeldSince = time.Now()
	}
	e.mu.Unlock()
	return &View[B]{Batch: f.batch, Seq: f.seq, Out: f.s.output(f.sizes.Out), e: e, s: f.s}, nil
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

// dropBatch hands a batch the engine will not hand back to the drop hook, if any.
func (e *Engine[B]) dropBatch(b B) {
	if e.drop != nil {
		e.drop(b)
	}
}

func (e *Engine[B]) release(s *slot) {
	e.released.Store(time.Now().UnixNano())
	e.mu.Lock()
	defer e.mu.Unlock()
	s.held = false
	e.held--
	switch {
	case e.reuseEarly:
		// Already recycled when submitted.
	case e.closed:
		_ = s.freeOutput()
	default:
		if e.keep > 0 && s.caps.In+s.caps.Out+s.caps.Scratch > e.keep {
			// Idle now: its events are done and its output released.
			_ = s.dropBuffers()
			e.stats.shrank(s.index)
		}
		e.free <- s
	}
}

// Close waits for the device work still in flight, then frees every slot's buffers, streams
// and events. Call it once Submit, Acquire and Next have returned and every lease has ended.
// Batches submitted but not yet handed back are dropped. The output buffer of a View handed
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
	for f := range e.inflight {
		e.dropBatch(f.batch)
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
func (e *Engine[B]) Stats() Stats { return e.stats.snapshot(len(e.slots)) }

// View is a finished batch as Engine.Next and the Views stage hand it over: the batch, its
// number, and its output in place, in the slot's pinned host buffer, with nothing copied.
// The slot stays out of use until Release: call it once done with Out, and copy what must
// outlive it. A consumer that holds every slot's View stops the engine (see
// Options.HoldLimit).
type View[B any] struct {
	Batch B
	Seq   int64  // the batch's number, from 0, in the order batches were offered
	Out   []byte // Sizes.Out bytes of output; do not use after Release

	e        *Engine[B]
	s        *slot
	released atomic.Bool
}

// Release gives the batch's slot back to its engine. Calling it again does nothing. It is
// safe to call from any goroutine, also after the stage or the engine has ended.
func (v *View[B]) Release() {
	if v == nil || v.e == nil || !v.released.CompareAndSwap(false, true) {
		return
	}
	v.Out = nil
	v.e.release(v.s)
}

// Float32s views Out as float32 values (see gpu.Float32s), valid until Release.
func (v *View[B]) Float32s() ([]float32, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	return gpu.Float32s(v.Out)
}

// Int32s views Out as int32 values (see gpu.Int32s), valid until Release.
func (v *View[B]) Int32s() ([]int32, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	return gpu.Int32s(v.Out)
}

func (v *View[B]) check() error {
	if v.released.Load() {
		return fmt.Errorf("engine: %s: output viewed after View.Release", v.Label())
	}
	return nil
}

// Label names the batch in errors: the batch's own Label when it has one, else its number.
func (v *View[B]) Label() string {
	if l := labelOf(v.Batch); l != "" {
		return l
	}
	return fmt.Sprintf("batch %d", v.Seq)
}

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

func checkSizes(s gpu.Sizes) error {
	if s.In < 0 || s.Out < 0 || s.Scratch < 0 {
		return fmt.Errorf("negative sizes %+v", s)
	}
	return nil
}
