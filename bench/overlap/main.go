// Command overlap measures how close the overlap engine comes to the pipelining bound. The
// CPU device's timing model makes upload, kernel and download each take T per batch; for
// each configuration of slots and copy engines it runs n batches through an engine.Stage and
// prints one JSON object per line:
//
//	{"slots":2,"copy_engines":2,"batches":64,"measured_ms":…,"limit_ms":…,"serial_ms":…,"efficiency":…}
//
// limit_ms is the makespan of the ideal schedule for that configuration (see limit),
// serial_ms the time with no overlap (3nT), and efficiency limit/measured: 1 means the engine
// adds no overhead to what the device can do. One slot is the no-overlap baseline.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/pipeline"
)

type config struct {
	batches int
	phase   time.Duration
	bytes   int
	runs    int
}

type row struct {
	Slots       int     `json:"slots"`
	CopyEngines int     `json:"copy_engines"`
	Batches     int     `json:"batches"`
	MeasuredMs  float64 `json:"measured_ms"`
	LimitMs     float64 `json:"limit_ms"`
	SerialMs    float64 `json:"serial_ms"`
	Efficiency  float64 `json:"efficiency"`
}

func main() {
	var cfg config
	flag.IntVar(&cfg.batches, "batches", 64, "batches per run")
	flag.DurationVar(&cfg.phase, "t", 4*time.Millisecond, "time of each phase (upload, kernel, download) per batch")
	flag.IntVar(&cfg.bytes, "bytes", 1<<20, "bytes uploaded and downloaded per batch")
	flag.IntVar(&cfg.runs, "runs", 3, "runs per configuration; the median is reported")
	slotList := flag.String("slots", "1,2,3", "slot counts to measure")
	engineList := flag.String("copy-engines", "2,1", "copy engine counts to measure")
	flag.Parse()
	if err := run(os.Stdout, cfg, *slotList, *engineList); err != nil {
		fmt.Fprintln(os.Stderr, "overlap:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, cfg config, slotList, engineList string) error {
	if cfg.batches < 1 || cfg.phase <= 0 || cfg.bytes < 1 || cfg.runs < 1 {
		return errors.New("-batches, -t, -bytes and -runs must be positive")
	}
	slots, err := ints(slotList)
	if err != nil {
		return fmt.Errorf("-slots: %w", err)
	}
	engines, err := ints(engineList)
	if err != nil {
		return fmt.Errorf("-copy-engines: %w", err)
	}
	if err := registerKernel(); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for _, c := range engines {
		for _, s := range slots {
			r, err := measure(cfg, s, c)
			if err != nil {
				return fmt.Errorf("%d slots, %d copy engines: %w", s, c, err)
			}
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
	}
	return nil
}

func ints(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// measure runs the configuration cfg.runs times and reports the median run.
func measure(cfg config, slots, copyEngines int) (row, error) {
	p := phases{cfg.phase, cfg.phase, cfg.phase}
	var times []time.Duration
	for range cfg.runs {
		d, err := once(cfg, slots, copyEngines)
		if err != nil {
			return row{}, err
		}
		times = append(times, d)
	}
	slices.Sort(times)
	m := times[len(times)/2]
	l := limit(slots, copyEngines, cfg.batches, p)
	return row{
		Slots:       slots,
		CopyEngines: copyEngines,
		Batches:     cfg.batches,
		MeasuredMs:  round(ms(m), 1),
		LimitMs:     round(ms(l), 1),
		SerialMs:    round(ms(serial(cfg.batches, p)), 1),
		Efficiency:  round(float64(l)/float64(m), 3),
	}, nil
}

// once pushes cfg.batches batches through a GPU stage on a fresh CPU device whose timing
// model holds each engine for one phase per batch, and returns the pipeline's run time.
func once(cfg config, slots, copyEngines int) (time.Duration, error) {
	bw := float64(cfg.bytes) / cfg.phase.Seconds()
	dev, err := cpu.New(cpu.CopyEngines(copyEngines), cpu.WithTiming(cpu.Timing{
		H2DBytesPerSec: bw,
		D2HBytesPerSec: bw,
		KernelTime:     cfg.phase,
	}))
	if err != nil {
		return 0, err
	}
	defer dev.Close()
	k, err := dev.Kernel(kernelName)
	if err != nil {
		return 0, err
	}
	work := fixed{k: k, bytes: cfg.bytes}
	batches := make([]int, cfg.batches)
	for i := range batches {
		batches[i] = i
	}
	p := pipeline.New()
	done := engine.Stage(pipeline.FromSlice(p, batches), []gpu.Device{dev}, work, engine.Options{
		Slots:   slots,
		Reserve: gpu.Sizes{In: cfg.bytes, Out: cfg.bytes},
	})
	pipeline.Discard(done)
	start := time.Now()
	err = p.Run(context.Background())
	return time.Since(start), err
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round(v float64, digits int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', digits, 64), 64)
	return f
}
