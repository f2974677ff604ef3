package cpu

import (
	"errors"
	"fmt"
	"time"
)

// Option configures a Device.
type Option func(*config) error

type config struct {
	name        string
	copyEngines int
	timing      Timing
	delayMax    time.Duration
	delaySeed   int64
	faults      []func(OpInfo) bool
	memLimit    int64
	trace       func(Span)
}

func defaultConfig() config {
	return config{copyEngines: 2}
}

// Timing is a model of how long operations take. Each engine is held for the modelled
// duration of an operation or for the time the operation really took, whichever is longer.
// Zero fields add nothing.
type Timing struct {
	// H2DBytesPerSec and D2HBytesPerSec are the bandwidths of the copy engines.
	H2DBytesPerSec, D2HBytesPerSec float64
	// D2DBytesPerSec is the bandwidth of device→device copies.
	D2DBytesPerSec float64
	// CopyLatency is added to every copy.
	CopyLatency time.Duration
	// LaunchLatency is added to every kernel launch.
	LaunchLatency time.Duration
	// KernelTime is the fixed time of one launch (one batch, when a batch is one launch).
	KernelTime time.Duration
	// KernelNsPerThread adds this many nanoseconds for each thread of the launch grid.
	KernelNsPerThread float64
}

func (t Timing) validate() error {
	for _, v := range []float64{t.H2DBytesPerSec, t.D2HBytesPerSec, t.D2DBytesPerSec, t.KernelNsPerThread} {
		if v < 0 {
			return errors.New("cpu: negative bandwidth or kernel time in Timing")
		}
	}
	if t.CopyLatency < 0 || t.LaunchLatency < 0 || t.KernelTime < 0 {
		return errors.New("cpu: negative latency in Timing")
	}
	return nil
}

func (t Timing) copyTime(n int, bytesPerSec float64) time.Duration {
	d := t.CopyLatency
	if bytesPerSec > 0 {
		d += time.Duration(float64(n) / bytesPerSec * float64(time.Second))
	}
	return d
}

func (t Timing) kernelTime(threads int) time.Duration {
	return t.LaunchLatency + t.KernelTime + time.Duration(float64(threads)*t.KernelNsPerThread)
}

// Trace calls fn after each copy or launch with the span its engine was held. fn is called
// from the stream goroutines, concurrently; it must be quick, since the stream waits for it.
func Trace(fn func(Span)) Option {
	return func(c *config) error {
		if fn == nil {
			return errors.New("cpu: Trace(nil)")
		}
		c.trace = fn
		return nil
	}
}

// Name sets the device's name (by default "cpu (N cores)").
func Name(name string) Option {
	return func(c *config) error { c.name = name; return nil }
}

// CopyEngines sets the number of copy engines: 2 (the default) gives host→device and
// device→host copies an engine each, as on a modern GPU; 1 makes them share one.
func CopyEngines(n int) Option {
	return func(c *config) error {
		if n != 1 && n != 2 {
			return fmt.Errorf("cpu: CopyEngines(%d): a device has 1 or 2 copy engines", n)
		}
		c.copyEngines = n
		return nil
	}
}

// WithTiming holds each engine for the durations the model gives (see Timing).
func WithTiming(t Timing) Option {
	return func(c *config) error {
		if err := t.validate(); err != nil {
			return err
		}
		c.timing = t
		return nil
	}
}

// RandomDelays makes every copy and launch wait a random time in [0, max) before it starts,
// drawn from a generator seeded with seed. It makes streams interleave in ever different
// ways, so that a buffer reused before its event completed gets caught.
func RandomDelays(seed int64, max time.Duration) Option {
	return func(c *config) error {
		if max < 0 {
			return fmt.Errorf("cpu: RandomDelays: negative maximum %v", max)
		}
		c.delaySeed, c.delayMax = seed, max
		return nil
	}
}

// MemoryLimit sets the device memory in bytes: AllocDevice fails with gpu.ErrOutOfMemory
// beyond it. Without a limit the device reports the machine's memory.
func MemoryLimit(bytes int64) Option {
	return func(c *config) error {
		if bytes <= 0 {
			return fmt.Errorf("cpu: MemoryLimit(%d): must be positive", bytes)
		}
		c.memLimit = bytes
		return nil
	}
}

// OpKind says what an operation does.
type OpKind int

// Operation kinds seen by FailWhen.
const (
	OpCopyHtoD OpKind = iota + 1
	OpCopyDtoH
	OpCopyDtoD
	OpLaunch
)

func (k OpKind) String() string {
	switch k {
	case OpCopyHtoD:
		return "copy host→device"
	case OpCopyDtoH:
		return "copy device→host"
	case OpCopyDtoD:
		return "copy device→device"
	case OpLaunch:
		return "launch"
	}
	return fmt.Sprintf("OpKind(%d)", int(k))
}

// OpInfo describes an operation about to run, for FailWhen.
type OpInfo struct {
	Kind   OpKind
	Stream int    // the stream's number on the device
	Seq    int64  // the operation's number on its stream, from 1
	Op     string // the description that errors carry, such as "launch scale"
	Kernel string // the kernel's name, for launches
	Bytes  int    // bytes copied, for copies
	// N counts operations of the same family in the order the device starts them, from 1:
	// copies (all three directions together) or launches.
	N int64
}

// ErrInjected is the cause of faults injected by FailCopy, FailLaunch and FailWhen. The
// operation fails with a *gpu.OpError that wraps both it and gpu.ErrDevice.
var ErrInjected = errors.New("cpu: injected fault")

// FailWhen makes every operation for which fail returns true fail with a device fault
// instead of running. fail is called from stream goroutines, one call at a time per
// stream but concurrently across streams.
func FailWhen(fail func(OpInfo) bool) Option {
	return func(c *config) error {
		if fail == nil {
			return errors.New("cpu: FailWhen(nil)")
		}
		c.faults = append(c.faults, fail)
		return nil
	}
}

// FailCopy makes the k-th copy the device starts (counting from 1, all directions) fail with
// a device fault.
func FailCopy(k int64) Option {
	return failNth("FailCopy", k, func(o OpInfo) bool { return o.Kind != OpLaunch })
}

// FailLaunch makes the k-th kernel launch the device starts (counting from 1) fail with a
// device fault.
func FailLaunch(k int64) Option {
	return failNth("FailLaunch", k, func(o OpInfo) bool { return o.Kind == OpLaunch })
}

func failNth(what string, k int64, family func(OpInfo) bool) Option {
	if k < 1 {
		return func(*config) error { return fmt.Errorf("cpu: %s(%d): counts from 1", what, k) }
	}
	return FailWhen(func(o OpInfo) bool { return family(o) && o.N == k })
}
