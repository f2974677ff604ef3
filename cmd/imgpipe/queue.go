package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cheggaaa/pb/v3"
	"github.com/mattn/go-isatty"

	"github.com/gpupipe/gpupipe/internal/job"
	"github.com/gpupipe/gpupipe/internal/metrics"
	"github.com/gpupipe/gpupipe/internal/queue"
	"github.com/gpupipe/gpupipe/internal/termsafe"
	"github.com/gpupipe/gpupipe/pipeline/progress"
	"github.com/gpupipe/gpupipe/stages/blob"
	"github.com/gpupipe/gpupipe/stages/output"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// subcommands are the commands of a job spread over machines through a queue; a command
// line that starts with none of them is a local run.
var subcommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) int{
	"submit": submitCmd,
	"worker": workerCmd,
	"status": statusCmd,
}

const queueUsage = `
A job spread over machines through a NATS JetStream work queue:
  imgpipe submit --queue nats://HOST:PORT/NAME --in DIR|URL [--in ...] --out DIR|URL [processing flags]
  imgpipe worker --queue nats://HOST:PORT/NAME [--device D] [--workers N] [--batch N] [--exit-when-empty] [--metrics ADDR]
  imgpipe status --queue nats://HOST:PORT/NAME [--json] [--wait]
--in and --out name store URLs (s3://BUCKET/PREFIX?QUERY, ...) that every worker reaches, or
folders every worker sees at the same path (a shared file system).
Run imgpipe submit -h (worker -h, status -h) for each command's flags; docs/SCALING.md
compares the queue with --shard.
`

// localOnly are the flags of a local run that a queued job cannot take: what they do needs
// the whole input in one process, or is the business of each worker.
var localOnly = []string{"tensor", "shard-rows", "shard", "dry-run", "report", "demo", "version"}

// workerLocal are the flags each worker chooses for itself: a submitted job does not record
// them.
var workerLocal = []string{"device", "workers", "batch", "slots", "decode-workers", "encode-workers", "progress", "quiet", "metrics"}

// parseSub parses a subcommand's flags, printing its help on -h. It returns errHelp after
// the help.
func parseSub(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return errHelp
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// usageExit reports a usage error the way a local run does.
func usageExit(stderr io.Writer, cmd string, err error) int {
	if errors.Is(err, errHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "imgpipe %s: %v\nRun imgpipe %s -h for usage.\n", cmd, err, cmd)
	return exitUsage
}

func submitCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var raw rawFlags
	fs := newFlagSet(&raw, stderr)
	fs.Init("imgpipe submit", flag.ContinueOnError)
	qurl := fs.String("queue", "", "the queue: `nats://HOST:PORT/NAME`")
	ackWait := fs.Duration("ack-wait", queue.DefaultAckWait, "how long a file may go without news from its worker before another takes it")
	maxDeliver := fs.Int("max-deliver", queue.DefaultMaxDeliver, "`tries` of a file that fails for a reason that may pass (a device fault, a storage error) before it is dead-lettered")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage:\n  imgpipe submit --queue nats://HOST:PORT/NAME --in DIR|URL [--in ...] --out DIR|URL [processing flags]\n\n"+
			"Records the job's settings in the queue and queues one message per input file: a store's URL,\n"+
			"or a path every worker sees alike. Submitting the same job again queues nothing twice (and\n"+
			"queues files added since). The processing flags are a local run's; these are not\n"+
			"taken: --"+strings.Join(localOnly, " --")+" (and each worker chooses --"+strings.Join(workerLocal, " --")+").\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseSub(fs, args, stdout); err != nil {
		return usageExit(stderr, "submit", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, name := range localOnly {
		if set[name] {
			return usageExit(stderr, "submit", fmt.Errorf("--%s is for local runs: a queued job writes image files, file by file", name))
		}
	}
	if *qurl == "" {
		return usageExit(stderr, "submit", errors.New("no queue: give --queue nats://HOST:PORT/NAME"))
	}
	if _, _, err := queue.ParseURL(*qurl); err != nil {
		return usageExit(stderr, "submit", err)
	}
	if *ackWait < time.Second || *maxDeliver < 1 {
		return usageExit(stderr, "submit", errors.New("--ack-wait must be at least 1s and --max-deliver at least 1"))
	}
	// Workers on other machines find the files where this one does: absolute paths.
	for i, in := range raw.in {
		raw.in[i] = absolute(in)
	}
	raw.out = absolute(raw.out)
	o, err := raw.options()
	if err != nil {
		return usageExit(stderr, "submit", err)
	}
	var jobArgs []string
	fs.Visit(func(f *flag.Flag) {
		switch {
		case f.Name == "in" || f.Name == "out" || f.Name == "queue" || f.Name == "ack-wait" || f.Name == "max-deliver",
			slices.Contains(workerLocal, f.Name):
		default:
			jobArgs = append(jobArgs, "--"+f.Name+"="+f.Value.String())
		}
	})
	cfg := o.cfg
	cfg.Log = stderr
	j := queue.Job{Args: jobArgs, Inputs: cfg.Inputs, Output: cfg.Output, AckWait: *ackWait, MaxDeliver: *maxDeliver}
	refused := 0
	s, err := queue.Submit(ctx, *qurl, j, func(yield func(walk.File) error) error {
		var err error
		refused, err = job.Plan(ctx, cfg, yield)
		return err
	})
	var ce *output.CollisionError
	switch {
	case errors.As(err, &ce):
		fmt.Fprint(stderr, collisionMessage(ce))
		return exitUsage
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "imgpipe submit: interrupted after queuing %d files; submit again to queue the rest\n", s.Queued)
		return exitInterrupted
	case err != nil:
		fmt.Fprintf(stderr, "imgpipe submit: %s\n", termsafe.Name(err.Error()))
		return exitSomeFailed
	}
	fmt.Fprintf(stdout, "imgpipe: queued %d files (%d were queued or done before)\n", s.Queued, s.Before)
	if refused > 0 {
		fmt.Fprintf(stderr, "imgpipe submit: %d files not queued: their outputs would replace inputs\n", refused)
		return exitSomeFailed
	}
	return exitOK
}

// absolute makes a local path absolute, and so the folder of a file:// URL; other URLs
// stay as they are.
func absolute(p string) string {
	if blob.IsURL(p) {
		loc, err := blob.Parse(p)
		if err != nil || loc.Scheme != "file" || filepath.IsAbs(loc.Dir) {
			return p // an error is told when the URL is opened
		}
		if loc.Dir, err = filepath.Abs(loc.Dir); err != nil {
			return p
		}
		return loc.String()
	}
	if p == "" || strings.Contains(p, "://") {
		return p
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func workerCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imgpipe worker", flag.ContinueOnError)
	var raw rawFlags
	local := newFlagSet(&raw, stderr) // the defaults and help of the flags a worker chooses
	for _, name := range workerLocal {
		f := local.Lookup(name)
		fs.Var(f.Value, f.Name, f.Usage)
	}
	qurl := fs.String("queue", "", "the queue: `nats://HOST:PORT/NAME`")
	untilEmpty := fs.Bool("exit-when-empty", false, "exit once the job holds no file: none waiting, none in flight on any worker")
	fetch := fs.Int("fetch", 1, "files to take from the queue at a time")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage:\n  imgpipe worker --queue nats://HOST:PORT/NAME [flags]\n\n"+
			"Runs the submitted job's pipeline on files taken from the queue, acknowledging each once its\n"+
			"output is written. Ctrl-C (or SIGTERM) stops taking files, hands back those in flight and\n"+
			"exits 130. With --metrics, serves the run's metrics and the queue's lag (gpupipe_queue_lag_messages)\n"+
			"for as long as the worker runs. Exit status: 0 when the queue is empty (--exit-when-empty),\n"+
			"1 on an error.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseSub(fs, args, stdout); err != nil {
		return usageExit(stderr, "worker", err)
	}
	if *qurl == "" {
		return usageExit(stderr, "worker", errors.New("no queue: give --queue nats://HOST:PORT/NAME"))
	}
	if *fetch < 1 {
		return usageExit(stderr, "worker", fmt.Errorf("--fetch %d: want at least 1", *fetch))
	}
	var m *metrics.Metrics
	if raw.metrics != "" {
		// Served from before the queue is opened to the worker's exit: across its runs.
		m = metrics.New()
		srv, err := metrics.Serve(raw.metrics, m.Registry)
		if err != nil {
			return usageExit(stderr, "worker", fmt.Errorf("--metrics: %s", termsafe.Name(err.Error())))
		}
		defer srv.Close()
		if !raw.quiet {
			fmt.Fprintf(stderr, "imgpipe worker: metrics at %s\n", srv.URL())
		}
	}
	q, err := queue.Open(ctx, *qurl)
	if err != nil {
		fmt.Fprintf(stderr, "imgpipe worker: %s\n", termsafe.Name(err.Error()))
		return exitSomeFailed
	}
	defer q.Close()
	j, err := q.Job(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "imgpipe worker: %s\n", termsafe.Name(err.Error()))
		return exitSomeFailed
	}
	// The job's flags, then this worker's: parsed as one local command line, so that a
	// queued job runs exactly as a local run of the same flags would.
	jobArgs := slices.Clone(j.Args)
	for _, in := range j.Inputs {
		jobArgs = append(jobArgs, "--in", in)
	}
	jobArgs = append(jobArgs, "--out", j.Output)
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(workerLocal, f.Name) {
			jobArgs = append(jobArgs, "--"+f.Name+"="+f.Value.String())
		}
	})
	o, err := parseArgs(jobArgs, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "imgpipe worker: the job's settings: %s\n", termsafe.Name(err.Error()))
		return exitSomeFailed
	}
	cfg := o.cfg
	cfg.Log = stderr
	if !o.quiet {
		mode, _ := progress.ParseMode(o.progress)
		cfg.Progress, cfg.ProgressOutput = mode, stderr
	}
	start := time.Now()
	counts, err := q.Work(ctx, cfg, queue.WorkOptions{ExitWhenEmpty: *untilEmpty, Fetch: *fetch, Log: stderr, Metrics: m})
	if !o.quiet {
		fmt.Fprintf(stderr, "imgpipe worker: %d taken, %d done, %d already there, %d failed in %.1fs\n",
			counts.Found, counts.Done, counts.SkippedExisting, counts.Failed, time.Since(start).Seconds())
	}
	switch {
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "imgpipe worker: interrupted: the files in flight were handed back")
		return exitInterrupted
	case err != nil:
		fmt.Fprintf(stderr, "imgpipe worker: stopped: %s\n", termsafe.Name(err.Error()))
		return exitSomeFailed
	}
	return exitOK
}

func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imgpipe status", flag.ContinueOnError)
	qurl := fs.String("queue", "", "the queue: `nats://HOST:PORT/NAME`")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	wait := fs.Bool("wait", false, "show the job's progress until no file waits or is in flight; exit 0 when every file is done, 1 when some failed")
	mode := fs.String("progress", "auto", "progress `display` with --wait: auto, bar, plain or none")
	quiet := fs.Bool("quiet", false, "with --wait, no progress")
	interval := fs.Duration("interval", time.Second, "how often --wait asks the queue")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage:\n  imgpipe status --queue nats://HOST:PORT/NAME [--json] [--wait]\n\n"+
			"Counts the job's files queued, in flight, done, failed (with reasons) and dead-lettered\n"+
			"(retries exhausted, with the last reason).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseSub(fs, args, stdout); err != nil {
		return usageExit(stderr, "status", err)
	}
	pm, err := progress.ParseMode(*mode)
	if err != nil {
		return usageExit(stderr, "status", err)
	}
	if *qurl == "" {
		return usageExit(stderr, "status", errors.New("no queue: give --queue nats://HOST:PORT/NAME"))
	}
	if *interval <= 0 {
		return usageExit(stderr, "status", errors.New("--interval must be positive"))
	}
	q, err := queue.Open(ctx, *qurl)
	if err != nil {
		fmt.Fprintf(stderr, "imgpipe status: %s\n", termsafe.Name(err.Error()))
		return exitSomeFailed
	}
	defer q.Close()
	if *quiet {
		pm = progress.None
	}
	st, err := q.Status(ctx)
	if err == nil && *wait {
		st, err = waitFinished(ctx, q, st, pm, *interval, stderr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return exitInterrupted
		}
		fmt.Fprintf(stderr, "imgpipe status: %s\n", termsafe.Name(err.Error()))
		return exitSomeFailed
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if st.Failures == nil {
			st.Failures = []queue.Failure{}
		}
		_ = enc.Encode(st)
	} else {
		printStatus(stdout, st)
	}
	if *wait && st.Failed+st.Dead > 0 {
		return exitSomeFailed
	}
	return exitOK
}

// waitFinished polls the queue until no file waits or is in flight, showing the job's
// progress across its workers.
func waitFinished(ctx context.Context, q *queue.Queue, st queue.Status, mode progress.Mode, every time.Duration, w io.Writer) (queue.Status, error) {
	if mode == progress.Auto || mode == progress.Bar {
		mode = progress.Plain
		if f, ok := w.(*os.File); ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
			mode = progress.Bar
		}
	}
	var bar *pb.ProgressBar
	if mode == progress.Bar {
		bar = pb.New(st.Total()).SetWriter(w).SetTemplateString(`{{counters . }} {{bar . }} {{percent . }} {{etime . }} {{string . "counts"}}`).Start()
		defer bar.Finish()
	}
	last, lastLine := "", time.Time{}
	for {
		counts := fmt.Sprintf("%d queued, %d in flight, %d done, %d failed, %d dead-lettered", st.Queued, st.InFlight, st.Done, st.Failed, st.Dead)
		switch {
		case bar != nil:
			bar.SetTotal(int64(st.Total()))
			bar.SetCurrent(int64(st.Done + st.Failed + st.Dead))
			bar.Set("counts", counts)
		case mode == progress.Plain && (counts != last && time.Since(lastLine) >= 2*time.Second || st.Finished()):
			fmt.Fprintf(w, "imgpipe: %s: %d/%d files: %s\n", q.Name, st.Done+st.Failed+st.Dead, st.Total(), counts)
			last, lastLine = counts, time.Now()
		}
		if st.Finished() {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(every):
		}
		var err error
		if st, err = q.Status(ctx); err != nil {
			return st, err
		}
	}
}

func printStatus(w io.Writer, st queue.Status) {
	fmt.Fprintf(w, "queue %s: job %s, %d files\n", st.Queue, st.Job.ID, st.Total())
	fmt.Fprintf(w, "  queued         %d\n  in flight      %d\n  done           %d\n  failed         %d\n  dead-lettered  %d\n",
		st.Queued, st.InFlight, st.Done, st.Failed, st.Dead)
	for _, f := range st.Failures {
		what := "failed"
		if f.Dead {
			what = fmt.Sprintf("dead-lettered after %d tries", f.Deliveries)
		}
		fmt.Fprintf(w, "%s: %s: %s\n", termsafe.Name(f.Path), what, termsafe.Name(f.Reason))
	}
}
