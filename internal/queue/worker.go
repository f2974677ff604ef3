package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gpupipe/gpupipe/internal/job"
	"github.com/gpupipe/gpupipe/internal/metrics"
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
	// Log receives a line for each run that stopped on an error (its files are retried),
	// and one for each file that failed before a run could take it (a store's file that is
	// no longer there).
	Log io.Writer
	// Metrics, when set, exports the statistics of the run in progress (cfg.Metrics) and the
	// queue's lag: the job's messages not yet done (waiting, or in flight on any worker),
	// read from the server every LagInterval (default 2 seconds).
	Metrics     *metrics.Metrics
	LagInterval time.Duration
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
	if opts.Metrics != nil {
		cfg.Metrics = opts.Metrics
		stop := q.watchLag(ctx, opts.Metrics.QueueLag(), opts.LagInterval)
		defer stop()
	}
	pause, failures := opts.Pause, 0
	if pause <= 0 {
		pause = time.Second
	}
	for {
		feed := &files{q: q, job: j, src: src, log: opts.Log}
		cfg.Queue = feed
		rep, err := job.Run(ctx, cfg)
		feed.close()
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

// watchLag sets lag to the job's messages not yet done (the consumer's pending and
// acknowledgement-pending counts) now and every interval, until ctx is done or the returned
// stop is called. A server that does not answer leaves the last value.
func (q *Queue) watchLag(ctx context.Context, lag prometheus.Gauge, every time.Duration) (stop func()) {
	if every <= 0 {
		every = 2 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if n, err := q.lag(ctx); err == nil {
				lag.Set(float64(n))
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// lag is the number of the job's messages not yet done: waiting, or delivered without an
// outcome yet.
func (q *Queue) lag(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := q.cons.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(max(info.NumAckPending, 0)), nil
}

// files is the queue's messages as input files for one job.Run.
type files struct {
	q   *Queue
	job Job
	src *jsqueue.Source
	log io.Writer

	mu    sync.Mutex
	roots map[string]opened // the stores the messages name, opened once for the run
}

// opened is a store root, or why it could not be opened.
type opened struct {
	in  job.Input
	err error
}

var _ pipeline.Queue[walk.File] = (*files)(nil)

// Next returns the next message's file. A message that is not one of this job's files is
// terminated with the reason and skipped, as is a store's file that is no longer there or
// cannot be read: each fails for good, recorded with its reason. A store that does not
// answer has the file retried.
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
		if msg.url() {
			file, err := f.stat(ctx, msg)
			if err == nil {
				return file, ack, nil
			}
			if ctx.Err() != nil {
				_ = ack.HandBack()
				return walk.File{}, nil, ctx.Err()
			}
			f.logf("imgpipe: %s: stat: %s\n", termsafe.Name(msg.path()), termsafe.Name(strings.TrimPrefix(err.Error(), msg.path()+": ")))
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, errNoStore) {
				_ = ack.Term(fmt.Errorf("stat: %w", err))
			} else {
				_ = ack.Retry(pipeline.Transient(fmt.Errorf("stat: %w", err)))
			}
			continue
		}
		file := walk.File{Root: msg.Root, Rel: msg.Rel}
		// The size and identity are a walk's; a file that cannot be seen fails when
		// it is read, with the reason.
		if info, err := os.Stat(file.Path()); err == nil {
			file.Size = info.Size()
			file.ID, _ = walk.IDOf(info)
		}
		return file, ack, nil
	}
}

// errNoStore marks a message's root that cannot be opened (a URL the store's driver
// refuses): every file of it would fail alike.
var errNoStore = errors.New("cannot open the store")

// stat returns the file of a message whose root is a store's URL, as a walk of the store
// gives it, with its store (walk.File.Store): the store is opened on the first message
// that names it and kept for the run.
func (f *files) stat(ctx context.Context, msg message) (walk.File, error) {
	f.mu.Lock()
	o, ok := f.roots[msg.Root]
	if !ok {
		o.in, o.err = job.OpenInput(ctx, msg.Root)
		if o.err != nil {
			o.err = fmt.Errorf("%w: %w", errNoStore, o.err)
		}
		if f.roots == nil {
			f.roots = map[string]opened{}
		}
		f.roots[msg.Root] = o
	}
	f.mu.Unlock()
	if o.err != nil {
		return walk.File{}, o.err
	}
	return o.in.Stat(ctx, msg.Rel)
}

// close closes the stores the run opened, once the run has ended: its files are read.
func (f *files) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.roots {
		if o.in != nil {
			_ = o.in.Close()
		}
	}
	f.roots = nil
}

func (f *files) logf(format string, args ...any) {
	if f.log != nil {
		fmt.Fprintf(f.log, format, args...)
	}
}

// IsNoJob reports whether err says that no job was submitted to the queue.
func IsNoJob(err error) bool { return errors.Is(err, ErrNoJob) }
