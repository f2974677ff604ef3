package cpu

import (
	"errors"
	"fmt"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/internal/devkit"
)

// kernel is a registered kernel resolved for a device: the device runs spec.Host.
type kernel struct {
	dev  *Device
	spec gpu.KernelSpec
}

func (k *kernel) Name() string { return k.spec.Name }

// Launch checks the arguments now and enqueues the kernel's Go implementation on the
// compute engine. Pointer arguments become the buffer's memory from the offset to its end,
// fetched when the stream reaches the launch.
func (s *stream) Launch(k gpu.Kernel, grid, block gpu.Dim3, args ...gpu.Arg) error {
	kn, ok := k.(*kernel)
	if !ok || kn == nil || kn.dev != s.dev {
		return fmt.Errorf("%w: kernel", gpu.ErrForeign)
	}
	if err := checkDims(kn.spec.Name, grid, block); err != nil {
		return err
	}
	if err := devkit.CheckArgs(kn.spec, args); err != nil {
		return err
	}
	mems, err := s.dev.pointerArgs(kn.spec.Name, args)
	if err != nil {
		return err
	}
	args = append([]gpu.Arg(nil), args...) // the caller may reuse its slice
	model := s.dev.cfg.timing.kernelTime(grid.Count() * block.Count())
	run := func(info OpInfo) error {
		launch, err := hostLaunch(grid, block, args, mems)
		if err != nil {
			return err
		}
		return s.dev.compute.run(info, model, s.dev.cfg.trace, func() error { return callHost(kn.spec, launch) })
	}
	info := OpInfo{Kind: OpLaunch, Op: "launch " + kn.spec.Name, Kernel: kn.spec.Name}
	return s.enqueue(op{info: info, run: run})
}

func checkDims(name string, grid, block gpu.Dim3) error {
	for _, v := range []int{grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z} {
		if v < 0 {
			return fmt.Errorf("%w: %s launched with a negative dimension (grid %v, block %v)", gpu.ErrBadArg, name, grid, block)
		}
	}
	return nil
}

// pointerArgs checks every argument's kind, and that pointers point into live buffers of
// this device; it returns the memory of each pointer argument (nil for scalars).
func (d *Device) pointerArgs(name string, args []gpu.Arg) ([]*memory, error) {
	mems := make([]*memory, len(args))
	for i, a := range args {
		if a.Kind.Size() == 0 {
			return nil, fmt.Errorf("%w: %s argument %d has kind %v", gpu.ErrBadArg, name, i, a.Kind)
		}
		if a.Kind != gpu.KindPtr {
			continue
		}
		what := fmt.Sprintf("%s argument %d", name, i)
		if a.Buf == nil {
			return nil, fmt.Errorf("%w: %s is a nil buffer", gpu.ErrBadArg, what)
		}
		b, err := d.devOf(what, a.Buf)
		if err != nil {
			return nil, err
		}
		if err := devkit.CheckRange(what, a.Off, 0, b.size); err != nil {
			return nil, err
		}
		mems[i] = &b.memory
	}
	return mems, nil
}

// hostLaunch resolves the arguments when the launch runs: a buffer freed since the launch
// was enqueued is a fault.
func hostLaunch(grid, block gpu.Dim3, args []gpu.Arg, mems []*memory) (*gpu.HostLaunch, error) {
	return devkit.NewHostLaunch(grid, block, args, func(i int) ([]byte, error) {
		return mems[i].bytes(fmt.Sprintf("argument %d", i))
	})
}

// callHost runs a kernel's Go implementation as a device would run the kernel: a returned
// error or a panic (in the calling goroutine) is a device fault, never a crash.
func callHost(spec gpu.KernelSpec, l *gpu.HostLaunch) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: kernel %s panicked: %v", gpu.ErrDevice, spec.Name, r)
		}
	}()
	if err := spec.Host(l); err != nil {
		if errors.Is(err, gpu.ErrDevice) {
			return err
		}
		return fmt.Errorf("%w: %w", gpu.ErrDevice, err)
	}
	return nil
}
