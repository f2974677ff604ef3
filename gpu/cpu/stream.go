package cpu

import (
	"fmt"
	"sync"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/internal/devkit"
)

// stream is an in-order queue of operations run by its own goroutine.
type stream struct {
	dev    *Device
	id     int
	wake   chan struct{} // a token: the queue or closed changed
	exited chan struct{} // closed when the goroutine has returned

	mu     sync.Mutex
	queue  []op
	seq    int64
	closed bool

	// err is the sticky error. Only the stream's goroutine touches it.
	err error
}

// op is one queued operation: device work (run, described by info), an event record (rec
// set, wait false) or a wait for another stream's record (wait true).
type op struct {
	info OpInfo
	run  func(OpInfo) error
	rec  *record
	wait bool
	sync bool // a Synchronize marker, which is not counted as an operation
}

func newStream(d *Device, id int) *stream {
	s := &stream{dev: d, id: id, wake: make(chan struct{}, 1), exited: make(chan struct{})}
	go s.loop()
	return s
}

func (s *stream) loop() {
	defer close(s.exited)
	for {
		o, ok := s.next()
		if !ok {
			return
		}
		s.exec(o)
	}
}

// next takes the first queued operation, waiting for one; false once the stream is closed
// and drained.
func (s *stream) next() (op, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) == 0 {
		if s.closed {
			return op{}, false
		}
		s.mu.Unlock()
		<-s.wake
		s.mu.Lock()
	}
	o := s.queue[0]
	s.queue[0] = op{}
	s.queue = s.queue[1:]
	return o, true
}

func (s *stream) exec(o op) {
	switch {
	case o.wait:
		s.waitFor(o)
	case o.rec != nil:
		o.rec.complete(s.err)
	case s.err != nil:
		// A stream that has faulted skips all later work, as a CUDA context does.
	default:
		s.dev.delay()
		info, err := s.dev.start(o.info)
		if err == nil {
			err = o.run(info)
		}
		if err != nil {
			s.err = &gpu.OpError{Stream: s.id, Seq: o.info.Seq, Op: o.info.Op, Err: err}
		}
	}
}

// waitFor blocks the stream until another stream reaches the record; a fault before that
// record also stops this stream, since the work after the wait depends on what failed.
func (s *stream) waitFor(o op) {
	if o.rec == nil {
		return
	}
	<-o.rec.done
	if o.rec.err != nil && s.err == nil {
		s.err = &gpu.OpError{Stream: s.id, Seq: o.info.Seq, Op: o.info.Op, Err: o.rec.err}
	}
}

// Device is the device that created the stream.
func (s *stream) Device() gpu.Device { return s.dev }

func (s *stream) enqueue(o op) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enqueueLocked(o)
}

func (s *stream) enqueueLocked(o op) error {
	if s.closed {
		return fmt.Errorf("%w: stream %d", gpu.ErrClosed, s.id)
	}
	if !o.sync {
		s.seq++
	}
	o.info.Seq = s.seq
	o.info.Stream = s.id
	s.queue = append(s.queue, o)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// CopyHtoD enqueues a host→device copy on the host→device engine.
func (s *stream) CopyHtoD(dst gpu.DeviceBuffer, dstOff int, src gpu.HostBuffer, srcOff, n int) error {
	db, err := s.dev.devOf("copy destination", dst)
	if err != nil {
		return err
	}
	hb, err := s.dev.hostOf("copy source", src)
	if err != nil {
		return err
	}
	t := s.dev.cfg.timing
	return s.enqueueCopy(OpCopyHtoD, s.dev.h2d, t.copyTime(n, t.H2DBytesPerSec), &db.memory, dstOff, &hb.memory, srcOff, n)
}

// CopyDtoH enqueues a device→host copy on the device→host engine.
func (s *stream) CopyDtoH(dst gpu.HostBuffer, dstOff int, src gpu.DeviceBuffer, srcOff, n int) error {
	hb, err := s.dev.hostOf("copy destination", dst)
	if err != nil {
		return err
	}
	db, err := s.dev.devOf("copy source", src)
	if err != nil {
		return err
	}
	t := s.dev.cfg.timing
	return s.enqueueCopy(OpCopyDtoH, s.dev.d2h, t.copyTime(n, t.D2HBytesPerSec), &hb.memory, dstOff, &db.memory, srcOff, n)
}

// CopyDtoD enqueues a device→device copy on the compute engine.
func (s *stream) CopyDtoD(dst gpu.DeviceBuffer, dstOff int, src gpu.DeviceBuffer, srcOff, n int) error {
	dd, err := s.dev.devOf("copy destination", dst)
	if err != nil {
		return err
	}
	sd, err := s.dev.devOf("copy source", src)
	if err != nil {
		return err
	}
	if dd == sd && dstOff < srcOff+n && srcOff < dstOff+n && n > 0 {
		return fmt.Errorf("%w: device→device copy [%d, +%d) onto [%d, +%d) of the same buffer overlaps",
			gpu.ErrOutOfRange, srcOff, n, dstOff, n)
	}
	t := s.dev.cfg.timing
	return s.enqueueCopy(OpCopyDtoD, s.dev.compute, t.copyTime(n, t.D2DBytesPerSec), &dd.memory, dstOff, &sd.memory, srcOff, n)
}

// enqueueCopy checks the ranges and enqueues a copy that fetches both buffers' memory when
// the stream reaches it.
func (s *stream) enqueueCopy(kind OpKind, eng *engine, model time.Duration, dst *memory, dstOff int, src *memory, srcOff, n int) error {
	if err := devkit.CheckRange("copy destination", dstOff, n, dst.size); err != nil {
		return err
	}
	if err := devkit.CheckRange("copy source", srcOff, n, src.size); err != nil {
		return err
	}
	desc := fmt.Sprintf("%v %d B", kind, n)
	info := OpInfo{Kind: kind, Op: desc, Bytes: n}
	run := func(info OpInfo) error {
		to, err := dst.bytes("copy destination")
		if err != nil {
			return err
		}
		from, err := src.bytes("copy source")
		if err != nil {
			return err
		}
		return eng.run(info, model, s.dev.cfg.trace, func() error {
			if n > 0 && &to[dstOff] == &from[srcOff] {
				return nil // a mapped buffer and its host buffer: the same bytes
			}
			copy(to[dstOff:dstOff+n], from[srcOff:srcOff+n])
			return nil
		})
	}
	return s.enqueue(op{info: info, run: run})
}

// Record enqueues e's completion at the current end of the stream.
func (s *stream) Record(e gpu.Event) error {
	ev, err := s.dev.eventOf(e)
	if err != nil {
		return err
	}
	rec := &record{done: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enqueueLocked(op{info: OpInfo{Op: "record event"}, rec: rec}); err != nil {
		return err
	}
	// Set under the stream's lock, so that records of one event on one stream become the
	// event's current record in stream order.
	return ev.set(rec)
}

// Wait makes the stream wait for e's current record; an event never recorded is complete.
func (s *stream) Wait(e gpu.Event) error {
	ev, err := s.dev.eventOf(e)
	if err != nil {
		return err
	}
	rec, err := ev.current()
	if err != nil {
		return err
	}
	return s.enqueue(op{info: OpInfo{Op: "wait for event"}, rec: rec, wait: true})
}

// Synchronize waits for everything enqueued so far and returns the sticky error.
func (s *stream) Synchronize() error {
	rec := &record{done: make(chan struct{})}
	if err := s.enqueue(op{info: OpInfo{Op: "synchronize"}, rec: rec, sync: true}); err != nil {
		return err
	}
	<-rec.done
	return rec.err
}

// Close waits for the enqueued work and stops the stream's goroutine.
func (s *stream) Close() error {
	if !s.markClosed() {
		return fmt.Errorf("%w: stream %d closed twice", gpu.ErrClosed, s.id)
	}
	<-s.exited
	s.dev.forget(s)
	return nil
}

// shutdown is Close for the device: it does not mind a stream already closed.
func (s *stream) shutdown() {
	s.markClosed()
	<-s.exited
}

func (s *stream) markClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.closed = true
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}
