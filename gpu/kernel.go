package gpu

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"unsafe"
)

// ArgKind is the C type of a kernel parameter.
type ArgKind uint8

// Kernel parameter kinds. They match the C parameter types of the kernel exactly: a kernel
// declared f(const uint8_t* p, int n, float s) takes Ptr, Int32, Float32.
const (
	KindInt32 ArgKind = iota + 1
	KindUint32
	KindInt64
	KindFloat32
	KindFloat64
	KindPtr
)

func (k ArgKind) String() string {
	switch k {
	case KindInt32:
		return "int32"
	case KindUint32:
		return "uint32"
	case KindInt64:
		return "int64"
	case KindFloat32:
		return "float32"
	case KindFloat64:
		return "float64"
	case KindPtr:
		return "pointer"
	}
	return fmt.Sprintf("ArgKind(%d)", uint8(k))
}

// Size is the parameter's size in bytes in the kernel's parameter block.
func (k ArgKind) Size() int {
	switch k {
	case KindInt32, KindUint32, KindFloat32:
		return 4
	case KindInt64, KindFloat64, KindPtr:
		return 8
	}
	return 0
}

// Arg is one kernel argument. Build it with Int32, Uint32, Int64, Float32, Float64 or Ptr.
type Arg struct {
	Kind ArgKind
	Bits uint64       // the value's bit pattern for scalar kinds
	Buf  DeviceBuffer // for KindPtr
	Off  int          // byte offset into Buf for KindPtr
}

// Int32 is a C int argument.
func Int32(v int32) Arg { return Arg{Kind: KindInt32, Bits: uint64(uint32(v))} }

// Uint32 is a C unsigned int argument.
func Uint32(v uint32) Arg { return Arg{Kind: KindUint32, Bits: uint64(v)} }

// Int64 is a C long long argument.
func Int64(v int64) Arg { return Arg{Kind: KindInt64, Bits: uint64(v)} }

// Float32 is a C float argument.
func Float32(v float32) Arg { return Arg{Kind: KindFloat32, Bits: uint64(math.Float32bits(v))} }

// Float64 is a C double argument.
func Float64(v float64) Arg { return Arg{Kind: KindFloat64, Bits: math.Float64bits(v)} }

// Ptr is a pointer argument: the device address of buf plus off bytes.
func Ptr(buf DeviceBuffer, off int) Arg { return Arg{Kind: KindPtr, Buf: buf, Off: off} }

// HostArg is an argument resolved for a kernel that runs on the host: scalars keep their
// bits, pointers become the device buffer's memory from the offset to its end.
type HostArg struct {
	Kind ArgKind
	Bits uint64
	Mem  []byte
}

// HostLaunch is one launch of a kernel's Go implementation.
type HostLaunch struct {
	Grid, Block Dim3
	Args        []HostArg
}

// Int32 returns argument i as an int32, or an ErrBadArg error.
func (l *HostLaunch) Int32(i int) (int32, error) {
	a, err := l.arg(i, KindInt32)
	return int32(uint32(a.Bits)), err
}

// Uint32 returns argument i as a uint32, or an ErrBadArg error.
func (l *HostLaunch) Uint32(i int) (uint32, error) {
	a, err := l.arg(i, KindUint32)
	return uint32(a.Bits), err
}

// Int64 returns argument i as an int64, or an ErrBadArg error.
func (l *HostLaunch) Int64(i int) (int64, error) {
	a, err := l.arg(i, KindInt64)
	return int64(a.Bits), err
}

// Float32 returns argument i as a float32, or an ErrBadArg error.
func (l *HostLaunch) Float32(i int) (float32, error) {
	a, err := l.arg(i, KindFloat32)
	return math.Float32frombits(uint32(a.Bits)), err
}

// Float64 returns argument i as a float64, or an ErrBadArg error.
func (l *HostLaunch) Float64(i int) (float64, error) {
	a, err := l.arg(i, KindFloat64)
	return math.Float64frombits(a.Bits), err
}

// Mem returns pointer argument i as the memory it points to, or an ErrBadArg error.
func (l *HostLaunch) Mem(i int) ([]byte, error) {
	a, err := l.arg(i, KindPtr)
	return a.Mem, err
}

// Scan reads the launch's arguments, in order, into the pointers dst, one per argument:
//
//	*int32, *uint32, *int64, *float32, *float64   a scalar argument of that kind
//	*[]byte                                       a pointer argument: its memory, from the
//	                                              argument's offset to the buffer's end
//	*[]float32, *[]int32                          a pointer argument viewed as values (see
//	                                              Float32s), its memory cut to whole values
//	nil                                           the argument is skipped
//
// A count of pointers other than the number of arguments, an argument of another kind or a
// pointer of another type is an ErrBadArg error that names the argument's index; dst may
// then be partly written. A Go kernel twin reads its arguments in one call:
//
//	var y, x []float32
//	var a float32
//	var n int32
//	if err := l.Scan(&y, &x, &a, &n); err != nil {
//		return err
//	}
func (l *HostLaunch) Scan(dst ...any) error {
	if len(dst) != len(l.Args) {
		return fmt.Errorf("%w: Scan of %d arguments into %d values", ErrBadArg, len(l.Args), len(dst))
	}
	for i, d := range dst {
		if err := l.scan(i, d); err != nil {
			return err
		}
	}
	return nil
}

func (l *HostLaunch) scan(i int, dst any) error {
	var err error
	switch p := dst.(type) {
	case nil:
	case *int32:
		*p, err = l.Int32(i)
	case *uint32:
		*p, err = l.Uint32(i)
	case *int64:
		*p, err = l.Int64(i)
	case *float32:
		*p, err = l.Float32(i)
	case *float64:
		*p, err = l.Float64(i)
	case *[]byte:
		*p, err = l.Mem(i)
	case *[]float32:
		var m []byte
		if m, err = l.Mem(i); err == nil {
			if *p, err = Float32s(m[:len(m)&^3]); err != nil {
				err = fmt.Errorf("argument %d: %w", i, err)
			}
		}
	case *[]int32:
		var m []byte
		if m, err = l.Mem(i); err == nil {
			if *p, err = Int32s(m[:len(m)&^3]); err != nil {
				err = fmt.Errorf("argument %d: %w", i, err)
			}
		}
	default:
		err = fmt.Errorf("%w: argument %d (%v) cannot be read into a %T", ErrBadArg, i, l.Args[i].Kind, dst)
	}
	return err
}

func (l *HostLaunch) arg(i int, want ArgKind) (HostArg, error) {
	if i < 0 || i >= len(l.Args) {
		return HostArg{}, fmt.Errorf("%w: argument %d of %d", ErrBadArg, i, len(l.Args))
	}
	if a := l.Args[i]; a.Kind != want {
		return HostArg{}, fmt.Errorf("%w: argument %d is %v, want %v", ErrBadArg, i, a.Kind, want)
	}
	return l.Args[i], nil
}

// HostFunc is a kernel's Go implementation, which devices without a GPU run. It must compute
// exactly what the device kernel computes for the whole grid, and return an error instead of
// panicking on arguments it cannot use.
type HostFunc func(l *HostLaunch) error

// KernelSpec describes a kernel in both of its forms.
type KernelSpec struct {
	// Name is the kernel's entry point in the PTX module (an extern "C" name).
	Name string
	// PTX is the text of the module holding the kernel; kernels that share a module share the
	// same slice. Empty for a kernel that only has a Go implementation.
	PTX []byte
	// Host is the Go implementation. Nil for a kernel that only runs on a GPU.
	Host HostFunc
	// Args lists the parameter kinds in order; launches with other kinds are refused with
	// ErrBadArg before anything is enqueued.
	Args []ArgKind
}

var registry = struct {
	sync.RWMutex
	specs map[string]KernelSpec
}{specs: map[string]KernelSpec{}}

// RegisterKernel makes a kernel available to every device by name. Registering a name twice
// is an error.
func RegisterKernel(spec KernelSpec) error {
	if spec.Name == "" {
		return fmt.Errorf("gpu: RegisterKernel: empty name")
	}
	if spec.Host == nil && len(spec.PTX) == 0 {
		return fmt.Errorf("gpu: RegisterKernel %q: neither PTX nor a Go implementation", spec.Name)
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.specs[spec.Name]; dup {
		return fmt.Errorf("gpu: RegisterKernel %q: already registered", spec.Name)
	}
	registry.specs[spec.Name] = spec
	return nil
}

// LookupKernel returns the registered spec of a kernel.
func LookupKernel(name string) (KernelSpec, error) {
	registry.RLock()
	defer registry.RUnlock()
	spec, ok := registry.specs[name]
	if !ok {
		return KernelSpec{}, fmt.Errorf("%w: %q", ErrNoKernel, name)
	}
	return spec, nil
}

// Kernels lists the registered kernel names in order.
func Kernels() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.specs))
	for n := range registry.specs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Float32s views b as float32 values (little-endian, native). b's length must be a multiple
// of 4 and its address 4-byte aligned, as device and host buffers are.
func Float32s(b []byte) ([]float32, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if len(b)%4 != 0 || uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		return nil, fmt.Errorf("%w: %d bytes are not an aligned float32 array", ErrBadArg, len(b))
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4), nil
}

// Int32s views b as int32 values, like Float32s.
func Int32s(b []byte) ([]int32, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if len(b)%4 != 0 || uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		return nil, fmt.Errorf("%w: %d bytes are not an aligned int32 array", ErrBadArg, len(b))
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(&b[0])), len(b)/4), nil
}
