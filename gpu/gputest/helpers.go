package gputest

import (
	"errors"
	"math/rand"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr fails unless err wraps target.
func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

func newStream(t testing.TB, dev gpu.Device) gpu.Stream {
	t.Helper()
	s, err := dev.NewStream()
	must(t, err)
	t.Cleanup(func() { _ = s.Close() })
	if s.Device() != dev {
		t.Fatalf("a stream's Device() is %v, not the device that created it", s.Device())
	}
	return s
}

func newEvent(t testing.TB, dev gpu.Device) gpu.Event {
	t.Helper()
	e, err := dev.NewEvent()
	must(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func allocHost(t testing.TB, dev gpu.Device, size int) gpu.HostBuffer {
	t.Helper()
	h, err := dev.AllocHost(size)
	must(t, err)
	t.Cleanup(func() { _ = h.Free() })
	return h
}

func allocDevice(t testing.TB, dev gpu.Device, size int) gpu.DeviceBuffer {
	t.Helper()
	d, err := dev.AllocDevice(size)
	must(t, err)
	t.Cleanup(func() { _ = d.Free() })
	return d
}

func kernel(t testing.TB, dev gpu.Device) gpu.Kernel {
	t.Helper()
	must(t, RegisterKernel())
	k, err := dev.Kernel(Kernel)
	must(t, err)
	return k
}

// floats views a host buffer as float32s.
func floats(t testing.TB, h gpu.HostBuffer) []float32 {
	t.Helper()
	f, err := gpu.Float32s(h.Bytes())
	must(t, err)
	return f
}

// hostFloats allocates a host buffer holding vals.
func hostFloats(t testing.TB, dev gpu.Device, vals []float32) gpu.HostBuffer {
	t.Helper()
	h := allocHost(t, dev, 4*len(vals))
	copy(floats(t, h), vals)
	return h
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	rng.Read(b)
	return b
}

// smallInts are float32 values whose sums stay exact, so results compare bit for bit.
func smallInts(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.Intn(64) - 32)
	}
	return v
}

// saxpy enqueues Kernel over n elements.
func saxpy(s gpu.Stream, k gpu.Kernel, y, x gpu.DeviceBuffer, a float32, n int, fail bool) error {
	grid, block := gpu.Grid1D(n, 128)
	f := int32(0)
	if fail {
		f = 1
	}
	return s.Launch(k, grid, block, gpu.Ptr(y, 0), gpu.Ptr(x, 0), gpu.Float32(a), gpu.Int32(int32(n)), gpu.Int32(f))
}

func equalFloats(t testing.TB, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// foreign objects belong to no device: every device must refuse them with gpu.ErrForeign.
type (
	foreignHost   struct{ b []byte }
	foreignDevice struct{ n int }
	foreignEvent  struct{}
	foreignKernel struct{}
)

func (f *foreignHost) Bytes() []byte                          { return f.b }
func (f *foreignHost) Len() int                               { return len(f.b) }
func (f *foreignHost) Pinned() bool                           { return false }
func (f *foreignHost) Free() error                            { return nil }
func (f *foreignDevice) Len() int                             { return f.n }
func (f *foreignDevice) Free() error                          { return nil }
func (foreignEvent) Query() (bool, error)                     { return true, nil }
func (foreignEvent) Synchronize() error                       { return nil }
func (foreignEvent) Elapsed(gpu.Event) (time.Duration, error) { return 0, nil }
func (foreignEvent) Close() error                             { return nil }
func (foreignKernel) Name() string                            { return Kernel }
