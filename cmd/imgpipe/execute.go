package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/gpupipe/gpupipe/internal/job"
	"github.com/gpupipe/gpupipe/internal/metrics"
	"github.com/gpupipe/gpupipe/internal/termsafe"
	"github.com/gpupipe/gpupipe/pipeline/progress"
	"github.com/gpupipe/gpupipe/pipeline/report"
	"github.com/gpupipe/gpupipe/stages/output"
)

// execute runs the job and turns its outcome into output and an exit code.
func (o *options) execute(ctx context.Context, stdout, stderr io.Writer) int {
	cfg := o.cfg
	cfg.Log = stderr
	if cfg.DryRun {
		cfg.Log = stdout
	}
	if !o.quiet && !cfg.DryRun {
		mode, _ := progress.ParseMode(o.progress)
		cfg.Progress, cfg.ProgressOutput = mode, stderr
	}
	if cfg.MaxMemory == 0 {
		cfg.MaxMemory = job.DefaultMaxMemory(max(cfg.DecodeWorkers, cfg.EncodeWorkers))
	}
	// The budget bounds what the run holds; the runtime's memory limit makes the collector
	// reclaim garbage before the heap passes it, instead of at 1.5× the live heap.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(cfg.MaxMemory))
	if o.metrics != "" {
		m := metrics.New()
		srv, err := metrics.Serve(o.metrics, m.Registry)
		if err != nil {
			fmt.Fprintf(stderr, "imgpipe: --metrics: %s\nRun imgpipe -h for usage.\n", termsafe.Name(err.Error()))
			return exitUsage
		}
		defer srv.Close()
		cfg.Metrics = m
		if !o.quiet {
			fmt.Fprintf(stderr, "imgpipe: metrics at %s\n", srv.URL())
		}
	}
	rep, err := job.Run(ctx, cfg)
	var reportErr error
	if o.reportPath != "" && !cfg.DryRun {
		if reportErr = rep.WriteFile(o.reportPath); reportErr != nil {
			fmt.Fprintf(stderr, "imgpipe: report: %s\n", termsafe.Name(reportErr.Error()))
		}
	}
	var ce *output.CollisionError
	if errors.As(err, &ce) {
		fmt.Fprint(stderr, collisionMessage(ce))
		return exitUsage
	}
	if !o.quiet {
		fmt.Fprintln(stderr, summary(rep, err, cfg.DryRun))
	}
	code := exitCode(ctx, rep, err)
	if reportErr != nil && code == exitOK {
		code = exitSomeFailed // the report was asked for: a run without it is not a success
	}
	return code
}

// collisionMessage says which inputs would share an output, and the --name that tells them
// apart. It is a usage error: nothing was done.
func collisionMessage(ce *output.CollisionError) string {
	var b strings.Builder
	fmt.Fprintf(&b, "imgpipe: --name %s gives %d output%s to more than one input (one of each would win, the others would be lost):\n",
		shellQuote(ce.Template), ce.Total, plural(ce.Total))
	for _, c := range ce.Collisions {
		fmt.Fprintf(&b, "  %s\n", c.String())
	}
	if more := ce.Total - len(ce.Collisions); more > 0 {
		fmt.Fprintf(&b, "  and %d more\n", more)
	}
	if ce.Suggestion != "" {
		fmt.Fprintf(&b, "imgpipe: nothing was done; with --name %s each input has its own output\n", shellQuote(ce.Suggestion))
	} else {
		b.WriteString("imgpipe: nothing was done; give --name a template that tells them apart (placeholders: {dir} {name} {ext} {srcext} {rel} {root})\n")
	}
	b.WriteString("Run imgpipe -h for usage.\n")
	return b.String()
}

// shellQuote quotes a flag value so that it can be pasted into a shell.
func shellQuote(s string) string {
	if !strings.ContainsAny(s, "'") && termsafe.Name(s) == s {
		return "'" + s + "'"
	}
	return strconv.Quote(s) // escapes what is not printable
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// exitCode maps the outcome to the documented exit status.
func exitCode(ctx context.Context, rep report.Report, err error) int {
	switch {
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return exitInterrupted
	case err != nil || rep.Counts.Failed > 0:
		return exitSomeFailed
	}
	return exitOK
}

// summary is the closing line: counts, speed, the device and the bottleneck.
func summary(rep report.Report, err error, dryRun bool) string {
	c := rep.Counts
	var b strings.Builder
	fmt.Fprintf(&b, "imgpipe: %d found", c.Found)
	if !dryRun {
		fmt.Fprintf(&b, ", %d done, %d already there, %d failed in %.1fs", c.Done, c.SkippedExisting, c.Failed, rep.Seconds)
	}
	if c.Done > 0 {
		fmt.Fprintf(&b, " (%.1f images/s)", rep.FilesPerSecond)
	}
	if rep.Device != "" {
		fmt.Fprintf(&b, " on %s", rep.Device)
	}
	if rep.Bottleneck != "" && c.Done > 0 {
		fmt.Fprintf(&b, "; slowest stage: %s (%.0f%% busy)", rep.Bottleneck, 100*rep.BottleneckUtilization)
	}
	switch {
	case errors.Is(err, context.Canceled):
		b.WriteString("\nimgpipe: interrupted: run the same command again to finish")
	case err != nil:
		fmt.Fprintf(&b, "\nimgpipe: stopped: %s", termsafe.Name(err.Error()))
	}
	return b.String()
}
