package gpu_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu"
)

// launch is a host launch with one argument of every kind, as a device resolves it.
func launch(mem []byte) *gpu.HostLaunch {
	args := []gpu.Arg{gpu.Int32(-3), gpu.Uint32(7), gpu.Int64(-1 << 40), gpu.Float32(1.5), gpu.Float64(math.Pi)}
	l := &gpu.HostLaunch{Grid: gpu.Dim3{X: 1}, Block: gpu.Dim3{X: 1}}
	for _, a := range args {
		l.Args = append(l.Args, gpu.HostArg{Kind: a.Kind, Bits: a.Bits})
	}
	for range 3 {
		l.Args = append(l.Args, gpu.HostArg{Kind: gpu.KindPtr, Mem: mem})
	}
	return l
}

// aligned returns n bytes at a 4-byte aligned address, as device memory is.
func aligned(n int) []byte {
	f := make([]float32, (n+3)/4)
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), n)
}

func TestScan(t *testing.T) {
	mem := aligned(10) // two and a half values: views hold the two whole ones
	f, _ := gpu.Float32s(mem[:8])
	f[0], f[1] = 2.5, -1
	var (
		i32 int32
		u32 uint32
		i64 int64
		f32 float32
		f64 float64
		raw []byte
		fs  []float32
		is  []int32
	)
	if err := launch(mem).Scan(&i32, &u32, &i64, &f32, &f64, &raw, &fs, &is); err != nil {
		t.Fatal(err)
	}
	if i32 != -3 || u32 != 7 || i64 != -1<<40 || f32 != 1.5 || f64 != math.Pi {
		t.Errorf("scalars: %v %v %v %v %v", i32, u32, i64, f32, f64)
	}
	if len(raw) != 10 || &raw[0] != &mem[0] {
		t.Errorf("*[]byte: %d bytes, want the argument's 10, not a copy", len(raw))
	}
	if len(fs) != 2 || fs[0] != 2.5 || fs[1] != -1 || len(is) != 2 || is[1] != int32(math.Float32bits(-1)) {
		t.Errorf("views: %v %v", fs, is)
	}
	// nil skips an argument.
	f32 = 0
	if err := launch(mem).Scan(nil, nil, nil, &f32, nil, nil, nil, nil); err != nil || f32 != 1.5 {
		t.Errorf("Scan with skipped arguments: %v, %v", f32, err)
	}
}

func TestScanErrors(t *testing.T) {
	mem := aligned(8)
	var (
		i32 int32
		f32 float32
		f64 float64
		fs  []float32
		raw []byte
		s   string
	)
	for _, c := range []struct {
		name string
		dst  []any
		arg  string // what the error must name
	}{
		{"too few", []any{&i32}, "8 arguments into 1"},
		{"too many", []any{nil, nil, nil, nil, nil, nil, nil, nil, nil}, "8 arguments into 9"},
		{"float32 for int32", []any{&f32, nil, nil, nil, nil, nil, nil, nil}, "argument 0"},
		{"float64 for float32", []any{nil, nil, nil, &f64, nil, nil, nil, nil}, "argument 3"},
		{"slice for a scalar", []any{nil, nil, &fs, nil, nil, nil, nil, nil}, "argument 2"},
		{"scalar for a pointer", []any{nil, nil, nil, nil, nil, &i32, nil, nil}, "argument 5"},
		{"unsupported type", []any{nil, nil, nil, nil, nil, nil, &s, nil}, "argument 6"},
		{"value, not pointer", []any{nil, nil, nil, nil, nil, nil, nil, raw}, "argument 7"},
	} {
		err := launch(mem).Scan(c.dst...)
		if !errors.Is(err, gpu.ErrBadArg) || !strings.Contains(err.Error(), c.arg) {
			t.Errorf("%s: got %v, want ErrBadArg naming %q", c.name, err, c.arg)
		}
	}
	// A pointer argument at an offset that is not a multiple of 4 cannot be viewed as values.
	l := launch(mem[1:])
	if err := l.Scan(nil, nil, nil, nil, nil, nil, &fs, nil); !errors.Is(err, gpu.ErrBadArg) || !strings.Contains(err.Error(), "argument 6") {
		t.Errorf("misaligned view: got %v", err)
	}
}
