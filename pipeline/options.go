package pipeline

import "runtime"

// Option configures one stage.
type Option func(*config)

type config struct {
	name    string
	workers int
	buffer  int // -1: default
	window  int // OrderedMap only; 0: default
	onError func(*StageError)
	skip    bool
	units   any // a func(T) int from CountUnits; nil: not counted
}

func newConfig(opts []Option) config {
	c := config{workers: 1, buffer: -1}
	for _, o := range opts {
		o(&c)
	}
	if c.buffer < 0 {
		c.buffer = 2 * c.workers
	}
	return c
}

// Name names the stage in errors and statistics. Names must be unique in a pipeline; the
// default is the stage's kind and number, such as "map#2".
func Name(name string) Option { return func(c *config) { c.name = name } }

// Workers sets how many goroutines run the stage's function (default 1). Values below 1
// mean 1. Stages that must see items one at a time (sources, Batch, Collect, Reduce) ignore
// it.
func Workers(n int) Option { return func(c *config) { c.workers = max(n, 1) } }

// AllCores sets Workers to the number of usable CPUs (GOMAXPROCS).
func AllCores() Option { return Workers(runtime.GOMAXPROCS(0)) }

// Buffer sets the capacity of the stage's input queue: how many items the stage upstream may
// produce ahead of this one. The default is twice the number of workers; 0 makes every
// hand-over synchronous. Sources have no input queue and ignore it.
func Buffer(n int) Option { return func(c *config) { c.buffer = max(n, 0) } }

// Window bounds how far an OrderedMap may run ahead of its slowest item: at most n items are
// between its input and its output at once, including those waiting to be emitted in order.
// The default is twice the number of workers, and at least the number of workers.
func Window(n int) Option { return func(c *config) { c.window = n } }

// SkipErrors makes the stage skip items whose function returns an error (or panics) instead
// of stopping the run, except errors marked with Fatal. Each failure is counted in the
// stage's statistics and passed to handler, which may be nil; once the handler has returned,
// the pipeline releases the item (see "Dropped items" in the package documentation), so the
// handler needs not and must not keep it. One stage calls its handler from one goroutine at
// a time; a handler shared by several stages must be safe for concurrent use.
func SkipErrors(handler func(*StageError)) Option {
	return func(c *config) { c.skip, c.onError = true, handler }
}

// CountUnits makes the stage measure its input items in the units of work they stand for,
// such as the images of a batch: an item counts as fn(item) units. The stage's StageStats
// then has Units set, DoneUnits (the units of the items it handled without error) and
// ErrorUnits (those of the items that failed), which the progress display uses to count
// the images of a batch rather than the batches. T must be the stage's input item type;
// Run reports a build error otherwise, and for a source.
//
//	pipeline.ForEach(batches, write, pipeline.CountUnits(func(b []Image) int { return len(b) }))
//
// Cost: one call of fn per item handled or failed.
func CountUnits[T any](fn func(T) int) Option {
	return func(c *config) { c.units = fn }
}
