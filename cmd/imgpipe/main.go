// Command imgpipe turns folders of images into thumbnails, transformed images or
// machine-learning tensors, on the CPU or a GPU, with progress bars and a run report.
//
// Run imgpipe -h for the flags and examples.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
	"time"
)

// Exit codes, as --help documents them.
const (
	exitOK          = 0
	exitSomeFailed  = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	// Most of imgpipe's heap is pixel buffers, which hold no pointers and cost the collector
	// almost nothing to scan, so collecting at 1.25× the live heap instead of Go's 2× trims
	// peak memory at little cost (measured: no slower on thumbnails of photos). GOGC in the
	// environment still decides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(25)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go onSignals(sigs, cancel, os.Stderr, os.Exit)
	stop := startProfile(os.Getenv("GPUPIPE_CPUPROFILE"), os.Getenv("GPUPIPE_TRACE"), os.Stderr)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	signal.Stop(sigs)
	cancel()
	os.Exit(code)
}

// startProfile writes a CPU profile (GPUPIPE_CPUPROFILE), an execution trace (GPUPIPE_TRACE)
// and, at the end, a profile of the allocations (GPUPIPE_MEMPROFILE) of the whole run, for
// `go tool pprof` and `go tool trace`; it returns the function that ends them. An empty path
// writes nothing.
func startProfile(cpuPath, tracePath string, stderr io.Writer) (stop func()) {
	var stops []func()
	start := func(env, path string, begin func(io.Writer) error, end func()) {
		if path == "" {
			return
		}
		f, err := os.Create(path)
		if err == nil {
			if err = begin(f); err != nil {
				f.Close()
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "imgpipe: %s: %v\n", env, err)
			return
		}
		stops = append(stops, func() { end(); f.Close() })
	}
	start("GPUPIPE_CPUPROFILE", cpuPath, pprof.StartCPUProfile, pprof.StopCPUProfile)
	start("GPUPIPE_TRACE", tracePath, trace.Start, trace.Stop)
	if path := os.Getenv("GPUPIPE_MEMPROFILE"); path != "" {
		stops = append(stops, func() {
			f, err := os.Create(path)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
			if err != nil {
				fmt.Fprintf(stderr, "imgpipe: GPUPIPE_MEMPROFILE: %v\n", err)
			}
		})
	}
	return func() {
		for _, f := range stops {
			f()
		}
	}
}

// onSignals cancels the run at the first SIGINT or SIGTERM, which then stops within a second
// (decodes in progress are abandoned) and leaves no partial file, and exits at once at the
// second, as users of command-line tools expect of a second Ctrl-C: the run's temporary
// files are then left for the next run to sweep. The line it says so with is given at most
// 100 ms, so that a blocked stderr (a paused pager) cannot hold the exit.
func onSignals(sigs <-chan os.Signal, cancel func(), stderr io.Writer, exit func(int)) {
	<-sigs
	cancel()
	<-sigs
	said := make(chan struct{})
	go func() {
		fmt.Fprintln(stderr, "\nimgpipe: interrupted again: stopping at once")
		close(said)
	}()
	select {
	case <-said:
	case <-time.After(100 * time.Millisecond):
	}
	exit(exitInterrupted)
}

// run is the whole command, apart from the process: it parses args, runs the job and
// returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if sub, ok := subcommands[args[0]]; ok {
			return sub(ctx, args[1:], stdout, stderr)
		}
	}
	opts, err := parseArgs(args, stdout, stderr)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "imgpipe: %v\nRun imgpipe -h for usage.\n", err)
		return exitUsage
	}
	return opts.execute(ctx, stdout, stderr)
}
