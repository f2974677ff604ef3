package cuda

import (
	"errors"
	"math"
	"testing"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu"
)

// fakeBuf stands for a device buffer at a fixed device address.
type fakeBuf struct {
	addr uint64
	n    int
}

func (b *fakeBuf) Len() int    { return b.n }
func (b *fakeBuf) Free() error { return nil }

func fakeAddr(i int, a gpu.Arg) (uint64, error) {
	b, ok := a.Buf.(*fakeBuf)
	if !ok {
		return 0, gpu.ErrForeign
	}
	return b.addr + uint64(a.Off), nil
}

// asDriver reads the parameters the way a launch through gorgonia.org/cu delivers them to a
// kernel: cu copies 8 bytes from each pointer into its own array, and the driver reads as
// many bytes from each copy as the C parameter has. Each value is returned as the C type
// would see it.
func asDriver(p *params, kinds []gpu.ArgKind) []any {
	argv := make([]uint64, len(p.ptrs))
	for i, ptr := range p.ptrs {
		argv[i] = *(*uint64)(ptr) // what cu's Function.Launch does
	}
	out := make([]any, len(kinds))
	for i, k := range kinds {
		at := unsafe.Pointer(&argv[i])
		switch k {
		case gpu.KindInt32:
			out[i] = *(*int32)(at)
		case gpu.KindUint32:
			out[i] = *(*uint32)(at)
		case gpu.KindFloat32:
			out[i] = *(*float32)(at)
		case gpu.KindInt64:
			out[i] = *(*int64)(at)
		case gpu.KindFloat64:
			out[i] = *(*float64)(at)
		case gpu.KindPtr:
			out[i] = *(*uintptr)(at)
		}
	}
	return out
}

func TestMarshalParamsEveryKind(t *testing.T) {
	buf := &fakeBuf{addr: 0x7f00_1234_0000, n: 4096}
	args := []gpu.Arg{
		gpu.Ptr(buf, 0),
		gpu.Int32(-7),
		gpu.Float32(-1.25),
		gpu.Uint32(math.MaxUint32),
		gpu.Ptr(buf, 256),
		gpu.Int64(-1 << 40),
		gpu.Float64(math.Pi),
		gpu.Int32(math.MaxInt32),
		gpu.Float32(float32(math.Inf(1))),
	}
	want := []any{
		uintptr(0x7f00_1234_0000),
		int32(-7),
		float32(-1.25),
		uint32(math.MaxUint32),
		uintptr(0x7f00_1234_0100),
		int64(-1 << 40),
		math.Pi,
		int32(math.MaxInt32),
		float32(math.Inf(1)),
	}
	p, err := marshalParams(args, fakeAddr)
	if err != nil {
		t.Fatal(err)
	}
	kinds := make([]gpu.ArgKind, len(args))
	for i, a := range args {
		kinds[i] = a.Kind
	}
	got := asDriver(p, kinds)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("argument %d (%v): the kernel would read %v, want %v", i, kinds[i], got[i], want[i])
		}
	}
}

// A 4-byte argument must leave the upper half of its slot zero: the driver ignores it, but
// a marshalling that left garbage there would mean the value was written in the wrong place.
func TestMarshalParamsFourByteSlotsAreClean(t *testing.T) {
	args := []gpu.Arg{gpu.Int32(-1), gpu.Float32(float32(math.NaN())), gpu.Uint32(0x80000000)}
	p, err := marshalParams(args, fakeAddr)
	if err != nil {
		t.Fatal(err)
	}
	for i, ptr := range p.ptrs {
		if ptr != unsafe.Pointer(&p.slots[i]) {
			t.Fatalf("parameter %d does not point at its own slot", i)
		}
		cell := (*[8]byte)(ptr)
		for j := 4; j < 8; j++ {
			if cell[j] != 0 {
				t.Errorf("argument %d: byte %d of its slot is %#x, want 0", i, j, cell[j])
			}
		}
	}
}

func TestMarshalParamsErrors(t *testing.T) {
	if _, err := marshalParams([]gpu.Arg{{Kind: 0}}, fakeAddr); !errors.Is(err, gpu.ErrBadArg) {
		t.Errorf("kind 0: err = %v, want ErrBadArg", err)
	}
	if _, err := marshalParams([]gpu.Arg{{Kind: gpu.KindPtr + 1}}, fakeAddr); !errors.Is(err, gpu.ErrBadArg) {
		t.Errorf("unknown kind: err = %v, want ErrBadArg", err)
	}
	foreign := gpu.Ptr(nil, 0)
	if _, err := marshalParams([]gpu.Arg{gpu.Int32(1), foreign}, fakeAddr); !errors.Is(err, gpu.ErrForeign) {
		t.Errorf("unresolvable pointer: err = %v, want the resolver's ErrForeign", err)
	}
	p, err := marshalParams(nil, fakeAddr)
	if err != nil || len(p.ptrs) != 0 {
		t.Errorf("no arguments: %v, %d parameters", err, len(p.ptrs))
	}
}

var testLimits = limits{blockThreads: 1024, block: [3]int{1024, 1024, 64}, grid: [3]int{1<<31 - 1, 65535, 65535}}

func TestShape(t *testing.T) {
	g, b, err := shape(gpu.Dim3{X: 10}, gpu.Dim3{X: 32, Y: 8}, testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if g != [3]int{10, 1, 1} || b != [3]int{32, 8, 1} {
		t.Errorf("shape = %v %v, want [10 1 1] [32 8 1]", g, b)
	}
	g, b, err = shape(gpu.Dim3{}, gpu.Dim3{}, testLimits)
	if err != nil || g != [3]int{1, 1, 1} || b != [3]int{1, 1, 1} {
		t.Errorf("zero shapes = %v %v %v, want ones", g, b, err)
	}
}

func TestShapeRejects(t *testing.T) {
	for _, c := range []struct {
		name        string
		grid, block gpu.Dim3
	}{
		{"negative grid", gpu.Dim3{X: -1}, gpu.Dim3{X: 1}},
		{"negative block", gpu.Dim3{X: 1}, gpu.Dim3{Y: -2}},
		{"grid y too large", gpu.Dim3{Y: 65536}, gpu.Dim3{X: 1}},
		{"block z too large", gpu.Dim3{X: 1}, gpu.Dim3{Z: 65}},
		{"too many threads", gpu.Dim3{X: 1}, gpu.Dim3{X: 64, Y: 32}},
	} {
		if _, _, err := shape(c.grid, c.block, testLimits); !errors.Is(err, gpu.ErrBadArg) {
			t.Errorf("%s: err = %v, want ErrBadArg", c.name, err)
		}
	}
}
