// Package progress shows a running pipeline's progress: a bar with items done of the total,
// rate, elapsed time and ETA, and a compact line per stage (how busy its workers are and how
// full its input queue is) that shows which stage limits the run while it runs.
//
// Items done are the items the done stage (Options.Stage) has handled, plus the items that
// failed and were skipped (pipeline.SkipErrors) in it or in the stages before it: a failure
// is handled too, so a run of 10 files of which 2 fail ends at 10/10, 100%. Where items are
// batches, give the stages that carry them the option pipeline.CountUnits, and the display
// counts what the batches hold (the images of each) rather than the batches.
//
// On a terminal it draws two live lines with github.com/cheggaaa/pb/v3. Elsewhere (a log
// file, a pipe, CI) it prints a plain line every few seconds, or nothing: never terminal
// escape codes. Text written to the Progress itself (Write), such as one line per failed
// item, appears above the live lines rather than being drawn over. The last line says how
// the run ended: finished, interrupted or stopped (Finish).
package progress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/gpupipe/gpupipe/pipeline"
)

// Mode says how progress is shown.
type Mode int

const (
	// Auto draws bars when the output is a terminal and prints plain lines otherwise.
	Auto Mode = iota
	// Bar draws live bars; it falls back to plain lines when there is no terminal.
	Bar
	// Plain prints a line of text every Interval.
	Plain
	// None shows nothing.
	None
)

// ParseMode reads "auto", "bar", "plain" or "none".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto", "":
		return Auto, nil
	case "bar":
		return Bar, nil
	case "plain":
		return Plain, nil
	case "none":
		return None, nil
	}
	return Auto, fmt.Errorf("progress mode %q: want auto, bar, plain or none", s)
}

func (m Mode) String() string {
	return [...]string{"auto", "bar", "plain", "none"}[m]
}

// Options configure a Progress.
type Options struct {
	Mode   Mode
	Output io.Writer // default os.Stderr
	// Stage names the stage whose output counts as done; default: the last stage. Failures
	// in it and in the stages added before it count as done too. With pipeline.CountUnits,
	// the stage counts the units of its items (pipeline.StageStats.DoneUnits).
	Stage string
	// Total is the number of items expected; 0 while unknown (see SetTotal). Items that a
	// Filter stage drops are not counted as done: lower the total for them (AddTotal(-1)).
	Total int64
	// Unit names the items, such as "images"; default "items".
	Unit string
	// Interval between plain lines; default 5s. Bars redraw five times a second.
	Interval time.Duration
}

// Progress shows one pipeline's progress until Stop.
type Progress struct {
	p     *pipeline.Pipeline
	opts  Options
	total atomic.Int64
	start time.Time
	view  view

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	status   string // how the run ended, for the last line: set before stop closes

	// mu orders the view's drawing and the text written through Write.
	mu      sync.Mutex
	stopped bool // the view has drawn its last line
	// history holds the snapshots of the last ticks, oldest first: rates are measured over
	// about two seconds, which smooths stages that account their busy time in lumps (a GPU
	// stage adds a batch's time when the batch completes).
	history [][]pipeline.StageStats
	keep    int
}

// window is how far back the per-stage figures look.
const window = 2 * time.Second

// view is how progress is drawn: live bars or plain lines. Its methods are called with
// Progress.mu held.
type view interface {
	update(s snapshot)
	// finish draws the last state; status says how the run ended ("finished",
	// "interrupted", "stopped").
	finish(s snapshot, status string)
	// write shows text, whole lines, above the live display.
	write(p []byte)
}

// Start begins showing the progress of p, which may already be running.
func Start(p *pipeline.Pipeline, opts Options) *Progress {
	if opts.Output == nil {
		opts.Output = os.Stderr
	}
	if opts.Unit == "" {
		opts.Unit = "items"
	}
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Second
	}
	pr := &Progress{p: p, opts: opts, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	pr.total.Store(opts.Total)
	pr.view = pr.newView()
	tick := opts.Interval
	if _, live := pr.view.(*bars); live {
		tick = 200 * time.Millisecond
	}
	pr.keep = max(int(window/tick), 1)
	go pr.loop(tick)
	return pr
}

func (pr *Progress) newView() view {
	mode := pr.opts.Mode
	if mode == Auto {
		mode = Plain
		if isTerminal(pr.opts.Output) {
			mode = Bar
		}
	}
	switch mode {
	case None:
		return quiet{pr.opts.Output}
	case Bar:
		if !isTerminal(pr.opts.Output) {
			break
		}
		if b, err := newBars(pr.opts); err == nil {
			return b
		}
	}
	return &lines{w: pr.opts.Output, unit: pr.opts.Unit}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// SetTotal sets the number of items expected, for sources that learn it as they go.
func (pr *Progress) SetTotal(n int64) { pr.total.Store(n) }

// AddTotal adds n to the number of items expected.
func (pr *Progress) AddTotal(n int64) { pr.total.Add(n) }

// Stop draws the final state, as finished, and stops. It is safe to call more than once and
// from any goroutine; call it (or Finish) when Run has returned, whatever it returned.
func (pr *Progress) Stop() { pr.Finish(nil) }

// Finish draws the final state and stops, the last line saying how the run ended, from the
// error Run returned: "finished" for nil, "interrupted" for a cancellation, "stopped" for any
// other error. Only the first call of Stop or Finish counts.
func (pr *Progress) Finish(runErr error) {
	pr.stopOnce.Do(func() {
		switch {
		case runErr == nil:
			pr.status = "finished"
		case errors.Is(runErr, context.Canceled):
			pr.status = "interrupted"
		default:
			pr.status = "stopped"
		}
		close(pr.stop)
	})
	<-pr.done
}

// Write shows p, which should be whole lines, to the progress output above the live display,
// so that a bar does not draw over it; once the display has stopped, it writes p as it is.
// It is safe for concurrent use: a run's failure lines go through it when they share the
// progress output.
func (pr *Progress) Write(p []byte) (int, error) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.stopped {
		return pr.opts.Output.Write(p)
	}
	pr.view.write(p)
	return len(p), nil
}

func (pr *Progress) loop(tick time.Duration) {
	defer close(pr.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s := pr.snapshot()
			pr.mu.Lock()
			pr.view.update(s)
			pr.mu.Unlock()
		case <-pr.stop:
			s := pr.snapshot()
			pr.mu.Lock()
			pr.view.finish(s, pr.status)
			pr.stopped = true
			pr.mu.Unlock()
			return
		}
	}
}

// snapshot is what one redraw shows.
type snapshot struct {
	done, total int64
	elapsed     time.Duration
	stages      []stageLine
	bottleneck  string
}

type stageLine struct {
	name     string
	busy     float64 // utilization since the previous snapshot
	queueLen int
	queueCap int
}

func (pr *Progress) snapshot() snapshot {
	cur := pr.p.Stats()
	s := snapshot{total: pr.total.Load(), elapsed: time.Since(pr.start)}
	s.done = doneCount(cur, pr.opts.Stage)
	var prev []pipeline.StageStats
	if len(pr.history) > 0 {
		prev = pr.history[0]
	}
	before := map[string]pipeline.StageStats{}
	for _, st := range prev {
		before[st.Name] = st
	}
	for _, st := range cur {
		b := before[st.Name]
		busy := pipeline.StageStats{Busy: st.Busy - b.Busy, Workers: st.Workers, Elapsed: st.Elapsed - b.Elapsed}
		s.stages = append(s.stages, stageLine{st.Name, min(max(busy.Utilization(), 0), 1), st.QueueLen, st.QueueCap})
	}
	if b, _, ok := pipeline.Bottleneck(prev, cur); ok {
		s.bottleneck = b.Name
	}
	pr.history = append(pr.history, cur)
	if len(pr.history) > pr.keep {
		pr.history = pr.history[1:]
	}
	return s
}

// doneCount is what the named stage (or the last one) has handled, counted in units where it
// counts them, plus the units that failed in it and in the stages before it.
func doneCount(stats []pipeline.StageStats, name string) int64 {
	if len(stats) == 0 {
		return 0
	}
	end := len(stats) - 1
	for i, st := range stats {
		if st.Name == name {
			end = i
			break
		}
	}
	done := stats[end].Out
	if stats[end].Units {
		done = stats[end].DoneUnits
	}
	for _, st := range stats[:end+1] {
		done += st.ErrorUnits // equal to Errors where the stage counts no units
	}
	return done
}

// stagesText is the compact per-stage line: "decode 97% q16/16 · resize 41% q2/8".
func (s snapshot) stagesText() string {
	parts := make([]string, 0, len(s.stages))
	for _, st := range s.stages {
		part := fmt.Sprintf("%s %d%%", st.name, int(st.busy*100+0.5))
		if st.queueCap > 0 {
			part += fmt.Sprintf(" q%d/%d", st.queueLen, st.queueCap)
		}
		if st.name == s.bottleneck {
			part = "*" + part
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, " · ")
}

// quiet shows nothing but the text written to it.
type quiet struct{ w io.Writer }

func (quiet) update(snapshot)         {}
func (quiet) finish(snapshot, string) {}
func (q quiet) write(p []byte)        { q.w.Write(p) }
