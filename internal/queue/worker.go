package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gpupipe/gpupipe/internal/job"
	"github.com/gpupipe/gpupipe/internal/termsafe"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/pipeline/jsqueue"
	"github.com/gpupipe/gpupipe/pipeline/report"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// WorkOptions configure a worker.
type WorkOptions struct {
	// ExitWhenEmpty returns once the queue holds no message: none waiting, none in flight
	// on any worker. Otherwise the worker waits for more until ctx is done.
	ExitWhenEmpty bool
	// Fetch is how many messages the worker asks for at a time (default 1: a fast worker
	// takes more work, a slow one holds none it is not about to start).
	Fetch int
	// Backoff overrides the delay before a transiently failed file is tried again
	// (default jsqueue.DefaultBackoff).
	Backoff func(n int) time.Duration
	// Pause is the wait before a run that stopped on an error is started again (default a
	// second); it doubles while runs keep stopping, up to 30 seconds.
	Pause time.Duration
	// Log receives a line for each run that stopped on an error (its files are retried).
	Log io.Writer
}

// Work runs the job's pipeline (cfg, with the job's settings) on the queue's messages until
// ctx is done or, with ExitWhenEmpty, the queue is empty. A run that stops on an error (a
// device fault) has its files retried and is started again, after a pause that grows while
// runs keep failing. It returns the counts of every run together, and ctx's error after a
// cancellation.
func (q *Queue) Work(ctx context.Context, cfg job.Config, opts WorkOptions) (report.Counts, error) {
	var total report.Counts
	j, err := q.Job(ctx)
	if err != nil {
		return total, err
	}
	src, err := jsqueue.New(ctx, q.cons, jsqueue.Options{
		MaxDeliver: j.MaxDeliver, Backoff: opts.Backoff, Fetch: opts.Fetch, UntilEmpty: opts.ExitWhenEmpty,
		Done: func(ctx context.Context, m jetstream.Msg) error {
			return q.record(ctx, "done", m, record{})
		},
		Failed: func(ctx context.Context, m jetstream.Msg, reason error) error {
			return q.record(ctx, "failed", m, record{Reason: reason.Error()})
		},
		Dead: func(ctx context.Context, m jetstream.Msg, n int, reason error) error {
			return q.record(ctx, "dead", m, record{Reason: reason.Error(), Deliveries: n})
		},
	})
	if err != nil {
		return total, err
	}
	defer src.Close()
	cfg.Queue = &files{q: q, job: j, src: src}
	pause, failures := opts.Pause, 0
	if pause <= 0 {
		pause = time.Second
	}
	for {
		rep, err := job.Run(ctx, cfg)
		total.Found += rep.Counts.Found
		total.Done += rep.Counts.Done
		total.SkippedExisting += rep.Counts.SkippedExisting
		total.Failed += rep.Counts.Failed
		if err == nil || ctx.Err() != nil {
			return total, err
		}
		if rep.Counts.Found == 0 {
			// Nothing was taken: the run cannot start (an output folder it cannot make).
			if failures++; failures >= 5 {
				return total, err
			}
		} else {
			failures = 0
		}
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, "imgpipe: worker: the run stopped: %s; its files are retried, starting again in %v\n",
				termsafe.Name(err.Error()), pause)
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
	}
}

// record writes the outcome record of a message's file.
func (q *Queue) record(ctx context.Context, kind string, m jetstream.Msg, rec record) error {
	var msg message
	if err := json.Unmarshal(m.Data(), &msg); err != nil {
		return err
	}
	return q.put(ctx, kind, msg, rec)
}

// files is the queue's messages as input files for job.Run.
type files struct {
	q   *Queue
	job Job
	src *jsqueue.Source
}

var _ pipeline.Queue[walk.File] = (*files)(nil)

// Next returns the next message's file. A message that is not one of this job's files is
// terminated with the reason and skipped.
func (f *files) Next(ctx context.Context) (walk.File, pipeline.Acker, error) {
	for {
		m, ack, err := f.src.Next(ctx)
		if err != nil {
			return walk.File{}, nil, err
		}
		var msg message
		if err := json.Unmarshal(m.Data(), &msg); err != nil || msg.Rel == "" {
			_ = ack.Term(fmt.Errorf("not a file message: %q", m.Data()))
			continue
		}
		if msg.Job != f.job.ID {
			_ = ack.Term(fmt.Errorf("%s: queued for job %s, the queue runs job %s", msg.path(), msg.Job, f.job.ID))
			continue
		}
		file := walk.File{Root: msg.Root, Rel: msg.Rel}
		if !strings.Contains(msg.Root, "://") {
			// The size and identity are a walk's; a file that cannot be seen fails when
			// it is read, with the reason.
			if info, err := os.Stat(file.Path()); err == nil {
				file.Size = info.Size()
				file.ID, _ = walk.IDOf(info)
			}
		}
		return file, ack, nil
	}
}

// IsNoJob reports whether err says that no job was submitted to the queue.
func IsNoJob(err error) bool { return errors.Is(err, ErrNoJob) }
