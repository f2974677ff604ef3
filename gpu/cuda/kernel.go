//go:build cuda

package cuda

import (
	"bytes"
	"errors"
	"fmt"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu"
	"gorgonia.org/cu"
)

// kernel is a function of a loaded PTX module.
type kernel struct {
	dev        *Device
	spec       gpu.KernelSpec
	fn         cu.Function
	maxThreads int // threads per block this function can be launched with
}

var _ gpu.Kernel = (*kernel)(nil)

// Name is the kernel's registered name.
func (k *kernel) Name() string { return k.spec.Name }

// jitLogSize is the room given to the PTX compiler's error log.
const jitLogSize = 16 << 10

// Kernel looks a kernel up in the registry of package gpu and prepares it for this device.
// The first kernel of a PTX module loads the module, which the driver compiles for this GPU;
// later calls are map look-ups.
func (d *Device) Kernel(name string) (gpu.Kernel, error) {
	spec, err := gpu.LookupKernel(name)
	if err != nil {
		return nil, err
	}
	if len(spec.PTX) == 0 {
		return nil, fmt.Errorf("%w: %q has no PTX: it runs only on the CPU device", gpu.ErrNoKernel, name)
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	d.kmu.Lock()
	defer d.kmu.Unlock()
	if k, ok := d.kernels[name]; ok {
		return k, nil
	}
	mod, err := d.module(spec.PTX)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", gpu.ErrNoKernel, name, err)
	}
	fn, err := mod.Function(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not in its PTX module: %w", gpu.ErrNoKernel, name, err)
	}
	most, err := fn.Attribute(cu.FnMaxThreadsPerBlock)
	if err != nil {
		return nil, d.fail("read kernel attributes of "+name, err)
	}
	k := &kernel{dev: d, spec: spec, fn: fn, maxThreads: most}
	d.kernels[name] = k
	return k, nil
}

// module returns the loaded module of ptx, loading it the first time. The caller holds the
// device and kmu.
func (d *Device) module(ptx []byte) (cu.Module, error) {
	key := keyOf(ptx)
	if m, ok := d.modules[key]; ok {
		return m, nil
	}
	// The compiler writes its log while the call runs; C memory keeps the buffer where the
	// driver was told it is, whatever the Go runtime does meanwhile.
	raw, err := pageableAlloc(jitLogSize)
	if err != nil {
		return cu.Module{}, err
	}
	defer pageableFree(raw)
	log := unsafe.Slice((*byte)(raw), jitLogSize)
	clear(log)
	m, err := cu.LoadDataEx(string(ptx), &cu.JITErrorLogBuffer{Buffer: log})
	if err != nil {
		return cu.Module{}, jitError(d.info, err, log)
	}
	d.modules[key] = m
	return m, nil
}

// jitError reports a failed module load with the compiler's log, which says which line of
// the PTX it could not compile and why.
func jitError(info Info, err error, log []byte) error {
	if i := bytes.IndexByte(log, 0); i >= 0 {
		log = log[:i]
	}
	msg := fmt.Sprintf("compiling PTX for %s (sm_%d%d)", info.Name, info.ComputeMajor, info.ComputeMinor)
	if text := bytes.TrimSpace(log); len(text) > 0 {
		return fmt.Errorf("%s: %w\n%s", msg, err, text)
	}
	return fmt.Errorf("%s: %w (the compiler left no log)", msg, err)
}

// unloadModules unloads every module. The caller holds the device exclusively with its
// context current.
func (d *Device) unloadModules() error {
	d.kmu.Lock()
	defer d.kmu.Unlock()
	var errs []error
	for key, m := range d.modules {
		if err := m.Unload(); err != nil {
			errs = append(errs, d.fail("unload module", err))
		}
		delete(d.modules, key)
	}
	clear(d.kernels)
	return errors.Join(errs...)
}
