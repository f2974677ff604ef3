// Package report records what a run did and writes it as JSON: how many files were found,
// done, skipped because their output existed, and failed; the time each stage spent; the
// stage that limited throughput; and every failure with its path and reason, so that a bad
// file is reported rather than lost.
//
// A Recorder collects counts and failures from any number of goroutines while the run goes
// on; Report takes a snapshot at the end, and WriteFile writes it atomically.
package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/output"
)

// Report is the record of one run, as written to JSON.
type Report struct {
	Inputs      []string  `json:"inputs"`
	Output      string    `json:"output,omitempty"`
	Shard       string    `json:"shard,omitempty"`  // "i/n" when the input was split between machines
	Device      string    `json:"device,omitempty"` // the GPU (or its stand-in) the run used
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Seconds     float64   `json:"seconds"`
	Interrupted bool      `json:"interrupted"` // cancelled (Ctrl-C) or stopped by an error
	Error       string    `json:"error,omitempty"`
	Counts      Counts    `json:"counts"`
	// FilesPerSecond is Done divided by Seconds.
	FilesPerSecond float64 `json:"files_per_second"`
	// MaxRSSBytes is the process's peak resident memory so far, where the system reports it.
	MaxRSSBytes int64   `json:"max_rss_bytes,omitempty"`
	Stages      []Stage `json:"stages"`
	// Bottleneck is the stage whose workers were busiest over the run's window (the longest
	// stage's lifetime): the one that limited throughput. Judging each stage over its own
	// lifetime instead would name a stage that was busy for the second it lived, such as a
	// walk that listed the files and ended, over one busy through the whole run.
	Bottleneck            string    `json:"bottleneck,omitempty"`
	BottleneckUtilization float64   `json:"bottleneck_utilization,omitempty"`
	Failures              []Failure `json:"failures"`
}

// Counts are the files of a run by outcome. Found = Done + SkippedExisting + Failed once a
// run has finished uninterrupted. Done counts only what was committed: a file written, or a
// row in a committed shard.
type Counts struct {
	Found           int64 `json:"found"`
	Done            int64 `json:"done"`
	SkippedExisting int64 `json:"skipped_existing"`
	Failed          int64 `json:"failed"`
}

// Stage is the time and work of one pipeline stage.
type Stage struct {
	Name           string  `json:"name"`
	Kind           string  `json:"kind,omitempty"`
	Workers        int     `json:"workers"`
	In             int64   `json:"in"`
	Out            int64   `json:"out"`
	Errors         int64   `json:"errors"`
	Retries        int64   `json:"retries,omitempty"` // calls made again under pipeline.Retry
	BusySeconds    float64 `json:"busy_seconds"`      // summed over workers
	WaitInSeconds  float64 `json:"wait_in_seconds"`   // starved: waiting for input
	WaitOutSeconds float64 `json:"wait_out_seconds"`  // blocked: waiting for room downstream
	// WaitOrderSeconds is an ordered stage's time waiting for the oldest item of its reorder
	// window (pipeline.StageStats.WaitOrder); absent for other stages.
	WaitOrderSeconds float64 `json:"wait_order_seconds,omitempty"`
	// DoneUnits and ErrorUnits count the units of work of a stage with pipeline.CountUnits
	// (the images of its batches); absent for other stages.
	DoneUnits      int64   `json:"done_units,omitempty"`
	ErrorUnits     int64   `json:"error_units,omitempty"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	Utilization    float64 `json:"utilization"` // busy / (workers × elapsed)
	// RunUtilization is busy / (workers × the run's window, the longest stage's elapsed
	// time): the stages' shares of one common window, which the bottleneck is judged by.
	RunUtilization float64            `json:"run_utilization"`
	Extra          map[string]float64 `json:"extra,omitempty"`
}

// Failure is one file that could not be processed.
type Failure struct {
	Path   string `json:"path"`
	Stage  string `json:"stage,omitempty"`
	Reason string `json:"reason"`
}

// Recorder collects a run's counts and failures. Set its exported fields before the run;
// its methods are safe for concurrent use. Memory grows with the number of failures only.
type Recorder struct {
	Inputs []string
	Output string
	Shard  string
	Device string

	start                         time.Time
	found, done, skipped, failedN atomic.Int64

	mu       sync.Mutex
	failures []Failure
}

// NewRecorder starts recording a run that starts now.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

// Found counts n files found by the source.
func (r *Recorder) Found(n int) { r.found.Add(int64(n)) }

// Done counts one file processed and written.
func (r *Recorder) Done() { r.done.Add(1) }

// AddDone counts n files processed and committed at once, such as the rows of a shard.
func (r *Recorder) AddDone(n int) { r.done.Add(int64(n)) }

// Skipped counts one file whose output was already there.
func (r *Recorder) Skipped() { r.skipped.Add(1) }

// Fail records that the file at path failed in stage with err. When err's message starts
// with the path, as the errors of this project's stages do, the reason leaves it out.
func (r *Recorder) Fail(path, stage string, err error) {
	reason := "unknown error"
	if err != nil {
		reason = strings.TrimPrefix(err.Error(), path+": ")
	}
	r.failedN.Add(1)
	r.mu.Lock()
	r.failures = append(r.failures, Failure{Path: path, Stage: stage, Reason: reason})
	r.mu.Unlock()
}

// FailStage records a failed item of a pipeline stage, as the handler of
// pipeline.SkipErrors: the path is the item's label (walk.File and imageio.Decoded have one),
// the stage is the stage's name.
func (r *Recorder) FailStage(e *pipeline.StageError) {
	path := ""
	if l, ok := e.Item.(pipeline.Labeler); ok {
		path = l.Label()
	}
	r.Fail(path, e.Stage, e.Err)
}

// Counts returns the counts so far.
func (r *Recorder) Counts() Counts {
	return Counts{Found: r.found.Load(), Done: r.done.Load(), SkippedExisting: r.skipped.Load(), Failed: r.failedN.Load()}
}

// Report returns the record of the run: the counts, the failures sorted by path, and the
// stage statistics (from pipeline.Pipeline.Stats, or nil) with the bottleneck. runErr is the
// error the run ended with, if any; a cancelled or failed run is marked interrupted.
func (r *Recorder) Report(stats []pipeline.StageStats, runErr error) Report {
	end := time.Now()
	rep := Report{
		Inputs: r.Inputs, Output: r.Output, Shard: r.Shard, Device: r.Device,
		Start: r.start, End: end, Seconds: end.Sub(r.start).Seconds(),
		Interrupted: runErr != nil, Counts: r.Counts(), Stages: []Stage{},
	}
	if runErr != nil {
		rep.Error = runErr.Error()
		if errors.Is(runErr, context.Canceled) {
			rep.Error = "interrupted"
		}
	}
	if rep.Seconds > 0 {
		rep.FilesPerSecond = float64(rep.Counts.Done) / rep.Seconds
	}
	rep.MaxRSSBytes = maxRSS()
	var window time.Duration
	for _, s := range stats {
		window = max(window, s.Elapsed)
	}
	best := -1.0
	for _, s := range stats {
		st := stageOf(s)
		if window > 0 && s.Workers > 0 {
			st.RunUtilization = s.Busy.Seconds() / (float64(s.Workers) * window.Seconds())
		}
		if s.Workers > 0 && window > 0 && st.RunUtilization > best {
			rep.Bottleneck, rep.BottleneckUtilization, best = st.Name, st.RunUtilization, st.RunUtilization
		}
		rep.Stages = append(rep.Stages, st)
	}
	r.mu.Lock()
	rep.Failures = slices.Clone(r.failures)
	r.mu.Unlock()
	if rep.Failures == nil {
		rep.Failures = []Failure{}
	}
	slices.SortStableFunc(rep.Failures, func(a, b Failure) int { return strings.Compare(a.Path, b.Path) })
	return rep
}

func stageOf(s pipeline.StageStats) Stage {
	st := Stage{
		Name: s.Name, Kind: s.Kind, Workers: s.Workers, In: s.In, Out: s.Out, Errors: s.Errors,
		BusySeconds: s.Busy.Seconds(), WaitInSeconds: s.WaitIn.Seconds(), WaitOutSeconds: s.WaitOut.Seconds(),
		WaitOrderSeconds: s.WaitOrder.Seconds(),
		Retries:          s.Retries,
		ElapsedSeconds:   s.Elapsed.Seconds(), Utilization: s.Utilization(), Extra: s.Extra,
	}
	if s.Units {
		st.DoneUnits, st.ErrorUnits = s.DoneUnits, s.ErrorUnits
	}
	return st
}

// Encode writes the report as indented JSON.
func (rep *Report) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteFile writes the report to path atomically, replacing an older report. It does not
// take a context: the report of a cancelled run is the one that most needs writing.
func (rep *Report) WriteFile(path string) error {
	return output.WriteFile(context.Background(), path, output.Options{Overwrite: true}, rep.Encode)
}

// ReadFile reads a report written by WriteFile.
func ReadFile(path string) (Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return Report{}, fmt.Errorf("report %s: %w", path, err)
	}
	return rep, nil
}
