package pipeline

import (
	"reflect"
	"runtime"
)

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

	retry     *RetryPolicy // nil: no retries
	clone     any          // a func(T) T from Clone; nil: none
	maxWindow int          // MaxWindow; 0: no limit
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

// Clone gives a stage that hands one item to several consumers (Broadcast, Tee and the
// sliding windows) a function that copies an item: the first consumer gets the item itself
// and every other one a copy, so that each consumer owns what it gets and the item is
// released once (see "Dropped items" in the package documentation). fn must return an item
// that is released independently of its argument: a copy, or the same item with a reference
// count raised. Such stages need it for items that may have a Release or Close method (also
// interfaces and slices of them); Run reports a build error otherwise. For an interface type
// whose values never have anything to release, a function that returns its argument will
// do. T must be the stage's item type.
func Clone[T any](fn func(T) T) Option { return func(c *config) { c.clone = fn } }

// MaxWindow closes a time or session window early when it holds n items, which bounds the
// memory of TumblingWindowTime and SessionWindow whatever the input's rate. n < 1 means no
// limit (the default).
func MaxWindow(n int) Option { return func(c *config) { c.maxWindow = max(n, 0) } }

// cloner returns the stage's Clone function for items of type T, or nil when items can be
// shared: they have nothing to release. It records a build error when the stage's items need
// a Clone function and have none, or when the function is for another type.
func cloner[T any](s *stage, what string) func(T) T {
	if s.cfg.clone != nil {
		fn, ok := s.cfg.clone.(func(T) T)
		if !ok {
			s.buildErrorf("Clone takes a %s, but the stage's items are %s", reflect.TypeOf(s.cfg.clone).In(0), reflect.TypeFor[T]())
		}
		return fn
	}
	if holdsReleasable(reflect.TypeFor[T](), nil) {
		s.buildErrorf("%s, and a %s may have a Release or Close method: give the stage a Clone option so that each consumer owns its item (see Clone)", what, reflect.TypeFor[T]())
	}
	return nil
}
