package progress

import (
	"fmt"
	"io"
	"strings"

	"github.com/cheggaaa/pb/v3"
	"github.com/cheggaaa/pb/v3/termutil"
)

// bars draws two live lines on a terminal: the items bar and the per-stage line. It draws
// them itself, with pb/v3's bars rendering each line, rather than through pb's Pool, so that
// text can be written above them: the lines are erased, the text written, and the lines drawn
// again below it.
type bars struct {
	w      io.Writer
	main   *pb.ProgressBar
	stages *pb.ProgressBar
	width  func() int // the terminal's width in cells
	drawn  int        // lines of the frame on screen, which the next draw moves up over
	// raw, when set, is closed to restore the terminal's echo, turned off while the bars are
	// drawn, and to end pb's goroutine that restores it on a signal.
	raw chan struct{}
}

const (
	mainTemplate   = `{{string . "status"}}{{string . "unit"}} {{counters . }} {{bar . }} {{percent . }} {{speed . "%s/s" "?/s"}} {{rtime . "ETA %s" "in %s" "ETA ?"}}`
	stagesTemplate = `{{string . "stages"}}`
)

func newBars(opts Options) (*bars, error) {
	b := newBarsTo(opts.Output, opts.Total, opts.Unit, termWidth)
	// Keys typed while the bars are drawn would break the frame: echo is off until finish,
	// as pb's Pool does; pb restores it on SIGINT and SIGTERM.
	raw, err := termutil.RawModeOn()
	if err != nil {
		return nil, fmt.Errorf("progress bars: %w", err)
	}
	b.raw = raw
	return b, nil
}

func newBarsTo(w io.Writer, total int64, unit string, width func() int) *bars {
	b := &bars{
		w:      w,
		main:   pb.New64(total).SetTemplateString(mainTemplate).Set("unit", unit).Set(pb.Static, true),
		stages: pb.New64(0).SetTemplateString(stagesTemplate).Set(pb.Static, true),
		width:  width,
	}
	b.main.Start()
	b.stages.Start()
	return b
}

func termWidth() int {
	if _, cols, err := termutil.TerminalSize(); err == nil && cols > 0 {
		return cols
	}
	return 100
}

func (b *bars) update(s snapshot) {
	b.set(s)
	b.draw()
}

func (b *bars) set(s snapshot) {
	if s.total > 0 {
		b.main.SetTotal(s.total)
	}
	b.main.SetCurrent(s.done)
	b.stages.Set("stages", s.stagesText())
}

func (b *bars) finish(s snapshot, status string) {
	b.set(s)
	if status != "finished" {
		b.main.Set("status", status+": ")
	}
	b.main.Finish()
	b.stages.Finish()
	b.draw()
	if b.raw != nil {
		close(b.raw)
		termutil.RawModeOff()
	}
}

// draw writes the frame over the one on screen.
func (b *bars) draw() {
	var out strings.Builder
	if b.drawn > 0 {
		fmt.Fprintf(&out, "\033[%dA", b.drawn)
	}
	cols := max(b.width(), 10)
	for _, bar := range []*pb.ProgressBar{b.main, b.stages} {
		bar.SetWidth(cols - 1)
		line := bar.String()
		// A line longer than the terminal would wrap, and the next frame would start too low.
		for pb.CellCount(line) > cols-1 {
			r := []rune(line)
			line = string(r[:len(r)-1])
		}
		out.WriteString("\r" + line + "\033[K\n")
	}
	b.drawn = 2
	io.WriteString(b.w, out.String())
}

// write erases the frame, writes p where it was, and draws the frame below it.
func (b *bars) write(p []byte) {
	if b.drawn > 0 {
		fmt.Fprintf(b.w, "\033[%dA\r\033[J", b.drawn)
		b.drawn = 0
	}
	b.w.Write(p)
	if len(p) > 0 && p[len(p)-1] != '\n' {
		io.WriteString(b.w, "\n")
	}
	b.draw()
}
