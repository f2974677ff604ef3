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
	"syscall"
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
	// almost nothing to scan, so collecting at 1.5× the live heap instead of Go's 2× trims
	// peak memory at little cost. GOGC in the environment still decides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command, apart from the process: it parses args, runs the job and
// returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
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
