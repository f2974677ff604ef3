package cpu_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
)

// Test kernels: gate blocks its stream until the test opens the gate named by its argument;
// boom panics; ptx-only has no Go implementation.
const (
	gateKernel    = "cputest_gate"
	boomKernel    = "cputest_boom"
	ptxOnlyKernel = "cputest_ptx_only"
)

var (
	gates        sync.Map // int64 → chan struct{}
	registerOnce sync.Once
)

func registerTestKernels(t *testing.T) {
	registerOnce.Do(func() {
		err := gpu.RegisterKernel(gpu.KernelSpec{
			Name: gateKernel,
			Args: []gpu.ArgKind{gpu.KindInt64},
			Host: func(l *gpu.HostLaunch) error {
				id, err := l.Int64(0)
				if err != nil {
					return err
				}
				ch, _ := gates.Load(id)
				<-ch.(chan struct{})
				return nil
			},
		})
		if err == nil {
			err = gpu.RegisterKernel(gpu.KernelSpec{
				Name: boomKernel,
				Host: func(*gpu.HostLaunch) error { panic("boom") },
			})
		}
		if err == nil {
			err = gpu.RegisterKernel(gpu.KernelSpec{Name: ptxOnlyKernel, PTX: []byte("// ptx")})
		}
		if err != nil {
			t.Fatal(err)
		}
	})
}

var gateIDs struct {
	sync.Mutex
	next int64
}

// gate enqueues a launch that holds s until the returned function is called.
func gate(t *testing.T, dev gpu.Device, s gpu.Stream) (open func()) {
	t.Helper()
	registerTestKernels(t)
	gateIDs.Lock()
	gateIDs.next++
	id := gateIDs.next
	gateIDs.Unlock()
	ch := make(chan struct{})
	gates.Store(id, ch)
	k, err := dev.Kernel(gateKernel)
	must(t, err)
	must(t, s.Launch(k, gpu.Dim3{}, gpu.Dim3{}, gpu.Int64(id)))
	var once sync.Once
	open = func() { once.Do(func() { close(ch) }) }
	t.Cleanup(open)
	return open
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func stream(t *testing.T, dev gpu.Device) gpu.Stream {
	t.Helper()
	s, err := dev.NewStream()
	must(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// A copy reads its source when the stream reaches it: bytes written into the host buffer
// after the copy was enqueued, but before the stream got there, are what arrives.
func TestCopyReadsWhenReached(t *testing.T) {
	dev := newDevice(t)
	s := stream(t, dev)
	h, err := dev.AllocHost(4)
	must(t, err)
	d, err := dev.AllocDevice(4)
	must(t, err)
	copy(h.Bytes(), "old!")
	open := gate(t, dev, s)
	must(t, s.CopyHtoD(d, 0, h, 0, 4))
	must(t, s.CopyDtoH(h, 0, d, 0, 4))
	copy(h.Bytes(), "new!") // too early: the copy above has not run yet
	open()
	must(t, s.Synchronize())
	if got := string(h.Bytes()); got != "new!" {
		t.Fatalf("copy read %q: it read the host buffer when enqueued, not when reached", got)
	}
}

// An operation that reaches a buffer freed after it was enqueued is a fault, not a crash.
func TestFreedBeforeReached(t *testing.T) {
	dev := newDevice(t)
	s := stream(t, dev)
	h, err := dev.AllocHost(64)
	must(t, err)
	d, err := dev.AllocDevice(64)
	must(t, err)
	open := gate(t, dev, s)
	must(t, s.CopyHtoD(d, 0, h, 0, 64))
	must(t, d.Free())
	open()
	err = s.Synchronize()
	var op *gpu.OpError
	if !errors.Is(err, gpu.ErrFreed) || !errors.As(err, &op) || !strings.Contains(op.Op, "host→device") {
		t.Fatalf("copy into a buffer freed while queued: got %v, want an OpError wrapping %v", err, gpu.ErrFreed)
	}
}

func TestKernelPanicIsAFault(t *testing.T) {
	registerTestKernels(t)
	dev := newDevice(t)
	s := stream(t, dev)
	k, err := dev.Kernel(boomKernel)
	must(t, err)
	must(t, s.Launch(k, gpu.Dim3{X: 1}, gpu.Dim3{X: 1}))
	err = s.Synchronize()
	if !errors.Is(err, gpu.ErrDevice) || !strings.Contains(err.Error(), "panicked: boom") {
		t.Fatalf("panicking kernel: got %v, want a device fault that reports the panic", err)
	}
}

func TestKernelWithoutGoImplementation(t *testing.T) {
	registerTestKernels(t)
	dev := newDevice(t)
	if _, err := dev.Kernel(ptxOnlyKernel); !errors.Is(err, gpu.ErrNoKernel) {
		t.Fatalf("PTX-only kernel: got %v, want %v", err, gpu.ErrNoKernel)
	}
}

func TestFaultInjection(t *testing.T) {
	dev := newDevice(t, cpu.FailCopy(3))
	s := stream(t, dev)
	h, err := dev.AllocHost(100)
	must(t, err)
	d, err := dev.AllocDevice(100)
	must(t, err)
	for range 2 {
		must(t, s.CopyHtoD(d, 0, h, 0, 100))
	}
	must(t, s.Synchronize())
	must(t, s.CopyDtoH(h, 0, d, 0, 100)) // the third copy
	err = s.Synchronize()
	var op *gpu.OpError
	if !errors.Is(err, cpu.ErrInjected) || !errors.Is(err, gpu.ErrDevice) || !errors.As(err, &op) {
		t.Fatalf("third copy: got %v, want an injected device fault", err)
	}
	if op.Seq != 3 || op.Op != "copy device→host 100 B" {
		t.Errorf("fault names op %d %q, want op 3 %q", op.Seq, op.Op, "copy device→host 100 B")
	}
}

func TestFailLaunch(t *testing.T) {
	registerTestKernels(t)
	dev := newDevice(t, cpu.FailLaunch(2))
	s := stream(t, dev)
	gate(t, dev, s)() // the first launch runs
	gate(t, dev, s)()
	err := s.Synchronize()
	var op *gpu.OpError
	if !errors.As(err, &op) || op.Seq != 2 || op.Op != "launch "+gateKernel {
		t.Fatalf("second launch: got %v, want a fault of op 2, launch %s", err, gateKernel)
	}
}

func TestBadOptions(t *testing.T) {
	for name, opt := range map[string]cpu.Option{
		"three copy engines": cpu.CopyEngines(3),
		"negative bandwidth": cpu.WithTiming(cpu.Timing{H2DBytesPerSec: -1}),
		"negative latency":   cpu.WithTiming(cpu.Timing{LaunchLatency: -time.Millisecond}),
		"negative delay":     cpu.RandomDelays(1, -time.Second),
		"zero memory":        cpu.MemoryLimit(0),
		"FailCopy(0)":        cpu.FailCopy(0),
		"FailWhen(nil)":      cpu.FailWhen(nil),
	} {
		if _, err := cpu.New(opt); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	dev := newDevice(t, cpu.MemoryLimit(1000))
	a, err := dev.AllocDevice(600)
	must(t, err)
	if _, err := dev.AllocDevice(600); !errors.Is(err, gpu.ErrOutOfMemory) {
		t.Fatalf("allocating past the limit: got %v, want %v", err, gpu.ErrOutOfMemory)
	}
	free, total, err := dev.Memory()
	must(t, err)
	if free != 400 || total != 1000 {
		t.Errorf("Memory() = %d free of %d, want 400 of 1000", free, total)
	}
	must(t, a.Free())
	b, err := dev.AllocDevice(1000)
	must(t, err)
	must(t, b.Free())
}

// tracer collects the spans a device reports.
type tracer struct {
	mu    sync.Mutex
	spans []cpu.Span
}

func (tr *tracer) add(s cpu.Span) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.spans = append(tr.spans, s)
}

func h2d(s gpu.Stream, h gpu.HostBuffer, d gpu.DeviceBuffer) error {
	return s.CopyHtoD(d, 0, h, 0, h.Len())
}
func d2h(s gpu.Stream, h gpu.HostBuffer, d gpu.DeviceBuffer) error {
	return s.CopyDtoH(h, 0, d, 0, h.Len())
}

// Operations of two streams overlap when they use different engines and take turns when
// they use the same one. The timing model makes each 1 MiB copy hold its engine for 40 ms;
// the engines' spans come from the device's trace.
func TestEngines(t *testing.T) {
	const hold = 40 * time.Millisecond
	timing := cpu.WithTiming(cpu.Timing{H2DBytesPerSec: (1 << 20) / hold.Seconds(), D2HBytesPerSec: (1 << 20) / hold.Seconds()})
	type copyFn = func(gpu.Stream, gpu.HostBuffer, gpu.DeviceBuffer) error
	cases := []struct {
		name          string
		engines       int
		first, second copyFn
		wantOverlap   bool
	}{
		{"h2d and d2h on two engines", 2, h2d, d2h, true},
		{"h2d and h2d on two engines", 2, h2d, h2d, false},
		{"h2d and d2h on one engine", 1, h2d, d2h, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := &tracer{}
			dev := newDevice(t, timing, cpu.CopyEngines(c.engines), cpu.Trace(tr.add))
			starter := stream(t, dev)
			open := gate(t, dev, starter)
			start, err := dev.NewEvent()
			must(t, err)
			must(t, starter.Record(start))
			var ss []gpu.Stream
			for _, work := range []copyFn{c.first, c.second} {
				s := stream(t, dev)
				h, err := dev.AllocHost(1 << 20)
				must(t, err)
				d, err := dev.AllocDevice(1 << 20)
				must(t, err)
				must(t, s.Wait(start)) // both copies become ready together
				must(t, work(s, h, d))
				ss = append(ss, s)
			}
			open()
			for _, s := range ss {
				must(t, s.Synchronize())
			}
			var copies []cpu.Span
			for _, sp := range tr.spans {
				if sp.Kind != cpu.OpLaunch {
					copies = append(copies, sp)
				}
			}
			if len(copies) != 2 {
				t.Fatalf("traced %d copies, want 2", len(copies))
			}
			for _, sp := range copies {
				if d := sp.End.Sub(sp.Start); d < hold {
					t.Errorf("%s held its engine %v, less than the modelled %v", sp.Op, d, hold)
				}
			}
			a, b := copies[0], copies[1]
			overlap := a.Start.Before(b.End) && b.Start.Before(a.End)
			if overlap != c.wantOverlap {
				t.Errorf("%s on %s and %s on %s: overlap %v, want %v", a.Op, a.Engine, b.Op, b.Engine, overlap, c.wantOverlap)
			}
		})
	}
}

func TestEngineStats(t *testing.T) {
	dev := newDevice(t)
	s := stream(t, dev)
	h, err := dev.AllocHost(1000)
	must(t, err)
	d, err := dev.AllocDevice(1000)
	must(t, err)
	must(t, s.CopyHtoD(d, 0, h, 0, 1000))
	must(t, s.CopyHtoD(d, 0, h, 0, 500))
	must(t, s.CopyDtoH(h, 0, d, 0, 10))
	gate(t, dev, s)()
	must(t, s.Synchronize())
	got := map[string]cpu.EngineStats{}
	for _, e := range dev.EngineStats() {
		got[e.Name] = e
	}
	if e := got["h2d"]; e.Ops != 2 || e.Bytes != 1500 {
		t.Errorf("h2d engine: %+v, want 2 ops, 1500 bytes", e)
	}
	if e := got["d2h"]; e.Ops != 1 || e.Bytes != 10 {
		t.Errorf("d2h engine: %+v, want 1 op, 10 bytes", e)
	}
	if e := got["compute"]; e.Ops != 1 {
		t.Errorf("compute engine: %+v, want 1 op", e)
	}
}

func TestHostBufferIsPlainMemory(t *testing.T) {
	dev := newDevice(t)
	h, err := dev.AllocHost(10)
	must(t, err)
	if h.Pinned() {
		t.Errorf("cpu host buffer claims to be pinned")
	}
	if !bytes.Equal(h.Bytes(), make([]byte, 10)) {
		t.Errorf("new host buffer is not zeroed")
	}
}

// MapHost: a device buffer that is the host buffer's memory. Kernels see the host's bytes,
// copies between the two change nothing and cost no device memory; devices that model
// copies or memory decline.
func TestMapHost(t *testing.T) {
	dev := newDevice(t)
	if !dev.MapsHost() {
		t.Fatal("a plain device does not map host memory")
	}
	h, err := dev.AllocHost(64)
	must(t, err)
	copy(h.Bytes(), "mapped")
	d, err := dev.MapHost(h)
	must(t, err)
	free0, _, err := dev.Memory()
	must(t, err)
	other, err := dev.AllocDevice(64)
	must(t, err)
	s, err := dev.NewStream()
	must(t, err)
	must(t, s.CopyHtoD(d, 0, h, 0, 64))     // onto itself: nothing moves
	must(t, s.CopyDtoD(other, 0, d, 0, 64)) // the mapped bytes reach device memory
	must(t, s.CopyHtoD(d, 8, h, 0, 8))      // overlapping ranges of the same bytes still copy
	must(t, s.CopyDtoH(h, 32, other, 0, 8)) // and back into the host, seen through d
	must(t, s.Synchronize())
	if got := string(h.Bytes()[:14]); got != "mapped\x00\x00mapped" {
		t.Errorf("host bytes %q after the copies", got)
	}
	if got := string(h.Bytes()[32:38]); got != "mapped" {
		t.Errorf("host bytes %q where the device copy went", got)
	}
	free1, _, err := dev.Memory()
	must(t, err)
	if free0-free1 != 64 {
		t.Errorf("device memory used by the mapping: %d bytes, want only the other buffer's 64", free0-free1-64)
	}
	must(t, d.Free())
	must(t, other.Free())
	if free2, _, _ := dev.Memory(); free2 != free0 {
		t.Errorf("free memory %d after freeing, was %d", free2, free0)
	}
	must(t, h.Free())
	if _, err := dev.MapHost(h); !errors.Is(err, gpu.ErrFreed) {
		t.Errorf("mapping a freed buffer: %v", err)
	}
	for name, opt := range map[string]cpu.Option{
		"memory limit": cpu.MemoryLimit(1 << 20),
		"timing":       cpu.WithTiming(cpu.Timing{H2DBytesPerSec: 1e9}),
		"delays":       cpu.RandomDelays(1, time.Millisecond),
	} {
		dev := newDevice(t, opt)
		h, err := dev.AllocHost(16)
		must(t, err)
		if _, err := dev.MapHost(h); !errors.Is(err, errors.ErrUnsupported) || dev.MapsHost() {
			t.Errorf("%s: MapHost %v, MapsHost %v: want declined", name, err, dev.MapsHost())
		}
	}
}
