package cpu

import (
	"sync/atomic"
	"time"
)

// engine is one of the device's execution engines: it runs one operation at a time, and
// operations that want it queue in the order they reach it (channel senders are served
// first come, first served).
type engine struct {
	name  string
	sem   chan struct{}
	ops   atomic.Int64
	bytes atomic.Int64
	busy  atomic.Int64 // nanoseconds
}

func newEngine(name string) *engine {
	return &engine{name: name, sem: make(chan struct{}, 1)}
}

// run holds the engine while work runs, and for at least the modelled duration: a real
// engine is busy for the time the transfer or kernel takes, however fast the host did it.
// trace, when set, hears of the span the engine was held.
func (e *engine) run(info OpInfo, model time.Duration, trace func(Span), work func() error) error {
	e.sem <- struct{}{}
	start := time.Now()
	err := work()
	if rest := model - time.Since(start); rest > 0 {
		sleep(rest)
	}
	end := time.Now()
	e.busy.Add(int64(end.Sub(start)))
	e.ops.Add(1)
	e.bytes.Add(int64(info.Bytes))
	<-e.sem
	if trace != nil {
		trace(Span{Engine: e.name, OpInfo: info, Start: start, End: end})
	}
	return err
}

// Span is the time an engine spent on one operation, reported to the Trace function.
type Span struct {
	Engine string // "h2d", "d2h", "copy" or "compute", as in EngineStats
	OpInfo
	Start, End time.Time
}

func (e *engine) stats() EngineStats {
	return EngineStats{
		Name:  e.name,
		Ops:   e.ops.Load(),
		Bytes: e.bytes.Load(),
		Busy:  time.Duration(e.busy.Load()),
	}
}
