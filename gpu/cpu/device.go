package cpu

import (
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
)

// Device is a gpu.Device whose streams are goroutines and whose memory is Go memory. Create
// it with New. All methods are safe for concurrent use.
type Device struct {
	cfg     config
	h2d     *engine
	d2h     *engine // the same engine as h2d with one copy engine
	compute *engine

	// copies and launches count operations as they start, for fault injection.
	copies, launches atomic.Int64

	rngMu sync.Mutex
	rng   *rand.Rand

	mu         sync.Mutex
	closed     bool
	used       int64
	nextStream int
	hosts      map[*hostBuffer]struct{}
	devs       map[*deviceBuffer]struct{}
	streams    map[*stream]struct{}
	events     map[*event]struct{}
}

var _ gpu.Device = (*Device)(nil)

// New creates a CPU device. Without options it has two copy engines, no timing model, no
// delays, no faults and the machine's memory.
func New(opts ...Option) (*Device, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.name == "" {
		cfg.name = fmt.Sprintf("cpu (%d cores)", runtime.GOMAXPROCS(0))
	}
	d := &Device{
		cfg:     cfg,
		compute: newEngine("compute"),
		rng:     rand.New(rand.NewSource(cfg.delaySeed)),
		hosts:   map[*hostBuffer]struct{}{},
		devs:    map[*deviceBuffer]struct{}{},
		streams: map[*stream]struct{}{},
		events:  map[*event]struct{}{},
	}
	if cfg.copyEngines == 1 {
		d.h2d = newEngine("copy")
		d.d2h = d.h2d
	} else {
		d.h2d, d.d2h = newEngine("h2d"), newEngine("d2h")
	}
	return d, nil
}

// Name is the device's name.
func (d *Device) Name() string { return d.cfg.name }

// Kind is "cpu".
func (d *Device) Kind() string { return "cpu" }

// Memory reports device memory: the MemoryLimit (or the machine's memory) as the total, less
// what AllocDevice has handed out as free.
func (d *Device) Memory() (free, total int64, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, 0, fmt.Errorf("%w: device", gpu.ErrClosed)
	}
	total = d.total()
	return max(total-d.used, 0), total, nil
}

// total is the device memory: the MemoryLimit, or the machine's memory.
func (d *Device) total() int64 {
	if d.cfg.memLimit > 0 {
		return d.cfg.memLimit
	}
	return systemMemory()
}

// NewStream creates a stream and starts its goroutine, which runs until the stream or the
// device is closed.
func (d *Device) NewStream() (gpu.Stream, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, fmt.Errorf("%w: device", gpu.ErrClosed)
	}
	d.nextStream++
	s := newStream(d, d.nextStream)
	d.streams[s] = struct{}{}
	return s, nil
}

// NewEvent creates an event.
func (d *Device) NewEvent() (gpu.Event, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, fmt.Errorf("%w: device", gpu.ErrClosed)
	}
	e := &event{dev: d}
	d.events[e] = struct{}{}
	return e, nil
}

// Kernel resolves a registered kernel. The device runs its Go implementation, so a kernel
// registered with PTX only is refused with gpu.ErrNoKernel.
func (d *Device) Kernel(name string) (gpu.Kernel, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	spec, err := gpu.LookupKernel(name)
	if err != nil {
		return nil, err
	}
	if spec.Host == nil {
		return nil, fmt.Errorf("%w: %q has no Go implementation for the cpu device", gpu.ErrNoKernel, name)
	}
	return &kernel{dev: d, spec: spec}, nil
}

// Close waits for the work enqueued on every stream, then releases all streams, events and
// buffers. Every later use of the device or of anything it created returns an error.
func (d *Device) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return fmt.Errorf("%w: device", gpu.ErrClosed)
	}
	d.closed = true
	streams := keys(d.streams)
	d.mu.Unlock()

	for _, s := range streams {
		s.shutdown()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for b := range d.hosts {
		b.release()
	}
	for b := range d.devs {
		b.release()
	}
	for e := range d.events {
		e.markClosed()
	}
	clear(d.hosts)
	clear(d.devs)
	clear(d.streams)
	clear(d.events)
	d.used = 0
	return nil
}

func (d *Device) check() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("%w: device", gpu.ErrClosed)
	}
	return nil
}

// Live counts what the device has handed out and not yet had back, for leak checks.
type Live struct {
	HostBuffers, DeviceBuffers, Streams, Events int
	DeviceBytes                                 int64
}

// Live reports the buffers, streams and events not yet freed or closed.
func (d *Device) Live() Live {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Live{
		HostBuffers:   len(d.hosts),
		DeviceBuffers: len(d.devs),
		Streams:       len(d.streams),
		Events:        len(d.events),
		DeviceBytes:   d.used,
	}
}

// EngineStats is the work one engine has done.
type EngineStats struct {
	Name  string        // "h2d", "d2h" or "copy" (one shared copy engine), "compute"
	Ops   int64         // operations run
	Bytes int64         // bytes copied (copies only)
	Busy  time.Duration // time the engine was held
}

// EngineStats reports each engine's work so far: the copy engine(s), then compute.
func (d *Device) EngineStats() []EngineStats {
	engines := []*engine{d.h2d, d.d2h, d.compute}
	if d.h2d == d.d2h {
		engines = []*engine{d.h2d, d.compute}
	}
	out := make([]EngineStats, len(engines))
	for i, e := range engines {
		out[i] = e.stats()
	}
	return out
}

// delay sleeps for the random delay of one operation, when RandomDelays asked for one.
func (d *Device) delay() {
	if d.cfg.delayMax <= 0 {
		return
	}
	d.rngMu.Lock()
	wait := time.Duration(d.rng.Int63n(int64(d.cfg.delayMax)))
	d.rngMu.Unlock()
	sleep(wait)
}

// start counts an operation about to run and reports the fault to inject into it, if any.
func (d *Device) start(info OpInfo) (OpInfo, error) {
	if info.Kind == OpLaunch {
		info.N = d.launches.Add(1)
	} else {
		info.N = d.copies.Add(1)
	}
	for _, fail := range d.cfg.faults {
		if fail(info) {
			return info, fmt.Errorf("%w: %w", gpu.ErrDevice, ErrInjected)
		}
	}
	return info, nil
}

func (d *Device) forget(x any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch v := x.(type) {
	case *hostBuffer:
		delete(d.hosts, v)
	case *deviceBuffer:
		if _, ok := d.devs[v]; ok {
			if !v.mapped {
				d.used -= int64(v.size)
			}
			delete(d.devs, v)
		}
	case *stream:
		delete(d.streams, v)
	case *event:
		delete(d.events, v)
	}
}

func keys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

var errSize = errors.New("gpu: allocation size must be positive")
