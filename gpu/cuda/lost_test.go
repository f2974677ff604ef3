//go:build cuda

package cuda

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/gputest"
)

// After a kernel traps, a driver may refuse even to make the broken context current. The
// stream must still report its sticky *gpu.OpError naming the launch (not a plain error
// about the context), and Close must release the context so that the next Open starts
// afresh. These tests need the mock driver told to lose the context of one device
// (MOCKCUDA_LOSE_CONTEXT=<ordinal>, as scripts/gpu-mock.sh sets it), other than the device
// the other tests use: they run in the same process without disturbing them.

// lostOrdinal is the device whose context the mock driver loses after a trap; the test is
// skipped when there is none.
func lostOrdinal(t *testing.T) int {
	t.Helper()
	ordinal, err := strconv.Atoi(os.Getenv("MOCKCUDA_LOSE_CONTEXT"))
	if err != nil || ordinal < 0 {
		t.Skip("needs the mock driver with MOCKCUDA_LOSE_CONTEXT=<ordinal> (scripts/gpu-mock.sh)")
	}
	if ordinal == testOrdinal() {
		t.Skip("MOCKCUDA_LOSE_CONTEXT names the device the other tests use")
	}
	n, err := Count()
	must(t, err)
	if ordinal >= n {
		t.Skipf("MOCKCUDA_LOSE_CONTEXT=%d: the driver sees %d device(s)", ordinal, n)
	}
	must(t, registerOnce())
	must(t, gputest.RegisterKernel())
	return ordinal
}

// openLost opens the device whose context the mock loses, and skips on a real driver.
func openLost(t *testing.T, ordinal int) *Device {
	t.Helper()
	d, err := Open(ordinal)
	must(t, err)
	if !strings.HasPrefix(d.Name(), "gpupipe mock") {
		_ = d.Close()
		t.Skip("not the mock driver: a real driver decides for itself whether a broken context can be made current")
	}
	return d
}

// wantOpError fails unless err is a *gpu.OpError wrapping gpu.ErrDevice that names the
// launch that trapped.
func wantOpError(t *testing.T, what string, err error) {
	t.Helper()
	var op *gpu.OpError
	switch {
	case !errors.As(err, &op):
		t.Errorf("%s: %v, want a *gpu.OpError", what, err)
	case !errors.Is(err, gpu.ErrDevice):
		t.Errorf("%s: %v does not wrap %v", what, err, gpu.ErrDevice)
	case !strings.Contains(err.Error(), gputest.Kernel):
		t.Errorf("%s: %v does not name the launch of %s", what, err, gputest.Kernel)
	}
}

func TestLostContext(t *testing.T) {
	ordinal := lostOrdinal(t)
	d := openLost(t, ordinal)
	k, err := d.Kernel(gputest.Kernel)
	must(t, err)
	const n = 256
	x, y := allocDevice(t, d, 4*n), allocDevice(t, d, 4*n)
	h := allocHost(t, d, 4*n, Pinned)
	s, other := newStream(t, d), newStream(t, d)
	e := newEvent(t, d)
	trap := func(s gpu.Stream) error {
		return launch1D(s, k, n, gpu.Ptr(y, 0), gpu.Ptr(x, 0), gpu.Float32(1), gpu.Int32(n), gpu.Int32(1))
	}

	must(t, trap(s))
	wantOpError(t, "Synchronize of the stream that trapped", s.Synchronize())
	// The context is lost now: the device cannot enter it.
	if _, _, err := d.Memory(); !errors.Is(err, gpu.ErrDevice) || !strings.Contains(err.Error(), "make context current") {
		t.Fatalf("Memory after the trap: %v; the mock did not lose the context", err)
	}

	// Work enqueued now is skipped, and reported as the stream's sticky error.
	if err := other.CopyHtoD(x, 0, h, 0, 4*n); err != nil {
		t.Errorf("enqueue on a lost context: %v, want nil (the failure is reported by Synchronize)", err)
	}
	must(t, other.Record(e))
	wantOpError(t, "Synchronize of another stream", other.Synchronize())
	wantOpError(t, "Synchronize of an event recorded after the loss", e.Synchronize())
	if done, err := e.Query(); !done {
		t.Errorf("Query of the event: not done")
	} else {
		wantOpError(t, "Query of the event", err)
	}
	wantOpError(t, "Synchronize of the stream that trapped, again", s.Synchronize())
	wantOpError(t, "Close of the stream that trapped", s.Close())
	if err := s.Synchronize(); !errors.Is(err, gpu.ErrClosed) {
		t.Errorf("Synchronize of a closed stream: %v, want %v", err, gpu.ErrClosed)
	}

	// Close reports the failure and releases the context; the next Open starts afresh.
	if err := d.Close(); !errors.Is(err, gpu.ErrDevice) {
		t.Errorf("Close of the device: %v, want an error wrapping %v", err, gpu.ErrDevice)
	}
	d2 := openLost(t, ordinal)
	defer func() { must(t, d2.Close()) }()
	k2, err := d2.Kernel(gputest.Kernel)
	must(t, err)
	s2 := newStream(t, d2)
	x2, y2 := allocDevice(t, d2, 4*n), allocDevice(t, d2, 4*n)
	must(t, launch1D(s2, k2, n, gpu.Ptr(y2, 0), gpu.Ptr(x2, 0), gpu.Float32(1), gpu.Int32(n), gpu.Int32(0)))
	must(t, s2.Synchronize())
}

// TestLostContextConformance runs the conformance suite's fault checks on a device whose
// context the driver loses at the trap: whether each operation comes before or after the
// loss varies from run to run, and every way must give the stream's *gpu.OpError.
func TestLostContextConformance(t *testing.T) {
	ordinal := lostOrdinal(t)
	for range 3 {
		d := openLost(t, ordinal)
		t.Run("faults", func(t *testing.T) { gputest.RunFaults(t, d) })
		_ = d.Close() // the context is broken: Close reports it, and releases it
	}
}
