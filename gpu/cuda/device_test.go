//go:build cuda

package cuda

import (
	"bytes"
	"errors"
	"math"
	"math/rand"
	"strings"
	"testing"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu"
)

func TestInfo(t *testing.T) {
	d := openTest(t)
	i := d.Info()
	if i.Name == "" || i.ComputeMajor < 3 || i.Multiprocessors < 1 || i.TotalMemory <= 0 {
		t.Errorf("implausible device info: %+v", i)
	}
	if d.Kind() != "cuda" || d.Name() != i.Name {
		t.Errorf("Kind %q, Name %q", d.Kind(), d.Name())
	}
	t.Logf("%v", i)
}

func TestOpenRejectsMissingDevice(t *testing.T) {
	n, err := Count()
	must(t, err)
	for _, i := range []int{-1, n} {
		if d, err := Open(i); err == nil {
			d.Close()
			t.Errorf("Open(%d) with %d devices succeeded", i, n)
		}
	}
}

// TestHostMemoryKinds sends bytes through every kind of host memory and back.
func TestHostMemoryKinds(t *testing.T) {
	d := openTest(t)
	s, err := d.NewStream()
	must(t, err)
	defer s.Close()
	const n = 3<<20 + 5
	want := make([]byte, n)
	rand.New(rand.NewSource(1)).Read(want)
	dev, err := d.AllocDevice(n)
	must(t, err)
	defer dev.Free()
	for _, up := range []HostMemory{Pinned, WriteCombined, Pageable} {
		for _, down := range []HostMemory{Pinned, Pageable} {
			src, err := d.AllocHostKind(n, up)
			must(t, err)
			dst, err := d.AllocHostKind(n, down)
			must(t, err)
			if src.Pinned() != (up != Pageable) {
				t.Errorf("%v memory: Pinned() = %v", up, src.Pinned())
			}
			copy(src.Bytes(), want)
			must(t, s.CopyHtoD(dev, 0, src, 0, n))
			must(t, s.CopyDtoH(dst, 0, dev, 0, n))
			must(t, s.Synchronize())
			if !bytes.Equal(dst.Bytes(), want) {
				t.Errorf("%v → device → %v: the bytes came back different", up, down)
			}
			must(t, src.Free())
			must(t, dst.Free())
		}
	}
}

func TestUploadHostFollowsOption(t *testing.T) {
	for _, wc := range []bool{false, true} {
		d := openTest(t, WithWriteCombinedUploads(wc))
		h, err := d.AllocUploadHost(4096)
		must(t, err)
		want := Pinned
		if wc {
			want = WriteCombined
		}
		if got := h.(*hostBuffer).Kind(); got != want {
			t.Errorf("WithWriteCombinedUploads(%v): upload buffer is %v", wc, got)
		}
		must(t, h.Free())
	}
}

// TestArgsOnDevice launches a kernel that writes back every argument it received: each
// must arrive at its C size, including 8-byte ones placed after 4-byte ones.
func TestArgsOnDevice(t *testing.T) {
	d := openTest(t)
	k, err := d.Kernel(argsKernel)
	must(t, err)
	s, err := d.NewStream()
	must(t, err)
	defer s.Close()
	out, err := d.AllocDevice(8 * 8)
	must(t, err)
	defer out.Free()
	in, err := d.AllocDevice(64)
	must(t, err)
	defer in.Free()
	h, err := d.AllocHost(64)
	must(t, err)
	defer h.Free()
	ints, err := gpu.Int32s(h.Bytes())
	must(t, err)
	ints[4] = -123456 // the int the pointer argument (offset 16) points at

	const f, dbl = float32(-2.75), math.Pi
	must(t, s.CopyHtoD(in, 0, h, 0, 64))
	must(t, s.Launch(k, gpu.Dim3{X: 1}, gpu.Dim3{X: 32}, gpu.Ptr(out, 0), gpu.Int32(-7), gpu.Int64(-1<<40),
		gpu.Float32(f), gpu.Float64(dbl), gpu.Uint32(0xfedcba98), gpu.Ptr(in, 16), gpu.Int32(math.MaxInt32)))
	must(t, s.CopyDtoH(h, 0, out, 0, 64))
	must(t, s.Synchronize())
	got := unsafe.Slice((*int64)(unsafe.Pointer(&h.Bytes()[0])), 8)
	base := in.(*deviceBuffer).ptr
	want := []int64{-7, -1 << 40, int64(math.Float32bits(f)), int64(math.Float64bits(dbl)), 0xfedcba98,
		-123456, int64(base) + 16, math.MaxInt32}
	names := []string{"int", "long long", "float", "double", "unsigned", "*p", "p", "last int"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s argument: the kernel saw %#x, want %#x", names[i], got[i], want[i])
		}
	}
}

func TestKernelErrors(t *testing.T) {
	d := openTest(t)
	if _, err := d.Kernel("cudatest_not_registered"); !errors.Is(err, gpu.ErrNoKernel) {
		t.Errorf("unregistered kernel: %v", err)
	}
	hostOnly := "cudatest_host_only"
	_ = gpu.RegisterKernel(gpu.KernelSpec{Name: hostOnly, Host: func(*gpu.HostLaunch) error { return nil }})
	if _, err := d.Kernel(hostOnly); !errors.Is(err, gpu.ErrNoKernel) || !strings.Contains(err.Error(), "no PTX") {
		t.Errorf("kernel without PTX: %v", err)
	}
	missing := "cudatest_not_in_module"
	_ = gpu.RegisterKernel(gpu.KernelSpec{Name: missing, PTX: testPTX})
	if _, err := d.Kernel(missing); !errors.Is(err, gpu.ErrNoKernel) {
		t.Errorf("kernel missing from its module: %v", err)
	}
}

// TestJITErrorLog loads PTX the compiler rejects: the error must carry the compiler's log.
func TestJITErrorLog(t *testing.T) {
	d := openTest(t)
	bad := strings.Replace(string(testPTX), "ld.param.u64", "ld.param.bogus", 1)
	name := "cudatest_bad_ptx"
	_ = gpu.RegisterKernel(gpu.KernelSpec{Name: name, PTX: []byte(bad)})
	_, err := d.Kernel(name)
	if !errors.Is(err, gpu.ErrNoKernel) {
		t.Fatalf("bad PTX: %v, want ErrNoKernel", err)
	}
	// The compiler's log names the line and the token it could not read, as in
	// "ptxas application ptx input, line 33; error : Unknown modifier '.bogus'".
	if msg := err.Error(); !strings.Contains(msg, "line") || !strings.Contains(msg, "bogus") {
		t.Errorf("the error does not carry the compiler's log: %v", err)
	}
	t.Logf("%v", err)
}

func TestLaunchShapeRejected(t *testing.T) {
	d := openTest(t)
	k, err := d.Kernel(copyKernel)
	must(t, err)
	s, err := d.NewStream()
	must(t, err)
	defer s.Close()
	buf, err := d.AllocDevice(4096)
	must(t, err)
	defer buf.Free()
	args := []gpu.Arg{gpu.Ptr(buf, 0), gpu.Ptr(buf, 2048), gpu.Int32(512)}
	for _, c := range []struct{ grid, block gpu.Dim3 }{
		{gpu.Dim3{X: 1}, gpu.Dim3{X: 4096}},
		{gpu.Dim3{X: 1, Y: 1 << 20}, gpu.Dim3{X: 32}},
		{gpu.Dim3{X: -1}, gpu.Dim3{X: 32}},
	} {
		if err := s.Launch(k, c.grid, c.block, args...); !errors.Is(err, gpu.ErrBadArg) {
			t.Errorf("launch %+v × %+v: %v, want ErrBadArg", c.grid, c.block, err)
		}
	}
	must(t, s.Launch(k, gpu.Dim3{X: 2}, gpu.Dim3{X: 256}, args...))
	must(t, s.Synchronize())
}

// TestForeignDevice checks that objects of one Device are refused by another on the same
// GPU: they share the context but not their bookkeeping.
func TestForeignDevice(t *testing.T) {
	a, b := openTest(t), openTest(t)
	s, err := a.NewStream()
	must(t, err)
	defer s.Close()
	hb, err := b.AllocHost(64)
	must(t, err)
	db, err := b.AllocDevice(64)
	must(t, err)
	da, err := a.AllocDevice(64)
	must(t, err)
	if err := s.CopyHtoD(da, 0, hb, 0, 64); !errors.Is(err, gpu.ErrForeign) {
		t.Errorf("host buffer of another Device: %v", err)
	}
	if err := s.CopyDtoD(da, 0, db, 0, 64); !errors.Is(err, gpu.ErrForeign) {
		t.Errorf("device buffer of another Device: %v", err)
	}
	e, err := b.NewEvent()
	must(t, err)
	if err := s.Record(e); !errors.Is(err, gpu.ErrForeign) {
		t.Errorf("event of another Device: %v", err)
	}
}
