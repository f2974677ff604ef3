// Command seed runs the comparison the project was founded on: the same batch work, N images
// of 3×224×224 float32 normalized and convolved, done three ways:
//
//  1. subprocess: one worker process per sub-batch, the sub-batch serialized over pipes
//     (Example 1 of the founding document);
//  2. multiprocess: a pool of worker processes sharing the data in a memory-mapped file,
//     storing results under a lock (Example 2);
//  3. pipeline: one process, batches streamed through a gpupipe pipeline on the CPU device
//     (Example 3).
//
// It prints one JSON object per approach:
//
//	{"approach":"subprocess","images":1000,"seconds":…,"images_per_s":…}
//
// and fails if the approaches' outputs differ in a single bit. Worker processes are this
// same binary, re-executed with GPUPIPE_SEED_ROLE set.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

const (
	roleEnv        = "GPUPIPE_SEED_ROLE"
	roleSubprocess = "subprocess"
	rolePool       = "pool"
)

type options struct {
	images, sub, workers, batch, slots int
	seed                               int64
	approaches                         []string
}

type row struct {
	Approach   string  `json:"approach"`
	Images     int     `json:"images"`
	Seconds    float64 `json:"seconds"`
	ImagesPerS float64 `json:"images_per_s"`
}

func main() {
	if role := os.Getenv(roleEnv); role != "" {
		if err := worker(role, os.Args[1:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "seed %s worker: %v\n", role, err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.IntVar(&o.images, "images", 1000, "images in the whole batch")
	flag.IntVar(&o.sub, "sub", 100, "images per sub-batch (one subprocess each)")
	flag.IntVar(&o.workers, "workers", runtime.NumCPU(), "processes in the multiprocess pool")
	flag.IntVar(&o.batch, "batch", 32, "images per batch in the pipeline")
	flag.IntVar(&o.slots, "slots", 2, "batches in flight in the pipeline")
	flag.Int64Var(&o.seed, "seed", 1, "seed of the random images")
	only := flag.String("approaches", "subprocess,multiprocess,pipeline", "approaches to run, in order")
	flag.Parse()
	o.approaches = strings.Split(*only, ",")
	if err := run(os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

// worker runs this process as one of the worker processes.
func worker(role string, args []string, stdin io.Reader, stdout io.Writer) error {
	switch role {
	case roleSubprocess:
		return subprocessWorker(stdin, stdout)
	case rolePool:
		return poolWorker(args)
	}
	return fmt.Errorf("unknown role %q", role)
}

func run(w io.Writer, o options) error {
	if o.images < 1 || o.sub < 1 || o.workers < 1 || o.batch < 1 || o.slots < 1 {
		return errors.New("-images, -sub, -workers, -batch and -slots must be positive")
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	in := randomImages(o.images, o.seed)
	enc := json.NewEncoder(w)
	var first []float32
	for _, a := range o.approaches {
		// Each approach starts with the memory of the previous ones given back.
		debug.FreeOSMemory()
		start := time.Now()
		out, release, err := runApproach(a, exe, in, o)
		if err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
		secs := time.Since(start).Seconds()
		if first == nil {
			first = slices.Clone(out)
		} else if !slices.Equal(floatBytes(out), floatBytes(first)) {
			err = fmt.Errorf("%s: output differs from %s's", a, o.approaches[0])
		}
		release()
		if err != nil {
			return err
		}
		if err := enc.Encode(row{a, o.images, round(secs, 3), round(float64(o.images)/secs, 1)}); err != nil {
			return err
		}
	}
	return nil
}

// runApproach computes every image of in one way. The timing covers everything from the
// images in this process's memory to the results readable by it, where the approach leaves
// them (release gives them up).
func runApproach(name, exe string, in []float32, o options) (out []float32, release func(), err error) {
	switch name {
	case "multiprocess":
		return runMultiprocess(exe, in, o.images, o.workers)
	case "subprocess":
		out = make([]float32, len(in))
		err = runSubprocess(exe, in, out, o.images, o.sub)
	case "pipeline":
		out = make([]float32, len(in))
		err = runPipeline(in, out, o.images, o.batch, o.slots)
	default:
		err = fmt.Errorf("unknown approach %q", name)
	}
	return out, func() {}, err
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}
