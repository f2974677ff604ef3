package devkit

import (
	"errors"
	"testing"

	"github.com/gpupipe/gpupipe/gpu"
)

func TestCheckRange(t *testing.T) {
	for _, c := range []struct {
		off, n, size int
		ok           bool
	}{
		{0, 0, 0, true}, {0, 10, 10, true}, {10, 0, 10, true}, {3, 7, 10, true},
		{-1, 1, 10, false}, {0, -1, 10, false}, {11, 0, 10, false}, {5, 6, 10, false}, {1, 1 << 62, 10, false},
	} {
		err := CheckRange("x", c.off, c.n, c.size)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, gpu.ErrOutOfRange)) {
			t.Errorf("CheckRange(%d, %d, %d) = %v, want ok=%v", c.off, c.n, c.size, err, c.ok)
		}
	}
}

type buf struct{ n int }

func (b buf) Len() int     { return b.n }
func (b buf) Free() error  { return nil }
func (buf) String() string { return "buf" }

func TestCheckArgs(t *testing.T) {
	spec := gpu.KernelSpec{Name: "k", Args: []gpu.ArgKind{gpu.KindPtr, gpu.KindInt32}}
	good := []gpu.Arg{gpu.Ptr(buf{4}, 0), gpu.Int32(1)}
	if err := CheckArgs(spec, good); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]gpu.Arg{
		"count":      good[:1],
		"kind":       {gpu.Int32(1), gpu.Int32(1)},
		"nil buffer": {gpu.Ptr(nil, 0), gpu.Int32(1)},
	} {
		if err := CheckArgs(spec, args); !errors.Is(err, gpu.ErrBadArg) {
			t.Errorf("%s: got %v, want ErrBadArg", name, err)
		}
	}
	if err := CheckArgs(gpu.KernelSpec{Name: "any"}, []gpu.Arg{gpu.Int32(1)}); err != nil {
		t.Errorf("a spec without Args refused arguments: %v", err)
	}
}

func TestNewHostLaunch(t *testing.T) {
	mem := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	args := []gpu.Arg{gpu.Ptr(buf{8}, 4), gpu.Float32(2)}
	l, err := NewHostLaunch(gpu.Dim3{X: 2}, gpu.Dim3{X: 3}, args, func(i int) ([]byte, error) { return mem, nil })
	if err != nil {
		t.Fatal(err)
	}
	var p []byte
	var f float32
	if err := l.Scan(&p, &f); err != nil {
		t.Fatal(err)
	}
	if string(p) != string(mem[4:]) || f != 2 || l.Grid.X != 2 || l.Block.X != 3 {
		t.Errorf("resolved %v %v %+v", p, f, l)
	}
	freed := errors.New("freed")
	if _, err := NewHostLaunch(gpu.Dim3{}, gpu.Dim3{}, args, func(int) ([]byte, error) { return nil, freed }); !errors.Is(err, freed) {
		t.Errorf("a buffer that cannot be read: %v", err)
	}
	args[0].Off = 9
	if _, err := NewHostLaunch(gpu.Dim3{}, gpu.Dim3{}, args, func(int) ([]byte, error) { return mem, nil }); !errors.Is(err, gpu.ErrOutOfRange) {
		t.Errorf("an offset past the buffer: %v", err)
	}
}
