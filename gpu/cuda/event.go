//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"gorgonia.org/cu"
)

// event is a CUDA event with timing enabled.
type event struct {
	dev *Device
	h   cu.Event

	// use is held for reading while the driver uses h and for writing while Close
	// destroys it.
	use    sync.RWMutex
	closed bool // under use

	mu     sync.Mutex // guards the record state below; taken after use
	src    *stream    // stream of the last Record, nil before any
	seq    int64      // that Record's operation number
	failed error      // the stream's sticky error when that Record was skipped
}

var _ gpu.Event = (*event)(nil)

// NewEvent creates an event. With ScheduleBlocking its Synchronize sleeps instead of polling.
func (d *Device) NewEvent() (gpu.Event, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	flags := cu.DefaultEvent
	if d.cfg.schedule == ScheduleBlocking {
		flags = cu.BlockingSyncEvent
	}
	h, err := cu.MakeEvent(flags)
	if err != nil {
		return nil, d.fail("create event", err)
	}
	e := &event{dev: d, h: h}
	d.track(e)
	return e, nil
}

// event checks that ge is an event of this device.
func (d *Device) event(ge gpu.Event) (*event, error) {
	e, ok := ge.(*event)
	switch {
	case !ok || e == nil:
		return nil, fmt.Errorf("cuda: event %T: %w", ge, gpu.ErrForeign)
	case e.dev != d:
		return nil, fmt.Errorf("cuda: event of device %d: %w", e.dev.ordinal, gpu.ErrForeign)
	}
	return e, nil
}

// recorded notes a Record of e as operation seq of stream src. failed is the stream's
// sticky error, which makes the Record a skipped one that reports the error.
func (e *event) recorded(src *stream, seq int64, failed error) {
	e.mu.Lock()
	e.src, e.seq, e.failed = src, seq, failed
	e.mu.Unlock()
}

// hold enters the device and holds the event open. The caller calls e.let() when done.
func (e *event) hold() error {
	if err := e.dev.enter(); err != nil {
		return err
	}
	e.use.RLock()
	if e.closed {
		e.let()
		return fmt.Errorf("cuda: event: %w", gpu.ErrClosed)
	}
	return nil
}

func (e *event) let() {
	e.use.RUnlock()
	e.dev.leave()
}

// answer is what the driver said about the work before an event's last Record.
type answer struct {
	src    *stream // the recording stream, nil when the event was never recorded
	seq    int64   // the Record's operation number
	failed error   // the stream's error when the Record was skipped
	err    error   // the driver's answer
}

// ask runs call (a query or a wait) on the driver event, unless the last Record was skipped.
//
// When the driver refuses to make the context current (the device failed), that failure is
// the answer, which outcome reports through the recording stream like a fault.
func (e *event) ask(call func(h cu.Event) error) (answer, error) {
	if err := e.hold(); err != nil {
		cause := contextLost(err)
		if cause == nil {
			return answer{}, err
		}
		e.use.RLock()
		closed := e.closed
		e.use.RUnlock()
		if closed {
			return answer{}, fmt.Errorf("cuda: event: %w", gpu.ErrClosed)
		}
		e.mu.Lock()
		a := answer{src: e.src, seq: e.seq, failed: e.failed, err: cause}
		e.mu.Unlock()
		return a, nil
	}
	defer e.let()
	e.mu.Lock()
	a := answer{src: e.src, seq: e.seq, failed: e.failed}
	e.mu.Unlock()
	if a.failed == nil {
		a.err = call(e.h)
	}
	return a, nil
}

// outcome turns a finished answer into the device model's result, telling the recording
// stream of the completion or of the fault. It runs after the event is let go, so that the
// stream's lock is never taken while the event is held.
func (e *event) outcome(a answer) error {
	switch {
	case a.failed != nil:
		return a.failed
	case a.src == nil && a.err != nil:
		return e.dev.fail("wait for event", a.err)
	case a.src == nil:
		return nil
	case a.err != nil:
		return a.src.fault(a.err)
	}
	a.src.completed(a.seq)
	return nil
}

// Query reports whether the work before the last Record has completed, without blocking.
// Work that failed has completed: Query reports true with the failure.
func (e *event) Query() (bool, error) {
	a, err := e.ask(func(h cu.Event) error { return h.Query() })
	if err != nil {
		return false, err
	}
	if errors.Is(a.err, cu.NotReady) {
		return false, nil
	}
	return true, e.outcome(a)
}

// Synchronize blocks until the event completes.
func (e *event) Synchronize() error {
	a, err := e.ask(func(h cu.Event) error { return h.Synchronize() })
	if err != nil {
		return err
	}
	return e.outcome(a)
}

// Elapsed is the device time from this event to end. Both must have been recorded and have
// completed; the driver measures with a resolution of about half a microsecond.
func (e *event) Elapsed(ge gpu.Event) (time.Duration, error) {
	end, err := e.dev.event(ge)
	if err != nil {
		return 0, err
	}
	if err := e.hold(); err != nil {
		return 0, err
	}
	defer e.let()
	if end != e {
		end.use.RLock()
		defer end.use.RUnlock()
		if end.closed {
			return 0, fmt.Errorf("cuda: Elapsed: end event: %w", gpu.ErrClosed)
		}
	}
	ms, err := e.h.Elapsed(end.h)
	switch {
	case errors.Is(err, cu.NotReady):
		return 0, fmt.Errorf("cuda: Elapsed: %w: an event has not completed", gpu.ErrBadArg)
	case errors.Is(err, cu.InvalidHandle):
		return 0, fmt.Errorf("cuda: Elapsed: %w: an event was never recorded", gpu.ErrBadArg)
	case err != nil:
		return 0, e.dev.fail("measure elapsed time", err)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

// Close releases the event. Closing twice returns ErrClosed.
func (e *event) Close() error {
	e.use.Lock()
	if e.closed {
		e.use.Unlock()
		return fmt.Errorf("cuda: event: %w", gpu.ErrClosed)
	}
	e.closed = true
	e.use.Unlock()
	return e.dev.release(e)
}

// release destroys the event. The device is held and its context current.
func (e *event) release() error {
	e.use.Lock()
	defer e.use.Unlock()
	e.closed = true
	if err := cu.DestroyEvent(&e.h); err != nil {
		return e.dev.fail("destroy event", err)
	}
	return nil
}
