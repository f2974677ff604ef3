package imageio

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// Abandoning a decode. Neither Go's decoders nor libjpeg-turbo can be interrupted, so a
// Decode runs the decode on a goroutine of its own and waits for it, its context and its time
// budget together. When it stops waiting, the decode is abandoned: it goes on until it
// notices, then gives its buffers back to the pool. The Go decoders notice at their next read
// of the file, which they make through a stopReader (every 4 KiB or so); a libjpeg-turbo call
// runs to its end, which MaxScans bounds. A Decoder counts its abandoned decodes and the
// memory they hold, and makes new decodes wait while MaxAbandoned of them run.

// errAbandoned is what a stopReader returns once its decode is abandoned.
var errAbandoned = errors.New("decode abandoned")

// stopReader reads data until stop is set, then fails every read.
type stopReader struct {
	data []byte
	off  int64
	stop *atomic.Bool
}

func (r *stopReader) Read(p []byte) (int, error) {
	if r.stop.Load() {
		return 0, errAbandoned
	}
	if r.off >= int64(len(r.data)) {
		return 0, io.EOF
	}
	n := copy(p, r.data[r.off:])
	r.off += int64(n)
	return n, nil
}

// ReadAt lets the TIFF decoder read at offsets without buffering the file again.
func (r *stopReader) ReadAt(p []byte, off int64) (int, error) {
	if r.stop.Load() {
		return 0, errAbandoned
	}
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= int64(len(r.data)) {
		return 0, io.EOF
	}
	n := copy(p, r.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// task is one decode running on its own goroutine.
type task struct {
	stop atomic.Bool // set when abandoned, so that the Go decoders stop at their next read
	done chan struct{}

	mu        sync.Mutex
	finished  bool // the result is in out and err, for the caller
	abandoned bool // the caller has gone: the goroutine releases what it made
	holds     int64
	out       *Decoded
	err       error
}

// finish hands the result to the caller or, when it has gone, releases it.
func (t *task) finish(d *Decoder, out *Decoded, err error) {
	t.mu.Lock()
	if t.abandoned {
		t.mu.Unlock()
		if out != nil {
			out.Release()
		}
		d.state().remove(t.holds)
		return
	}
	t.out, t.err, t.finished = out, err, true
	t.mu.Unlock()
	close(t.done)
}

// abandon gives up waiting for the decode, which holds about holds bytes. When the decode
// has finished meanwhile, nothing is abandoned and its result is returned with ended true.
func (t *task) abandon(d *Decoder, holds int64) (out *Decoded, err error, ended bool) {
	t.stop.Store(true)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.finished {
		return t.out, t.err, true
	}
	t.abandoned, t.holds = true, holds
	d.state().add(holds)
	return nil, nil, false
}

// stateMu guards the making of every Decoder's abandonedDecodes.
var stateMu sync.Mutex

// state returns d's count of abandoned decodes, made on first use.
func (d *Decoder) state() *abandonedDecodes {
	stateMu.Lock()
	defer stateMu.Unlock()
	if d.abandoned == nil {
		d.abandoned = new(abandonedDecodes)
	}
	return d.abandoned
}

// abandonedDecodes counts a Decoder's abandoned decodes that still run. The zero value is
// ready to use.
type abandonedDecodes struct {
	mu    sync.Mutex
	n     int
	bytes int64
	freed chan struct{} // closed when one ends; nil while nobody waits
}

func (a *abandonedDecodes) add(bytes int64) {
	a.mu.Lock()
	a.n++
	a.bytes += bytes
	a.mu.Unlock()
}

func (a *abandonedDecodes) remove(bytes int64) {
	a.mu.Lock()
	a.n--
	a.bytes -= bytes
	if a.freed != nil {
		close(a.freed)
		a.freed = nil
	}
	a.mu.Unlock()
}

func (a *abandonedDecodes) get() (int, int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n, a.bytes
}

// waitBelow waits until fewer than max abandoned decodes run (at once for a negative max), or
// ctx is done.
func (a *abandonedDecodes) waitBelow(ctx context.Context, max int) error {
	for {
		a.mu.Lock()
		if max < 0 || a.n < max {
			a.mu.Unlock()
			return nil
		}
		if a.freed == nil {
			a.freed = make(chan struct{})
		}
		freed := a.freed
		a.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
