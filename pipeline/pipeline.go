package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Pipeline is a graph of stages joined by bounded queues. Build it with the stage functions
// of this package, then call Run once. The zero value is not usable; call New.
type Pipeline struct {
	mu      sync.Mutex
	stages  []*stage
	names   map[string]bool
	streams []unconsumed
	errs    []error // build errors, returned by Run
	ran     bool

	base atomic.Pointer[time.Time] // when Run started; nil before

	failOnce sync.Once
	failErr  error
	cancel   context.CancelFunc
	outer    context.Context // the caller's context
}

// unconsumed reports the stage whose output nobody reads, if that is the case.
type unconsumed interface{ orphan() (string, bool) }

// New returns an empty pipeline.
func New() *Pipeline {
	return &Pipeline{names: map[string]bool{}}
}

// stage is one box of the graph: a name, its workers' statistics and the function that
// runs it.
type stage struct {
	p        *Pipeline
	name     string
	kind     string
	cfg      config
	counters []counters
	queue    func() (n, capacity int) // the input queue; nil for sources
	run      func(ctx context.Context)
	finished atomic.Int64 // nanoseconds after the run started; 0 while running
	extra    atomic.Pointer[func() map[string]float64]
	errMu    sync.Mutex // serializes the SkipErrors handler
	drain    func()     // releases what is left in the input queue once the stage has ended; nil: nothing to release

	// Graph links. inputs are the streams the stage reads; outputs counts those it writes.
	// The stage runs under ctx, cancelled with the run and also once every output's
	// consumer has stopped reading (live reaches 0).
	inputs  []interface{ stop() }
	outputs int
	live    atomic.Int64
	ctx     context.Context
	cancel  context.CancelFunc
	retries atomic.Int64 // extra attempts made under Retry

	// explicitBusy marks stages that add busy time themselves instead of deriving it.
	explicitBusy bool
}

// addStage registers a stage of the given kind. workers is the number of counter sets.
func (p *Pipeline) addStage(kind string, cfg config, workers int) *stage {
	p.mu.Lock()
	defer p.mu.Unlock()
	name := cfg.name
	if name == "" {
		name = fmt.Sprintf("%s#%d", kind, len(p.stages)+1)
	}
	if p.names[name] {
		p.errs = append(p.errs, fmt.Errorf("pipeline: two stages are named %q", name))
	}
	if p.ran {
		p.errs = append(p.errs, fmt.Errorf("pipeline: stage %q added after Run", name))
	}
	p.names[name] = true
	s := &stage{p: p, name: name, kind: kind, cfg: cfg, counters: make([]counters, workers)}
	p.stages = append(p.stages, s)
	return s
}

func (p *Pipeline) buildError(err error) {
	p.mu.Lock()
	p.errs = append(p.errs, err)
	p.mu.Unlock()
}

// Run runs every stage until the sources are exhausted and every item has reached a sink,
// or until the first error, or until ctx is cancelled. It returns nil on success; the first
// error (a *StageError naming the stage, and the item where there is one) when a stage
// failed; or ctx.Err() when ctx was cancelled first. Every goroutine the pipeline started
// has ended when Run returns. Run may be called once.
func (p *Pipeline) Run(ctx context.Context) error {
	if err := p.start(); err != nil {
		return err
	}
	p.outer = ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.cancel = cancel

	for _, s := range p.stages {
		s.ctx, s.cancel = context.WithCancel(ctx)
		s.live.Store(int64(s.outputs))
	}
	var wg sync.WaitGroup
	for _, s := range p.stages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.drainInput()
			defer s.finish()
			defer s.stopInputs()
			defer func() {
				if v := recover(); v != nil {
					p.fail(s, s.ctx, recovered(v))
				}
			}()
			s.run(s.ctx)
		}()
	}
	wg.Wait()
	for _, s := range p.stages {
		s.cancel()
	}
	if p.failErr != nil {
		return p.failErr
	}
	return p.outer.Err()
}

// start checks the graph and marks the pipeline as running.
func (p *Pipeline) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ran {
		return ErrAlreadyRun
	}
	p.ran = true
	for _, st := range p.streams {
		if name, ok := st.orphan(); ok {
			p.errs = append(p.errs, fmt.Errorf("pipeline: the output of stage %q is not consumed (end it with a sink such as ForEach, Collect or Discard)", name))
		}
	}
	if len(p.stages) == 0 {
		p.errs = append(p.errs, errors.New("pipeline: no stages"))
	}
	if len(p.errs) > 0 {
		return errors.Join(p.errs...)
	}
	now := time.Now()
	p.base.Store(&now)
	return nil
}

// fail records the first failure and cancels the run. Failures after a cancellation are
// consequences of it and are dropped, so a cancelled run returns the context's error. ctx is
// the context the failing code ran under: for a stage whose consumers have all stopped
// reading it is cancelled while the run is not, and the stage's failures other than panics
// are dropped likewise.
func (p *Pipeline) fail(s *stage, ctx context.Context, err error) {
	if err == nil || isCancel(ctx, err) || p.outer.Err() != nil {
		return
	}
	var pe *PanicError
	if ctx.Err() != nil && !errors.As(err, &pe) {
		return
	}
	var se *StageError
	if !errors.As(err, &se) {
		err = &StageError{Stage: s.name, Err: err}
	}
	p.failOnce.Do(func() {
		p.failErr = err
		p.cancel()
	})
}

// stopInputs tells the producers of the stage's inputs that it reads no more. It runs when
// the stage has ended: after its input ended (the producers have ended too, and it changes
// nothing), after a cancellation, or when the stage stopped early.
func (s *stage) stopInputs() {
	for _, in := range s.inputs {
		in.stop()
	}
}

// outputStopped counts one output whose consumer stopped reading, and cancels the stage once
// none is read.
func (s *stage) outputStopped() {
	if s.live.Add(-1) == 0 {
		s.cancel()
	}
}

// finish freezes the stage's elapsed time.
func (s *stage) finish() {
	s.finished.Store(max(int64(time.Since(*s.p.base.Load())), 1))
}

// drainInput releases the items left in the stage's input queue, waiting for its producer to
// close it. It runs after the stage has ended, and finds the queue empty unless the run was
// cut short.
func (s *stage) drainInput() {
	if s.drain != nil {
		s.drain()
	}
}

// elapsed is the stage's running time so far.
func (s *stage) elapsed() time.Duration {
	base := s.p.base.Load()
	if base == nil {
		return 0
	}
	if f := s.finished.Load(); f != 0 {
		return time.Duration(f)
	}
	return time.Since(*base)
}

// itemError applies the stage's error policy to a failed item that stands for units units of
// work: it returns nil when the item is skipped, or the error that stops the run.
// Cancellation is passed through uncounted. The caller releases the item afterwards.
func (s *stage) itemError(ctx context.Context, c *counters, item any, units int, err error) error {
	if isCancel(ctx, err) {
		return err
	}
	c.errs.Add(1)
	c.errUnits.Add(int64(units))
	var fatal *fatalError
	if errors.As(err, &fatal) {
		return &StageError{Stage: s.name, Item: item, Err: fatal.err}
	}
	se := &StageError{Stage: s.name, Item: item, Err: err}
	if !s.cfg.skip {
		return se
	}
	if h := s.cfg.onError; h != nil {
		s.errMu.Lock()
		defer s.errMu.Unlock()
		h(se)
	}
	return nil
}

// Stats returns a snapshot of every stage's statistics, in the order the stages were added.
// It is safe to call while the pipeline runs.
func (p *Pipeline) Stats() []StageStats {
	p.mu.Lock()
	stages := append([]*stage(nil), p.stages...)
	p.mu.Unlock()
	out := make([]StageStats, len(stages))
	for i, s := range stages {
		out[i] = s.stats()
	}
	return out
}

func (s *stage) stats() StageStats {
	st := StageStats{Name: s.name, Kind: s.kind, Workers: s.cfg.workers, Units: s.cfg.units != nil}
	for i := range s.counters {
		s.counters[i].add(&st, !s.explicitBusy)
	}
	st.Elapsed = s.elapsed() // read after the counters: no busy time past it

	st.Done = s.finished.Load() != 0
	st.Retries = s.retries.Load()
	if s.queue != nil {
		st.QueueLen, st.QueueCap = s.queue()
	}
	if f := s.extra.Load(); f != nil {
		st.Extra = (*f)()
	}
	return st
}

// Bottleneck names the stage whose workers have been busiest since the run started. For the
// bottleneck right now, compare two snapshots with the package function Bottleneck.
func (p *Pipeline) Bottleneck() (StageStats, float64, bool) {
	return Bottleneck(nil, p.Stats())
}
