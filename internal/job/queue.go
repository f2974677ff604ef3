package job

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gpupipe/gpupipe/internal/termsafe"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/output"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// A run fed by a queue (Config.Queue) takes its input files from the queue instead of
// walking Inputs, and settles each file's acknowledgement once, by what became of it:
//
//	output written, or already there               Done       (at-least-once: a file
//	                                                           delivered twice finds its
//	                                                           output there, or rewrites
//	                                                           the same bytes)
//	failed writing (storage)                       Retry      later, up to the queue's limit
//	failed before (unreadable, corrupt, refused)   Term       recorded with its reason
//	the run stopped on an error (a device fault)   Retry
//	the run was cancelled                          HandBack
//
// Files are followed from the queue to the write stage by path: the stages between hold
// images, not messages, and a failure names its file (StageError.ItemLabel), so the path
// finds the acknowledgement whatever the stage. A path delivered twice while the first
// delivery is still in flight (its acknowledgement wait ran out) settles both.

// acks are the acknowledgements of the files a queue-fed run holds, by path.
type acks struct {
	mu sync.Mutex
	m  map[string][]*pipeline.Ack
}

func (a *acks) add(path string, ack *pipeline.Ack) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string][]*pipeline.Ack{}
	}
	a.m[path] = append(a.m[path], ack)
}

// take removes and returns the acknowledgements of path.
func (a *acks) take(path string) []*pipeline.Ack {
	a.mu.Lock()
	defer a.mu.Unlock()
	got := a.m[path]
	delete(a.m, path)
	return got
}

// rest removes and returns every acknowledgement left.
func (a *acks) rest() []*pipeline.Ack {
	a.mu.Lock()
	defer a.mu.Unlock()
	var got []*pipeline.Ack
	for _, as := range a.m {
		got = append(got, as...)
	}
	a.m = nil
	return got
}

// queueSource takes the input files from the queue. A file counts as found when it is
// taken; the progress bar's total grows with them.
func (r *run) queueSource() *pipeline.Stream[walk.File] {
	msgs := pipeline.FromQueue(r.p, r.cfg.Queue, pipeline.Name("queue"))
	return pipeline.Map(msgs, func(_ context.Context, m pipeline.Acked[walk.File]) (walk.File, error) {
		r.rec.Found(1)
		if r.prog != nil {
			r.prog.AddTotal(1)
		}
		r.acks.add(m.Value.Path(), m.Ack)
		return m.Value, nil
	}, pipeline.Name("take"))
}

// settle resolves the acknowledgements of path: done when err is nil, failed otherwise
// (retried when err is marked pipeline.Transient). Outside a queue-fed run it does nothing.
func (r *run) settle(path string, err error) {
	if r.cfg.Queue == nil {
		return
	}
	for _, a := range r.acks.take(path) {
		var qerr error
		if err == nil {
			qerr = a.Done()
		} else {
			qerr = a.Fail(err)
		}
		if qerr != nil {
			// The message comes back after the queue's wait: the output is idempotent.
			r.logf("imgpipe: %s: queue: %s\n", termsafe.Name(path), termsafe.Name(qerr.Error()))
		}
	}
}

// settleFailure settles a failed file: a write failure (storage) may pass and is retried;
// anything before it (the file unreadable, corrupt, too large, an output that would
// replace an input) would fail again the same way.
func (r *run) settleFailure(e *pipeline.StageError) {
	err := fmt.Errorf("%s: %w", e.Stage, e.Err)
	if e.Stage == "write" {
		err = pipeline.Transient(err)
	}
	r.settle(e.ItemLabel(), err)
}

// settleRest settles what a queue-fed run still holds when it ends: handed back after a
// cancellation, retried after an error that stopped the run (a device fault: the files
// themselves are not to blame).
func (r *run) settleRest(ctx context.Context, runErr error) {
	if r.cfg.Queue == nil {
		return
	}
	for _, a := range r.acks.rest() {
		if runErr == nil || ctx.Err() != nil || errors.Is(runErr, context.Canceled) {
			a.Release()
		} else {
			_ = a.Retry(pipeline.Transient(runErr))
		}
	}
}

// Plan checks a job's outputs as Run does before any work (no two inputs make one output;
// see output.Writer.Plan), then calls fn for each input file in the order a run takes them:
// what a queue's submitter publishes. Inputs and the output may be store URLs, opened as a
// run opens them (OpenInputs, OpenOutput); the files of a store carry it (walk.File.Store).
// A problem with one path below an input is named on cfg.Log and skipped; so is a file whose
// existing output would replace an input of the job (the workers, which see one file at a
// time, could not tell), and those are counted in refused. A file whose output is already
// there is passed to fn all the same: its worker finds it done.
func Plan(ctx context.Context, cfg Config, fn func(walk.File) error) (refused int, err error) {
	if cfg.Output == "" {
		return 0, fmt.Errorf("no output folder")
	}
	r, err := newRun(cfg)
	if err != nil {
		return 0, err
	}
	defer r.close()
	if err := r.open(ctx); err != nil {
		return 0, err
	}
	if err := r.planOutputs(ctx); err != nil {
		return 0, err
	}
	opts := r.walkOptions()
	opts.OnError = func(path string, err error) error {
		var we *walk.Error
		if errors.As(err, &we) {
			err = we.Err
		}
		r.logFailure(path, "walk", err)
		return nil
	}
	err = WalkInputs(ctx, r.inputs, opts, func(f walk.File) error {
		// Pending finds an existing output and refuses it when it is an input. Another
		// error (the store did not answer) is the worker's to meet: it checks again.
		var oe *output.Error
		if _, err := r.out.Pending(ctx, f); errors.As(err, &oe) && oe.Op == "plan" {
			r.logFailure(f.Path(), "pending", err)
			refused++
			return nil
		}
		return fn(f)
	})
	return refused, err
}
