package device

import "github.com/gpupipe/gpupipe/gpu/cpu"

// Option configures the devices Open and OpenAll create. Options for a kind of device that
// is not opened are ignored.
type Option func(*config)

type config struct {
	cpu           []cpu.Option
	writeCombined bool
	schedule      string
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// WithCPU passes options to the CPU device.
func WithCPU(opts ...cpu.Option) Option {
	return func(c *config) { c.cpu = append(c.cpu, opts...) }
}

// WithWriteCombinedUploads makes GPUs allocate upload buffers as write-combined pinned
// memory (see the cuda package's WithWriteCombinedUploads).
func WithWriteCombinedUploads(on bool) Option {
	return func(c *config) { c.writeCombined = on }
}

// WithSchedule sets how host threads wait for a GPU: "blocking" (the default: sleep, leaving
// the cores to other stages), "spin" (poll: lowest latency, a busy core), "yield" or "auto".
// Another name makes opening a GPU fail.
func WithSchedule(name string) Option {
	return func(c *config) { c.schedule = name }
}
