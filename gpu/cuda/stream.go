//go:build cuda

package cuda

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/gpupipe/gpupipe/gpu"
	"gorgonia.org/cu"
)

// opKind names what a stream operation does, for error reports.
type opKind uint8

const (
	opNone opKind = iota
	opHtoD
	opDtoH
	opDtoD
	opLaunch
	opRecord
	opWait
)

// op describes one stream operation. It is formatted only when an error names it.
type op struct {
	kind   opKind
	n      int    // bytes copied
	kernel string // kernel launched
}

func (o op) String() string {
	switch o.kind {
	case opHtoD:
		return fmt.Sprintf("copy host→device %d B", o.n)
	case opDtoH:
		return fmt.Sprintf("copy device→host %d B", o.n)
	case opDtoD:
		return fmt.Sprintf("copy device→device %d B", o.n)
	case opLaunch:
		return "launch " + o.kernel
	case opRecord:
		return "record event"
	case opWait:
		return "wait for event"
	}
	return "no operation"
}

// stream is a CUDA stream created with CU_STREAM_NON_BLOCKING, so that it never waits for
// the legacy default stream that other libraries in the process may use.
type stream struct {
	dev *Device
	id  int
	h   cu.Stream

	// use is held for reading while the driver uses h and for writing while Close destroys
	// it; Synchronize waits holding only use, so that others may enqueue meanwhile.
	use sync.RWMutex

	mu     sync.Mutex // guards the fields below and orders enqueues
	seq    int64
	last   op
	newest *launchMark  // the latest launch
	sticky *gpu.OpError // the first driver failure; later work is skipped
	closed bool

	// pending is the first launch not yet seen complete. It is written under mu and read
	// without it by other streams looking for the cause of a fault.
	pending atomic.Pointer[launchMark]
}

// launchMark is a launch whose completion has not been seen yet. The driver reports a fault
// in a kernel at the next synchronization of any stream, without saying which operation
// failed; an unfinished launch is the likely cause, and the error names it.
type launchMark struct {
	seq    int64
	kernel string
}

var _ gpu.Stream = (*stream)(nil)

// NewStream creates a stream.
func (d *Device) NewStream() (gpu.Stream, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	h, err := cu.MakeStream(cu.NonBlocking)
	if err != nil {
		return nil, d.fail("create stream", err)
	}
	s := &stream{dev: d, id: int(d.streams.Add(1)), h: h}
	d.track(s)
	d.running.Store(s, struct{}{})
	return s, nil
}

// enqueue numbers operation o and runs call, which enqueues it on the driver stream. e is
// the event the operation records or waits for, nil for others: it is held open until call
// returns. A stream with a sticky error skips the call. A driver error from call becomes the
// sticky error, reported by Synchronize like a fault while running: after a fault in a
// kernel the driver fails every call, so an error here says more about earlier work than
// about this call, whose arguments were checked already.
//
// Locks are taken in the order device, stream, event, everywhere in this package.
func (s *stream) enqueue(o op, e *event, call func(h cu.Stream) error) error {
	if err := s.dev.enter(); err != nil {
		return err
	}
	defer s.dev.leave()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("cuda: stream %d: %w", s.id, gpu.ErrClosed)
	}
	if e != nil {
		e.use.RLock()
		defer e.use.RUnlock()
		if e.closed {
			return fmt.Errorf("cuda: event: %w", gpu.ErrClosed)
		}
	}
	s.seq++
	s.last = o
	if o.kind == opRecord {
		e.recorded(s, s.seq, s.stickyErr())
	}
	if s.sticky != nil || call == nil {
		return nil
	}
	if err := call(s.h); err != nil {
		s.sticky = s.blame(err)
		return nil
	}
	if o.kind == opLaunch {
		s.newest = &launchMark{seq: s.seq, kernel: o.kernel}
		s.pending.CompareAndSwap(nil, s.newest)
	}
	return nil
}

// completed notes that all work up to operation upTo has completed without a fault.
func (s *stream) completed(upTo int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending.Load()
	if p == nil || p.seq > upTo {
		return
	}
	if s.newest.seq > upTo {
		// A later launch is unfinished; the newest stands in for the first of them.
		s.pending.Store(s.newest)
		return
	}
	s.pending.Store(nil)
}

// blame turns a driver failure into the stream's error, naming the likely cause: the first
// unfinished launch on this stream, else one on another stream of the device (a fault in
// a kernel breaks the whole context), else the last operation. The caller holds mu.
func (s *stream) blame(err error) *gpu.OpError {
	if p := s.pending.Load(); p != nil {
		what := "launch " + p.kernel
		if p.seq != s.seq {
			what = fmt.Sprintf("%s, or work after it up to op %d", what, s.seq)
		}
		return opError(s.id, p.seq, what, err)
	}
	if id, p := s.dev.unfinishedLaunch(s); p != nil {
		return opError(s.id, s.seq, fmt.Sprintf("%v, after launch %s (stream %d op %d)", s.last, p.kernel, id, p.seq), err)
	}
	return opError(s.id, s.seq, s.last.String(), err)
}

// fault records a failure found while waiting for the stream's work and returns the
// stream's sticky error.
func (s *stream) fault(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sticky == nil {
		s.sticky = s.blame(err)
	}
	return s.sticky
}

// stickyErr returns the sticky error as an error, nil when there is none. The caller holds mu.
func (s *stream) stickyErr() error {
	if s.sticky == nil {
		return nil
	}
	return s.sticky
}

// CopyHtoD enqueues a copy of n bytes from src[srcOff:] to dst[dstOff:].
func (s *stream) CopyHtoD(dst gpu.DeviceBuffer, dstOff int, src gpu.HostBuffer, srcOff, n int) error {
	d, err := s.dev.devBuf(dst, "destination")
	if err != nil {
		return err
	}
	h, err := s.dev.hostBuf(src, "source")
	if err != nil {
		return err
	}
	if err := ranges(dstOff, d.n, srcOff, h.n, n); err != nil {
		return err
	}
	o := op{kind: opHtoD, n: n}
	if n == 0 {
		return s.enqueue(o, nil, nil)
	}
	return s.enqueue(o, nil, func(hs cu.Stream) error {
		return cu.MemcpyHtoDAsync(d.ptr+cu.DevicePtr(dstOff), h.at(srcOff), int64(n), hs)
	})
}

// CopyDtoH enqueues a copy of n bytes from src[srcOff:] to dst[dstOff:].
func (s *stream) CopyDtoH(dst gpu.HostBuffer, dstOff int, src gpu.DeviceBuffer, srcOff, n int) error {
	h, err := s.dev.hostBuf(dst, "destination")
	if err != nil {
		return err
	}
	d, err := s.dev.devBuf(src, "source")
	if err != nil {
		return err
	}
	if err := ranges(dstOff, h.n, srcOff, d.n, n); err != nil {
		return err
	}
	o := op{kind: opDtoH, n: n}
	if n == 0 {
		return s.enqueue(o, nil, nil)
	}
	return s.enqueue(o, nil, func(hs cu.Stream) error {
		return cu.MemcpyDtoHAsync(h.at(dstOff), d.ptr+cu.DevicePtr(srcOff), int64(n), hs)
	})
}

// CopyDtoD enqueues a copy of n bytes between device buffers; the ranges must not overlap.
func (s *stream) CopyDtoD(dst gpu.DeviceBuffer, dstOff int, src gpu.DeviceBuffer, srcOff, n int) error {
	d, err := s.dev.devBuf(dst, "destination")
	if err != nil {
		return err
	}
	sb, err := s.dev.devBuf(src, "source")
	if err != nil {
		return err
	}
	if err := ranges(dstOff, d.n, srcOff, sb.n, n); err != nil {
		return err
	}
	if d == sb && n > 0 && dstOff < srcOff+n && srcOff < dstOff+n {
		return fmt.Errorf("%w: device→device copy of %d bytes from offset %d to overlapping offset %d",
			gpu.ErrOutOfRange, n, srcOff, dstOff)
	}
	o := op{kind: opDtoD, n: n}
	if n == 0 {
		return s.enqueue(o, nil, nil)
	}
	return s.enqueue(o, nil, func(hs cu.Stream) error {
		return cu.MemcpyDtoDAsync(d.ptr+cu.DevicePtr(dstOff), sb.ptr+cu.DevicePtr(srcOff), int64(n), hs)
	})
}

// ranges checks both sides of a copy of n bytes.
func ranges(dstOff, dstLen, srcOff, srcLen, n int) error {
	if err := gpu.CheckRange("destination", dstOff, n, dstLen); err != nil {
		return err
	}
	return gpu.CheckRange("source", srcOff, n, srcLen)
}

// Launch enqueues kernel k over grid×block threads. The arguments are checked against the
// kernel's spec and the launch shape against the device's and the kernel's limits before
// anything is enqueued.
func (s *stream) Launch(gk gpu.Kernel, grid, block gpu.Dim3, args ...gpu.Arg) error {
	k, ok := gk.(*kernel)
	if !ok || k == nil || k.dev != s.dev {
		return fmt.Errorf("cuda: launch of kernel %T: %w", gk, gpu.ErrForeign)
	}
	if err := k.spec.CheckArgs(args); err != nil {
		return err
	}
	lim := s.dev.lim
	lim.blockThreads = min(lim.blockThreads, k.maxThreads)
	g, b, err := shape(grid, block, lim)
	if err != nil {
		return fmt.Errorf("cuda: launch %s: %w", k.spec.Name, err)
	}
	p, err := marshalParams(args, s.dev.argAddr)
	if err != nil {
		return fmt.Errorf("cuda: launch %s: %w", k.spec.Name, err)
	}
	err = s.enqueue(op{kind: opLaunch, kernel: k.spec.Name}, nil, func(hs cu.Stream) error {
		return k.fn.Launch(g[0], g[1], g[2], b[0], b[1], b[2], 0, hs, p.ptrs)
	})
	runtime.KeepAlive(p) // the slots must outlive the driver call that copies them
	return err
}

// Record enqueues e: it completes when all work enqueued before it has completed.
func (s *stream) Record(ge gpu.Event) error {
	e, err := s.dev.event(ge)
	if err != nil {
		return err
	}
	return s.enqueue(op{kind: opRecord}, e, func(hs cu.Stream) error { return e.h.Record(hs) })
}

// Wait makes work enqueued after it wait until e completes.
func (s *stream) Wait(ge gpu.Event) error {
	e, err := s.dev.event(ge)
	if err != nil {
		return err
	}
	return s.enqueue(op{kind: opWait}, e, func(hs cu.Stream) error { return hs.Wait(e.h, 0) })
}

// Synchronize blocks until all enqueued work has completed and returns the stream's sticky
// error, if any.
func (s *stream) Synchronize() error {
	if err := s.dev.enter(); err != nil {
		return err
	}
	defer s.dev.leave()
	s.use.RLock()
	defer s.use.RUnlock()
	s.mu.Lock()
	closed, sticky, seq := s.closed, s.sticky, s.seq
	s.mu.Unlock()
	switch {
	case closed:
		return fmt.Errorf("cuda: stream %d: %w", s.id, gpu.ErrClosed)
	case sticky != nil:
		return sticky
	}
	if err := s.h.Synchronize(); err != nil {
		return s.fault(err)
	}
	s.completed(seq)
	return nil
}

// Device returns the device that created the stream.
func (s *stream) Device() gpu.Device { return s.dev }

// Close waits for enqueued work, releases the stream and returns the stream's sticky error,
// if any. Closing twice returns ErrClosed.
func (s *stream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("cuda: stream %d: %w", s.id, gpu.ErrClosed)
	}
	s.closed = true
	s.mu.Unlock()
	return s.dev.release(s)
}

// release waits for the stream's work and destroys it. The device is held and its context
// current.
func (s *stream) release() error {
	s.use.Lock()
	defer s.use.Unlock()
	s.dev.running.Delete(s)
	var err error
	if serr := s.h.Synchronize(); serr != nil {
		err = s.fault(serr)
	}
	if derr := s.h.Destroy(); derr != nil && err == nil {
		err = s.dev.fail(fmt.Sprintf("destroy stream %d", s.id), derr)
	}
	return err
}
