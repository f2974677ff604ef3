//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu"
	"gorgonia.org/cu"
)

// Device is one NVIDIA GPU driven through its primary CUDA context. It implements
// gpu.Device; all methods are safe for concurrent use.
type Device struct {
	ordinal int
	dev     cu.Device
	ctx     cu.CUContext
	info    Info
	lim     limits
	cfg     config

	// mu is held for reading by every call into the driver and for writing by Close, so
	// that nothing uses the context while it is being released.
	mu     sync.RWMutex
	closed atomic.Bool

	liveMu sync.Mutex
	live   map[resource]struct{} // what Close must release

	streams atomic.Int64 // streams created, to number them
	running sync.Map     // *stream → struct{}: open streams, searched for unfinished launches

	kmu     sync.Mutex // guards modules and kernels; taken after mu
	modules map[moduleKey]cu.Module
	kernels map[string]*kernel
}

var _ gpu.Device = (*Device)(nil)

// resource is a driver object that Close releases if its owner has not.
type resource interface {
	// release frees the driver object. The caller holds the device and its context is
	// current on the calling thread.
	release() error
}

// Count reports how many CUDA devices the driver sees.
func Count() (int, error) {
	n, err := cu.NumDevices()
	if err != nil {
		return 0, fmt.Errorf("cuda: counting devices: %w: %w", gpu.ErrDevice, err)
	}
	return n, nil
}

// Open opens the GPU with the given ordinal (0 for the first). Close it when done: it
// releases everything allocated through it.
func Open(ordinal int, opts ...Option) (*Device, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	n, err := Count()
	if err != nil {
		return nil, err
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("cuda: no device %d: the driver sees %d CUDA device(s)", ordinal, n)
	}
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return nil, fmt.Errorf("cuda: device %d: %w: %w", ordinal, gpu.ErrDevice, err)
	}
	d := &Device{ordinal: ordinal, dev: dev, cfg: cfg, live: map[resource]struct{}{},
		modules: map[moduleKey]cu.Module{}, kernels: map[string]*kernel{}}
	if err := d.describe(); err != nil {
		return nil, err
	}
	// The flags belong to the primary context, which every user of the GPU in this
	// process shares.
	if err := dev.SetPrimaryCtxFlags(cfg.schedule.flags()); err != nil {
		return nil, d.fail("set primary context flags", err)
	}
	if d.ctx, err = dev.RetainPrimaryCtx(); err != nil {
		return nil, d.fail("retain primary context", err)
	}
	return d, nil
}

// describe reads the device's name, attributes and launch limits.
func (d *Device) describe() error {
	name, err := d.dev.Name()
	if err != nil {
		return d.fail("read name", err)
	}
	attrs, err := d.attributes()
	if err != nil {
		return err
	}
	d.info = Info{
		Ordinal:          d.ordinal,
		Name:             name,
		ComputeMajor:     attrs[cu.ComputeCapabilityMajor],
		ComputeMinor:     attrs[cu.ComputeCapabilityMinor],
		Multiprocessors:  attrs[cu.MultiprocessorCount],
		CopyEngines:      attrs[cu.AsyncEngineCount],
		MemoryBusBits:    attrs[cu.GlobalMemoryBusWidth],
		MemoryClockKHz:   attrs[cu.MemoryClockRate],
		PCIBus:           attrs[cu.PciBusID],
		DriverVersion:    cu.Version(),
		UnifiedAddresses: attrs[cu.UnifiedAddressing] == 1,
	}
	d.lim = limits{
		blockThreads: attrs[cu.MaxThreadsPerBlock],
		block:        [3]int{attrs[cu.MaxBlockDimX], attrs[cu.MaxBlockDimY], attrs[cu.MaxBlockDimZ]},
		grid:         [3]int{attrs[cu.MaxGridDimX], attrs[cu.MaxGridDimY], attrs[cu.MaxGridDimZ]},
	}
	if d.info.TotalMemory, err = d.dev.TotalMem(); err != nil {
		return d.fail("read memory size", err)
	}
	return nil
}

// attributes reads the attributes describe needs. The launch limits and the compute
// capability are required; the others only describe the GPU, so one a driver no longer
// reports reads as 0 instead of failing Open.
func (d *Device) attributes() (map[cu.DeviceAttribute]int, error) {
	required := []cu.DeviceAttribute{
		cu.ComputeCapabilityMajor, cu.ComputeCapabilityMinor, cu.MaxThreadsPerBlock,
		cu.MaxBlockDimX, cu.MaxBlockDimY, cu.MaxBlockDimZ,
		cu.MaxGridDimX, cu.MaxGridDimY, cu.MaxGridDimZ,
	}
	optional := []cu.DeviceAttribute{
		cu.MultiprocessorCount, cu.AsyncEngineCount, cu.GlobalMemoryBusWidth,
		cu.MemoryClockRate, cu.PciBusID, cu.UnifiedAddressing,
	}
	got := make(map[cu.DeviceAttribute]int, len(required)+len(optional))
	for _, a := range required {
		v, err := d.dev.Attribute(a)
		if err != nil {
			return nil, d.fail(fmt.Sprintf("read attribute %d", a), err)
		}
		got[a] = v
	}
	for _, a := range optional {
		got[a], _ = d.dev.Attribute(a)
	}
	return got, nil
}

// Info describes the GPU.
func (d *Device) Info() Info { return d.info }

// Name is the GPU's marketing name, such as "NVIDIA H100 80GB HBM3".
func (d *Device) Name() string { return d.info.Name }

// Kind is "cuda".
func (d *Device) Kind() string { return "cuda" }

// Memory reports free and total device memory in bytes.
func (d *Device) Memory() (free, total int64, err error) {
	if err := d.enter(); err != nil {
		return 0, 0, err
	}
	defer d.leave()
	free, total, err = cu.MemInfo()
	if err != nil {
		return 0, 0, d.fail("read free memory", err)
	}
	return free, total, nil
}

// enter prepares the calling goroutine for driver calls: it holds the device open, locks the
// goroutine to its OS thread and makes the device's context current there. Every enter is
// paired with a leave.
func (d *Device) enter() error {
	d.mu.RLock()
	if d.closed.Load() {
		d.mu.RUnlock()
		return fmt.Errorf("cuda: device %d: %w", d.ordinal, gpu.ErrClosed)
	}
	runtime.LockOSThread()
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		runtime.UnlockOSThread()
		d.mu.RUnlock()
		return &lostContext{ordinal: d.ordinal, err: err}
	}
	return nil
}

// lostContext is a failure to make the device's context current on the calling thread, which
// a driver may refuse once a fault in a kernel has broken the context. Streams and events
// report it as their sticky *gpu.OpError, like the fault itself; elsewhere it reads like any
// failure of the device.
type lostContext struct {
	ordinal int
	err     error // the driver's
}

func (e *lostContext) Error() string {
	return fmt.Sprintf("cuda: device %d: make context current: %v: %v", e.ordinal, gpu.ErrDevice, e.err)
}

func (e *lostContext) Unwrap() []error { return []error{gpu.ErrDevice, e.err} }

// contextLost returns the driver's error when err is a failure to make the context current,
// else nil.
func contextLost(err error) error {
	var l *lostContext
	if errors.As(err, &l) {
		return l.err
	}
	return nil
}

func (d *Device) leave() {
	runtime.UnlockOSThread()
	d.mu.RUnlock()
}

func (d *Device) track(r resource) {
	d.liveMu.Lock()
	d.live[r] = struct{}{}
	d.liveMu.Unlock()
}

// release frees r now unless Close already did. It is how Free and Close of buffers,
// streams and events end.
func (d *Device) release(r resource) error {
	if err := d.enter(); err != nil {
		if errors.Is(err, gpu.ErrClosed) {
			return nil // Close released it with the context.
		}
		return err
	}
	defer d.leave()
	d.liveMu.Lock()
	delete(d.live, r)
	d.liveMu.Unlock()
	return r.release()
}

// unfinishedLaunch finds an unfinished launch on a stream other than s.
func (d *Device) unfinishedLaunch(s *stream) (id int, mark *launchMark) {
	d.running.Range(func(k, _ any) bool {
		o := k.(*stream)
		if p := o.pending.Load(); o != s && p != nil {
			id, mark = o.id, p
			return false
		}
		return true
	})
	return id, mark
}

// Close waits for all work on the device, releases every buffer, stream, event and module
// still allocated through it, and releases the primary context. Host buffers return nil from
// Bytes afterwards. Closing twice returns ErrClosed.
//
// When the context can no longer be made current (a fault broke it), nothing in it can be
// released one by one: Close reports the failure and still releases the primary context,
// which destroys it with everything in it once no one else in the process holds it, so that
// a later Open starts afresh.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed.Swap(true) {
		return fmt.Errorf("cuda: device %d: %w", d.ordinal, gpu.ErrClosed)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		d.liveMu.Lock()
		clear(d.live)
		d.liveMu.Unlock()
		d.kmu.Lock()
		clear(d.modules)
		clear(d.kernels)
		d.kmu.Unlock()
		errs := []error{d.fail("make context current", err)}
		if err := d.dev.ReleasePrimaryCtx(); err != nil {
			errs = append(errs, d.fail("release primary context", err))
		}
		return errors.Join(errs...)
	}
	var errs []error
	if err := cu.Synchronize(); err != nil {
		errs = append(errs, d.fail("synchronize", err))
	}
	d.liveMu.Lock()
	for r := range d.live {
		if err := r.release(); err != nil {
			errs = append(errs, err)
		}
	}
	clear(d.live)
	d.liveMu.Unlock()
	errs = append(errs, d.unloadModules())
	if err := d.dev.ReleasePrimaryCtx(); err != nil {
		errs = append(errs, d.fail("release primary context", err))
	}
	return errors.Join(errs...)
}

// moduleKey identifies a PTX module by the memory of its text: kernels of one module share
// the same slice.
type moduleKey struct {
	p *byte
	n int
}

func keyOf(ptx []byte) moduleKey { return moduleKey{unsafe.SliceData(ptx), len(ptx)} }
