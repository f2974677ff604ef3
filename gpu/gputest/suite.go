package gputest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu"
)

// Run checks that dev behaves as package gpu documents. It leaves dev open and usable; the
// buffers, streams and events it creates are released when each subtest ends.
func Run(t *testing.T, dev gpu.Device) {
	must(t, RegisterKernel())
	tests := []struct {
		name string
		fn   func(*testing.T, gpu.Device)
	}{
		{"Buffers", testBuffers},
		{"Memory", testMemory},
		{"CopyRoundTrip", testCopyRoundTrip},
		{"RangeErrors", testRangeErrors},
		{"UseAfterFree", testUseAfterFree},
		{"Foreign", testForeign},
		{"Kernel", testKernel},
		{"KernelArgs", testKernelArgs},
		{"StreamDevice", testStreamDevice},
		{"StreamOrder", testStreamOrder},
		{"EventsAcrossStreams", testEventsAcrossStreams},
		{"Events", testEvents},
		{"Closed", testClosed},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, dev) })
	}
}

func testBuffers(t *testing.T, dev gpu.Device) {
	for _, size := range []int{-1, 0} {
		if _, err := dev.AllocHost(size); err == nil {
			t.Errorf("AllocHost(%d) succeeded", size)
		}
		if _, err := dev.AllocDevice(size); err == nil {
			t.Errorf("AllocDevice(%d) succeeded", size)
		}
	}
	if _, err := dev.AllocDevice(1 << 60); !errors.Is(err, gpu.ErrOutOfMemory) {
		t.Errorf("AllocDevice(1<<60): got %v, want %v", err, gpu.ErrOutOfMemory)
	}
	if _, err := dev.AllocHost(1 << 60); err == nil {
		t.Errorf("AllocHost(1<<60) succeeded")
	}

	h, err := dev.AllocHost(1001)
	must(t, err)
	if h.Len() != 1001 || len(h.Bytes()) != 1001 {
		t.Errorf("host buffer: Len %d, %d bytes, want 1001", h.Len(), len(h.Bytes()))
	}
	if addr := uintptr(unsafe.Pointer(&h.Bytes()[0])); addr%64 != 0 {
		t.Errorf("host buffer at %#x is not 64-byte aligned", addr)
	}
	must(t, h.Free())
	if h.Bytes() != nil {
		t.Errorf("host buffer: Bytes after Free is not nil")
	}
	wantErr(t, "host buffer freed twice", h.Free(), gpu.ErrFreed)

	d, err := dev.AllocDevice(1001)
	must(t, err)
	if d.Len() != 1001 {
		t.Errorf("device buffer: Len %d, want 1001", d.Len())
	}
	must(t, d.Free())
	wantErr(t, "device buffer freed twice", d.Free(), gpu.ErrFreed)
}

func testMemory(t *testing.T, dev gpu.Device) {
	free, total, err := dev.Memory()
	must(t, err)
	if total <= 0 || free < 0 || free > total {
		t.Errorf("Memory() = free %d, total %d", free, total)
	}
	if dev.Name() == "" || (dev.Kind() != "cpu" && dev.Kind() != "cuda") {
		t.Errorf("Name %q, Kind %q", dev.Name(), dev.Kind())
	}
}

// testCopyRoundTrip sends random bytes host→device→device→host at odd offsets and sizes.
func testCopyRoundTrip(t *testing.T, dev gpu.Device) {
	rng := rand.New(rand.NewSource(1))
	s := newStream(t, dev)
	for _, n := range []int{1, 7, 4096, 1<<20 + 3} {
		src := allocHost(t, dev, n+5)
		dst := allocHost(t, dev, n+9)
		want := randomBytes(rng, n)
		copy(src.Bytes()[5:], want)
		a := allocDevice(t, dev, n+3)
		b := allocDevice(t, dev, n+11)
		must(t, s.CopyHtoD(a, 3, src, 5, n))
		must(t, s.CopyDtoD(b, 11, a, 3, n))
		must(t, s.CopyDtoH(dst, 9, b, 11, n))
		must(t, s.Synchronize())
		if !bytes.Equal(dst.Bytes()[9:], want) {
			t.Fatalf("round trip of %d bytes came back different", n)
		}
	}
	// A zero-byte copy is valid and changes nothing.
	h := allocHost(t, dev, 8)
	d := allocDevice(t, dev, 8)
	must(t, s.CopyHtoD(d, 8, h, 8, 0))
	must(t, s.Synchronize())
}

// testRangeErrors checks that copies reaching outside a buffer are refused when enqueued,
// and that a refused copy leaves the stream working.
func testRangeErrors(t *testing.T, dev gpu.Device) {
	s := newStream(t, dev)
	h := allocHost(t, dev, 100)
	d := allocDevice(t, dev, 100)
	d2 := allocDevice(t, dev, 100)
	cases := []struct {
		name string
		err  error
	}{
		{"HtoD past device end", s.CopyHtoD(d, 60, h, 0, 41)},
		{"HtoD past host end", s.CopyHtoD(d, 0, h, 99, 2)},
		{"HtoD negative offset", s.CopyHtoD(d, -1, h, 0, 10)},
		{"HtoD negative size", s.CopyHtoD(d, 0, h, 0, -1)},
		{"DtoH past host end", s.CopyDtoH(h, 1, d, 0, 100)},
		{"DtoH past device end", s.CopyDtoH(h, 0, d, 101, 0)},
		{"DtoD past end", s.CopyDtoD(d2, 50, d, 0, 51)},
		{"DtoD overlapping", s.CopyDtoD(d, 10, d, 0, 20)},
	}
	for _, c := range cases {
		wantErr(t, c.name, c.err, gpu.ErrOutOfRange)
	}
	copy(h.Bytes(), bytes.Repeat([]byte{7}, 100))
	must(t, s.CopyHtoD(d, 0, h, 0, 100))
	must(t, s.CopyDtoD(d, 50, d, 0, 50)) // adjacent halves do not overlap
	must(t, s.Synchronize())
}

func testUseAfterFree(t *testing.T, dev gpu.Device) {
	s := newStream(t, dev)
	k := kernel(t, dev)
	h := allocHost(t, dev, 64)
	live := allocDevice(t, dev, 64)
	d, err := dev.AllocDevice(64)
	must(t, err)
	must(t, d.Free())
	wantErr(t, "HtoD into a freed buffer", s.CopyHtoD(d, 0, h, 0, 64), gpu.ErrFreed)
	wantErr(t, "DtoH from a freed buffer", s.CopyDtoH(h, 0, d, 0, 64), gpu.ErrFreed)
	wantErr(t, "DtoD from a freed buffer", s.CopyDtoD(live, 0, d, 0, 64), gpu.ErrFreed)
	wantErr(t, "launch on a freed buffer", saxpy(s, k, d, live, 1, 16, false), gpu.ErrFreed)

	fh, err := dev.AllocHost(64)
	must(t, err)
	must(t, fh.Free())
	wantErr(t, "HtoD from a freed host buffer", s.CopyHtoD(live, 0, fh, 0, 64), gpu.ErrFreed)
	wantErr(t, "DtoH into a freed host buffer", s.CopyDtoH(fh, 0, live, 0, 64), gpu.ErrFreed)
	must(t, s.Synchronize())
}

func testForeign(t *testing.T, dev gpu.Device) {
	s := newStream(t, dev)
	h := allocHost(t, dev, 64)
	d := allocDevice(t, dev, 64)
	fh := &foreignHost{b: make([]byte, 64)}
	fd := &foreignDevice{n: 64}
	wantErr(t, "HtoD from a foreign host buffer", s.CopyHtoD(d, 0, fh, 0, 8), gpu.ErrForeign)
	wantErr(t, "HtoD into a foreign device buffer", s.CopyHtoD(fd, 0, h, 0, 8), gpu.ErrForeign)
	wantErr(t, "DtoH from a foreign device buffer", s.CopyDtoH(h, 0, fd, 0, 8), gpu.ErrForeign)
	wantErr(t, "DtoD into a foreign device buffer", s.CopyDtoD(fd, 0, d, 0, 8), gpu.ErrForeign)
	wantErr(t, "launch of a foreign kernel", s.Launch(foreignKernel{}, gpu.Dim3{X: 1}, gpu.Dim3{X: 1}), gpu.ErrForeign)
	wantErr(t, "launch with a foreign buffer", saxpy(s, kernel(t, dev), fd, d, 1, 1, false), gpu.ErrForeign)
	wantErr(t, "record a foreign event", s.Record(foreignEvent{}), gpu.ErrForeign)
	wantErr(t, "wait on a foreign event", s.Wait(foreignEvent{}), gpu.ErrForeign)
	must(t, s.Synchronize())
}

// testKernel runs Kernel on random data, at an element count that is not a multiple of the
// block size, and compares with the Go reference bit for bit.
func testKernel(t *testing.T, dev gpu.Device) {
	if _, err := dev.Kernel("gputest_no_such_kernel"); !errors.Is(err, gpu.ErrNoKernel) {
		t.Errorf("Kernel of an unknown name: got %v, want %v", err, gpu.ErrNoKernel)
	}
	k := kernel(t, dev)
	if k.Name() != Kernel {
		t.Errorf("kernel Name() = %q", k.Name())
	}
	rng := rand.New(rand.NewSource(2))
	const n = 1000
	x0, y0 := make([]float32, n+50), make([]float32, n+50)
	for i := range x0 {
		x0[i], y0[i] = rng.Float32()*2-1, rng.Float32()*2-1
	}
	s := newStream(t, dev)
	hx, hy := hostFloats(t, dev, x0), hostFloats(t, dev, y0)
	dx, dy := allocDevice(t, dev, hx.Len()), allocDevice(t, dev, hy.Len())
	must(t, s.CopyHtoD(dx, 0, hx, 0, hx.Len()))
	must(t, s.CopyHtoD(dy, 0, hy, 0, hy.Len()))
	must(t, saxpy(s, k, dy, dx, 1.5, n, false))
	// A pointer with an offset: y[20:] += -2 * x[0:] over 10 elements.
	grid, block := gpu.Grid1D(10, 4)
	must(t, s.Launch(k, grid, block, gpu.Ptr(dy, 80), gpu.Ptr(dx, 0), gpu.Float32(-2), gpu.Int32(10), gpu.Int32(0)))
	must(t, s.CopyDtoH(hy, 0, dy, 0, hy.Len()))
	must(t, s.Synchronize())

	want := append([]float32(nil), y0...)
	Saxpy(want, x0, 1.5, n)
	Saxpy(want[20:], x0, -2, 10)
	equalFloats(t, "saxpy", floats(t, hy), want)
}

func testKernelArgs(t *testing.T, dev gpu.Device) {
	k := kernel(t, dev)
	s := newStream(t, dev)
	d := allocDevice(t, dev, 64)
	one := gpu.Dim3{X: 1}
	cases := []struct {
		name string
		args []gpu.Arg
		err  error
	}{
		{"too few arguments", []gpu.Arg{gpu.Ptr(d, 0)}, gpu.ErrBadArg},
		{"wrong kind", []gpu.Arg{gpu.Ptr(d, 0), gpu.Ptr(d, 0), gpu.Int32(1), gpu.Int32(1), gpu.Int32(0)}, gpu.ErrBadArg},
		{"nil buffer", []gpu.Arg{gpu.Ptr(nil, 0), gpu.Ptr(d, 0), gpu.Float32(1), gpu.Int32(1), gpu.Int32(0)}, gpu.ErrBadArg},
		{"offset past the end", []gpu.Arg{gpu.Ptr(d, 65), gpu.Ptr(d, 0), gpu.Float32(1), gpu.Int32(1), gpu.Int32(0)}, gpu.ErrOutOfRange},
		{"negative offset", []gpu.Arg{gpu.Ptr(d, -4), gpu.Ptr(d, 0), gpu.Float32(1), gpu.Int32(1), gpu.Int32(0)}, gpu.ErrOutOfRange},
	}
	for _, c := range cases {
		wantErr(t, c.name, s.Launch(k, one, one, c.args...), c.err)
	}
	must(t, s.Synchronize())
}

// testStreamDevice checks that a stream names the device that created it, before and after
// Close, and that a kernel resolved through it runs on it: how work shared by several devices
// finds its per-device state.
func testStreamDevice(t *testing.T, dev gpu.Device) {
	must(t, RegisterKernel())
	s, err := dev.NewStream()
	must(t, err)
	if s.Device() != dev {
		t.Fatalf("Stream.Device() = %v (%T), want the device that created it", s.Device(), s.Device())
	}
	k, err := s.Device().Kernel(Kernel)
	must(t, err)
	x := []float32{1, 2, 3}
	hx := hostFloats(t, dev, x)
	dx, dy := allocDevice(t, dev, hx.Len()), allocDevice(t, dev, hx.Len())
	must(t, s.CopyHtoD(dx, 0, hx, 0, hx.Len()))
	must(t, s.CopyHtoD(dy, 0, hx, 0, hx.Len()))
	must(t, saxpy(s, k, dy, dx, 2, len(x), false))
	must(t, s.CopyDtoH(hx, 0, dy, 0, hx.Len()))
	must(t, s.Synchronize())
	equalFloats(t, "saxpy through Stream.Device", floats(t, hx), []float32{3, 6, 9})
	must(t, s.Close())
	if s.Device() != dev {
		t.Errorf("Stream.Device() after Close = %v, want the device that created it", s.Device())
	}
}

// testStreamOrder enqueues a long chain on one stream without waiting in between: each step
// must see the previous one's result.
func testStreamOrder(t *testing.T, dev gpu.Device) {
	rng := rand.New(rand.NewSource(3))
	const n, steps = 4096, 25
	x0 := smallInts(rng, n)
	k := kernel(t, dev)
	s := newStream(t, dev)
	hx, hy := hostFloats(t, dev, x0), hostFloats(t, dev, make([]float32, n))
	dx, dy := allocDevice(t, dev, 4*n), allocDevice(t, dev, 4*n)
	must(t, s.CopyHtoD(dx, 0, hx, 0, 4*n))
	must(t, s.CopyHtoD(dy, 0, hy, 0, 4*n))
	for range steps {
		must(t, saxpy(s, k, dy, dx, 1, n, false))
	}
	must(t, s.CopyDtoH(hy, 0, dy, 0, 4*n))
	must(t, s.Synchronize())
	want := make([]float32, n)
	for i := range want {
		want[i] = steps * x0[i]
	}
	equalFloats(t, "after a chain on one stream", floats(t, hy), want)
}

// testEventsAcrossStreams makes stream b read what stream a computes, ordered only by an
// event recorded on a and waited on by b.
func testEventsAcrossStreams(t *testing.T, dev gpu.Device) {
	rng := rand.New(rand.NewSource(4))
	const n, steps = 1 << 14, 20
	k := kernel(t, dev)
	a, b := newStream(t, dev), newStream(t, dev)
	e := newEvent(t, dev)
	for round := range 3 {
		x0 := smallInts(rng, n)
		hx, out := hostFloats(t, dev, x0), allocHost(t, dev, 4*n)
		zero := hostFloats(t, dev, make([]float32, n))
		dx, dy, dz := allocDevice(t, dev, 4*n), allocDevice(t, dev, 4*n), allocDevice(t, dev, 4*n)
		must(t, a.CopyHtoD(dx, 0, hx, 0, 4*n))
		must(t, a.CopyHtoD(dy, 0, zero, 0, 4*n))
		for range steps {
			must(t, saxpy(a, k, dy, dx, 1, n, false))
		}
		must(t, a.Record(e))
		must(t, b.Wait(e))
		must(t, b.CopyDtoD(dz, 0, dy, 0, 4*n))
		must(t, b.CopyDtoH(out, 0, dz, 0, 4*n))
		must(t, b.Synchronize())
		want := make([]float32, n)
		for i := range want {
			want[i] = steps * x0[i]
		}
		equalFloats(t, fmt.Sprintf("round %d: stream b after waiting on a", round), floats(t, out), want)
	}
	// Waiting on an event never recorded does not wait.
	must(t, b.Wait(newEvent(t, dev)))
	must(t, b.Synchronize())
}

func testEvents(t *testing.T, dev gpu.Device) {
	s := newStream(t, dev)
	k := kernel(t, dev)
	start, end := newEvent(t, dev), newEvent(t, dev)
	if done, err := start.Query(); !done || err != nil {
		t.Errorf("Query of an event never recorded = %v, %v; want true, nil", done, err)
	}
	must(t, start.Synchronize())
	if _, err := start.Elapsed(end); err == nil {
		t.Errorf("Elapsed between events never recorded succeeded")
	}

	const n = 1 << 16
	dx, dy := allocDevice(t, dev, 4*n), allocDevice(t, dev, 4*n)
	h := hostFloats(t, dev, make([]float32, n))
	must(t, s.CopyHtoD(dx, 0, h, 0, 4*n))
	must(t, s.CopyHtoD(dy, 0, h, 0, 4*n))
	must(t, s.Record(start))
	for range 10 {
		must(t, saxpy(s, k, dy, dx, 1, n, false))
	}
	must(t, s.Record(end))
	must(t, end.Synchronize())
	for _, e := range []gpu.Event{start, end} {
		if done, err := e.Query(); !done || err != nil {
			t.Errorf("Query after the stream passed the event = %v, %v; want true, nil", done, err)
		}
	}
	d, err := start.Elapsed(end)
	must(t, err)
	if d < 0 {
		t.Errorf("Elapsed from start to end = %v, want ≥ 0", d)
	}
	// Recording again moves the event: start now comes after end.
	must(t, s.Record(start))
	must(t, s.Synchronize())
	if d, err := end.Elapsed(start); err != nil || d < 0 {
		t.Errorf("Elapsed after recording start again = %v, %v; want ≥ 0, nil", d, err)
	}
}

func testClosed(t *testing.T, dev gpu.Device) {
	s, err := dev.NewStream()
	must(t, err)
	h := allocHost(t, dev, 16)
	d := allocDevice(t, dev, 16)
	must(t, s.CopyHtoD(d, 0, h, 0, 16))
	must(t, s.Close())
	wantErr(t, "copy on a closed stream", s.CopyHtoD(d, 0, h, 0, 16), gpu.ErrClosed)
	wantErr(t, "Synchronize of a closed stream", s.Synchronize(), gpu.ErrClosed)
	if s.Close() == nil {
		t.Errorf("closing a stream twice succeeded")
	}

	e, err := dev.NewEvent()
	must(t, err)
	must(t, e.Close())
	other := newStream(t, dev)
	wantErr(t, "Record of a closed event", other.Record(e), gpu.ErrClosed)
	if _, err := e.Query(); !errors.Is(err, gpu.ErrClosed) {
		t.Errorf("Query of a closed event: got %v, want %v", err, gpu.ErrClosed)
	}
	must(t, other.Synchronize())
}

// testConcurrent runs independent work on several streams from several goroutines.
func testConcurrent(t *testing.T, dev gpu.Device) {
	k := kernel(t, dev)
	const workers, n = 6, 1 << 12
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		rng := rand.New(rand.NewSource(int64(10 + w)))
		x0, y0 := smallInts(rng, n), smallInts(rng, n)
		s := newStream(t, dev)
		hx, hy := hostFloats(t, dev, x0), hostFloats(t, dev, y0)
		dx, dy := allocDevice(t, dev, 4*n), allocDevice(t, dev, 4*n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- concurrentWork(s, k, hx, hy, dx, dy, x0, y0, float32(w))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func concurrentWork(s gpu.Stream, k gpu.Kernel, hx, hy gpu.HostBuffer, dx, dy gpu.DeviceBuffer, x0, y0 []float32, a float32) error {
	n := len(x0)
	for _, err := range []error{
		s.CopyHtoD(dx, 0, hx, 0, 4*n),
		s.CopyHtoD(dy, 0, hy, 0, 4*n),
		saxpy(s, k, dy, dx, a, n, false),
		s.CopyDtoH(hy, 0, dy, 0, 4*n),
		s.Synchronize(),
	} {
		if err != nil {
			return err
		}
	}
	want := append([]float32(nil), y0...)
	Saxpy(want, x0, a, n)
	got, err := gpu.Float32s(hy.Bytes())
	if err != nil {
		return err
	}
	for i := range want {
		if got[i] != want[i] {
			return fmt.Errorf("stream with a=%v: [%d] = %v, want %v", a, i, got[i], want[i])
		}
	}
	return nil
}

// RunFaults checks sticky faults: a kernel that faults makes the stream's next Synchronize,
// and the events recorded after it, report a *gpu.OpError wrapping gpu.ErrDevice that names
// the launch; later work on the stream does not run; a stream that waits on such an event
// fails too. On a GPU a fault poisons the whole context: give RunFaults a device of its own.
func RunFaults(t *testing.T, dev gpu.Device) {
	must(t, RegisterKernel())
	k := kernel(t, dev)
	s, other := newStream(t, dev), newStream(t, dev)
	e := newEvent(t, dev)
	const n = 256
	h := hostFloats(t, dev, make([]float32, n))
	sentinel := bytes.Repeat([]byte{0xAB}, 4*n)
	out := allocHost(t, dev, 4*n)
	copy(out.Bytes(), sentinel)
	dx, dy := allocDevice(t, dev, 4*n), allocDevice(t, dev, 4*n)

	must(t, s.CopyHtoD(dx, 0, h, 0, 4*n))
	must(t, s.CopyHtoD(dy, 0, h, 0, 4*n))
	must(t, saxpy(s, k, dy, dx, 1, n, true)) // faults when it runs
	must(t, s.CopyDtoH(out, 0, dy, 0, 4*n))  // must be skipped
	must(t, s.Record(e))
	must(t, other.Wait(e))

	err := s.Synchronize()
	checkFault(t, "stream Synchronize", err)
	checkFault(t, "event Synchronize", e.Synchronize())
	if done, err := e.Query(); !done {
		t.Errorf("Query of an event after a fault: not done")
	} else {
		checkFault(t, "event Query", err)
	}
	checkFault(t, "Synchronize of a stream that waited on the event", other.Synchronize())
	if !bytes.Equal(out.Bytes(), sentinel) {
		t.Errorf("the copy after the fault ran: the host buffer changed")
	}
	checkFault(t, "stream Synchronize again (the error is sticky)", s.Synchronize())
}

func checkFault(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, gpu.ErrDevice) {
		t.Errorf("%s: got %v, want an error wrapping %v", what, err, gpu.ErrDevice)
		return
	}
	var op *gpu.OpError
	if !errors.As(err, &op) {
		t.Errorf("%s: %v is not a *gpu.OpError", what, err)
		return
	}
	if !strings.Contains(err.Error(), Kernel) {
		t.Errorf("%s: %v does not name the failed launch of %s", what, err, Kernel)
	}
}

// RunClose checks that Close waits for enqueued work and that every later use of the device,
// or of what it created, is an error. It closes dev.
func RunClose(t *testing.T, dev gpu.Device) {
	must(t, RegisterKernel())
	k, err := dev.Kernel(Kernel)
	must(t, err)
	s, err := dev.NewStream()
	must(t, err)
	e, err := dev.NewEvent()
	must(t, err)
	const n = 1 << 12
	h, err := dev.AllocHost(4 * n)
	must(t, err)
	d, err := dev.AllocDevice(4 * n)
	must(t, err)
	must(t, s.CopyHtoD(d, 0, h, 0, 4*n))
	must(t, saxpy(s, k, d, d, 1, n, false))
	must(t, s.Record(e))

	must(t, dev.Close())
	if dev.Close() == nil {
		t.Errorf("closing the device twice succeeded")
	}
	if _, err := dev.AllocHost(16); !errors.Is(err, gpu.ErrClosed) {
		t.Errorf("AllocHost after Close: got %v, want %v", err, gpu.ErrClosed)
	}
	if _, err := dev.AllocDevice(16); !errors.Is(err, gpu.ErrClosed) {
		t.Errorf("AllocDevice after Close: got %v, want %v", err, gpu.ErrClosed)
	}
	if _, err := dev.NewStream(); !errors.Is(err, gpu.ErrClosed) {
		t.Errorf("NewStream after Close: got %v, want %v", err, gpu.ErrClosed)
	}
	if _, err := dev.NewEvent(); !errors.Is(err, gpu.ErrClosed) {
		t.Errorf("NewEvent after Close: got %v, want %v", err, gpu.ErrClosed)
	}
	if _, err := dev.Kernel(Kernel); !errors.Is(err, gpu.ErrClosed) {
		t.Errorf("Kernel after Close: got %v, want %v", err, gpu.ErrClosed)
	}
	if _, _, err := dev.Memory(); !errors.Is(err, gpu.ErrClosed) {
		t.Errorf("Memory after Close: got %v, want %v", err, gpu.ErrClosed)
	}
	if err := s.CopyHtoD(d, 0, h, 0, 16); err == nil {
		t.Errorf("copy after Close succeeded")
	}
	if h.Bytes() != nil {
		t.Errorf("host buffer still has memory after the device closed")
	}
}
