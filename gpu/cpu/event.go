package cpu

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
)

// event points at its most recent record; streams that Wait capture the record current at
// the time of the call, as cuStreamWaitEvent does.
type event struct {
	dev    *Device
	mu     sync.Mutex
	rec    *record // nil until recorded
	closed bool
}

// record is one Record of an event: it completes when its stream reaches it.
type record struct {
	done chan struct{} // closed on completion; err and at are set before
	err  error         // the stream's sticky error at that point
	at   time.Time
}

func (r *record) complete(err error) {
	r.err = err
	r.at = time.Now()
	close(r.done)
}

func (r *record) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

var errNotReady = errors.New("gpu: event not complete")

func (d *Device) eventOf(e gpu.Event) (*event, error) {
	ev, ok := e.(*event)
	if !ok || ev == nil || ev.dev != d {
		return nil, fmt.Errorf("%w: event", gpu.ErrForeign)
	}
	return ev, nil
}

func (e *event) set(rec *record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("%w: event", gpu.ErrClosed)
	}
	e.rec = rec
	return nil
}

func (e *event) current() (*record, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, fmt.Errorf("%w: event", gpu.ErrClosed)
	}
	return e.rec, nil
}

// Query reports whether the current record has completed, and the fault before it if any.
func (e *event) Query() (bool, error) {
	rec, err := e.current()
	if err != nil || rec == nil {
		return err == nil, err
	}
	if !rec.finished() {
		return false, nil
	}
	return true, rec.err
}

// Synchronize waits for the current record and returns the fault before it, if any.
func (e *event) Synchronize() error {
	rec, err := e.current()
	if err != nil || rec == nil {
		return err
	}
	<-rec.done
	return rec.err
}

// Elapsed is the wall time between the completions of e's and end's current records.
func (e *event) Elapsed(end gpu.Event) (time.Duration, error) {
	other, err := e.dev.eventOf(end)
	if err != nil {
		return 0, err
	}
	from, err := e.current()
	if err != nil {
		return 0, err
	}
	to, err := other.current()
	if err != nil {
		return 0, err
	}
	if from == nil || to == nil {
		return 0, fmt.Errorf("%w: Elapsed of an event never recorded", errNotReady)
	}
	if !from.finished() || !to.finished() {
		return 0, errNotReady
	}
	return to.at.Sub(from.at), nil
}

// Close releases the event. Streams waiting on one of its records still see it complete.
func (e *event) Close() error {
	if !e.markClosed() {
		return fmt.Errorf("%w: event closed twice", gpu.ErrClosed)
	}
	e.dev.forget(e)
	return nil
}

func (e *event) markClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	was := e.closed
	e.closed = true
	return !was
}
