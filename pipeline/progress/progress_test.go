package progress

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cheggaaa/pb/v3"
	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe for the progress goroutine and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// slowPipeline has a fast stage and a slow one, so the slow one is the bottleneck.
func slowPipeline(n int) *pipeline.Pipeline {
	p := pipeline.New()
	src := pipeline.FromSlice(p, make([]int, n), pipeline.Name("src"))
	fast := pipeline.Map(src, func(_ context.Context, x int) (int, error) { return x, nil }, pipeline.Name("fast"))
	slow := pipeline.Map(fast, func(_ context.Context, x int) (int, error) {
		time.Sleep(2 * time.Millisecond)
		return x, nil
	}, pipeline.Name("slow"), pipeline.Buffer(4))
	pipeline.Discard(slow, pipeline.Name("sink"))
	return p
}

func TestPlainLinesShowCountsStagesAndBottleneck(t *testing.T) {
	var out syncBuffer
	p := slowPipeline(100)
	pr := Start(p, Options{Mode: Plain, Output: &out, Total: 100, Unit: "images", Interval: 40 * time.Millisecond})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	pr.Stop()
	pr.Stop() // a second Stop is harmless
	text := out.String()
	if strings.Contains(text, "\x1b") || strings.Contains(text, "\r") {
		t.Fatalf("plain output holds terminal control codes: %q", text)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) < 3 {
		t.Fatalf("want periodic lines and a final one, got:\n%s", text)
	}
	if !strings.Contains(lines[1], "*slow ") || !strings.Contains(lines[1], "q4/4") {
		t.Errorf("a mid-run line should mark the slow stage as the bottleneck with a full queue: %q", lines[1])
	}
	last := lines[len(lines)-1]
	if !strings.Contains(last, "finished: 100/100 images (100.0%)") {
		t.Errorf("final line %q", last)
	}
}

func TestNoneWritesNothingAndAutoIsPlainOffTerminal(t *testing.T) {
	for _, mode := range []Mode{None, Auto, Bar} {
		var out syncBuffer
		p := slowPipeline(10)
		pr := Start(p, Options{Mode: mode, Output: &out, Interval: 5 * time.Millisecond})
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		pr.Stop()
		text := out.String()
		switch {
		case mode == None && text != "":
			t.Errorf("mode none wrote %q", text)
		case mode != None && (!strings.Contains(text, "finished: 10 items") || strings.Contains(text, "\x1b")):
			t.Errorf("mode %v to a non-terminal wrote %q", mode, text)
		}
	}
}

func TestStopAfterCancelledRun(t *testing.T) {
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	p := slowPipeline(1000)
	pr := Start(p, Options{Mode: Plain, Output: &out, Total: 1000, Interval: time.Hour})
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if err := p.Run(ctx); err == nil {
		t.Fatal("the run was not cancelled")
	}
	pr.Stop()
	if !strings.Contains(out.String(), "finished: ") || strings.Contains(out.String(), "1000/1000") {
		t.Errorf("final line after cancellation: %q", out.String())
	}
}

func TestSetTotalAndETA(t *testing.T) {
	l := &lines{unit: "files"}
	s := snapshot{done: 50, total: 200, elapsed: 10 * time.Second}
	if got := l.counts(s); got != "50/200 files (25.0%) 5.0/s ETA 0:30" {
		t.Errorf("counts %q", got)
	}
	s.total = 0
	if got := l.counts(s); got != "50 files 5.0/s" {
		t.Errorf("counts with no total %q", got)
	}
	var out syncBuffer
	p := slowPipeline(5)
	pr := Start(p, Options{Mode: Plain, Output: &out, Interval: time.Hour})
	pr.SetTotal(3)
	pr.AddTotal(2)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	pr.Stop()
	if !strings.Contains(out.String(), "5/5 items (100.0%)") {
		t.Errorf("totals set while running were not used: %q", out.String())
	}
}

func TestBarTemplatesRender(t *testing.T) {
	main := pb.New64(200).SetTemplateString(mainTemplate).Set("unit", "images").Set(pb.Static, true)
	main.SetCurrent(50)
	main.SetWidth(100)
	if s := main.String(); !strings.Contains(s, "images 50 / 200") || !strings.Contains(s, "25.00%") {
		t.Errorf("main bar renders %q", s)
	}
	if err := main.Err(); err != nil {
		t.Fatal(err)
	}
	main.SetCurrent(200)
	main.Finish()
	if s := main.String(); strings.Contains(s, "EXTRA") || strings.Contains(s, "MISSING") || !strings.Contains(s, " in ") {
		t.Errorf("finished bar renders %q", s)
	}
	stages := pb.New64(0).SetTemplateString(stagesTemplate).Set(pb.Static, true)
	stages.Set("stages", "decode 97% q4/4")
	if s := stages.String(); s != "decode 97% q4/4" {
		t.Errorf("stage line renders %q", s)
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"auto": Auto, "BAR": Bar, "plain": Plain, "none": None, "": Auto} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseMode("fancy"); err == nil {
		t.Error("ParseMode accepted fancy")
	}
}

// A run of 10 files, decoded one by one and written in batches, ends at 10/10 although 2
// files fail to decode and one batch of 3 fails to write: failures are handled items, and
// the write stage counts the files in its batches.
func TestFailuresAndBatchesCountTowardsTheTotal(t *testing.T) {
	var out syncBuffer
	p := pipeline.New()
	files := pipeline.FromSlice(p, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, pipeline.Name("walk"))
	decoded := pipeline.Map(files, func(_ context.Context, f int) (int, error) {
		if f == 3 || f == 8 {
			return 0, errors.New("corrupt")
		}
		return f, nil
	}, pipeline.Name("decode"), pipeline.SkipErrors(nil))
	batches := pipeline.Batch(decoded, 3, 0, pipeline.Name("batch")) // [0 1 2] [4 5 6] [7 9]
	files3 := func(b []int) int { return len(b) }
	pipeline.ForEach(batches, func(_ context.Context, b []int) error {
		time.Sleep(5 * time.Millisecond)
		if b[0] == 4 {
			return errors.New("disk quota")
		}
		return nil
	}, pipeline.Name("write"), pipeline.CountUnits(files3), pipeline.SkipErrors(nil))
	pr := Start(p, Options{Mode: Plain, Output: &out, Total: 10, Unit: "files", Stage: "write", Interval: 2 * time.Millisecond})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	pr.Stop()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "finished: 10/10 files (100.0%)") {
		t.Errorf("final line %q", last)
	}
	for _, line := range lines {
		var done int
		if i := strings.Index(line, "] "); i > 0 {
			fmt.Sscanf(strings.TrimPrefix(line[i+2:], "finished: "), "%d/10", &done)
		}
		if done > 10 {
			t.Errorf("line %q counts past the total", line)
		}
	}
}

// The last line says how the run ended.
func TestFinishSaysHowTheRunEnded(t *testing.T) {
	for err, want := range map[error]string{
		nil:                                     "finished: ",
		fmt.Errorf("run: %w", context.Canceled): "interrupted: ",
		errors.New("disk full"):                 "stopped: ",
	} {
		var out syncBuffer
		p := slowPipeline(3)
		pr := Start(p, Options{Mode: Plain, Output: &out, Total: 3, Interval: time.Hour})
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		pr.Finish(err)
		pr.Stop() // after Finish, does nothing
		if text := out.String(); strings.Count(text, "\n") != 1 || !strings.Contains(text, want) {
			t.Errorf("Finish(%v) wrote %q, want %q", err, text, want)
		}
	}
}

// Text written through the Progress appears above the bars: the frame is erased, the text
// written, and the frame drawn again below it, never over it.
func TestWriteAboveBars(t *testing.T) {
	var out bytes.Buffer
	b := newBarsTo(&out, 10, "images", func() int { return 60 })
	s := snapshot{done: 3, total: 10, stages: []stageLine{{name: "decode", busy: 0.97, queueLen: 4, queueCap: 4}}}
	b.update(s)
	frame := out.String()
	if strings.Count(frame, "\n") != 2 || strings.Contains(frame, "\x1b[2A") || !strings.Contains(frame, "images 3 / 10") {
		t.Fatalf("first frame %q", frame)
	}
	out.Reset()
	b.write([]byte("imgpipe: /in/a.jpg: decode: corrupt image"))
	text := out.String()
	if !strings.HasPrefix(text, "\x1b[2A\r\x1b[J"+"imgpipe: /in/a.jpg: decode: corrupt image\n\r") ||
		strings.Count(text, "\n") != 3 || strings.Count(text, "\x1b[2A") != 1 {
		t.Fatalf("writing above the bars gave %q", text)
	}
	out.Reset()
	b.finish(s, "interrupted")
	last := out.String()
	if !strings.HasPrefix(last, "\x1b[2A") || !strings.Contains(last, "interrupted: images 3 / 10") {
		t.Fatalf("last frame %q", last)
	}
	for _, line := range strings.Split(last, "\n") {
		line = strings.TrimSuffix(strings.TrimPrefix(line, "\x1b[2A"), "\x1b[K")
		if n := pb.CellCount(strings.TrimPrefix(line, "\r")); n > 59 {
			t.Errorf("a line of %d cells on a terminal of 60: %q", n, line)
		}
	}
}

// Lines written through the Progress while plain lines are printed come out whole.
func TestWriteWithPlainLines(t *testing.T) {
	var out syncBuffer
	p := slowPipeline(200)
	pr := Start(p, Options{Mode: Plain, Output: &out, Total: 200, Interval: time.Millisecond})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				fmt.Fprintf(pr, "imgpipe: /in/%d-%d.jpg: decode: corrupt image\n", g, i)
			}
		})
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	pr.Stop()
	fmt.Fprintln(pr, "after")
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		switch {
		case strings.HasPrefix(line, "imgpipe: "):
			n++
			if !strings.HasSuffix(line, "decode: corrupt image") {
				t.Errorf("broken line %q", line)
			}
		case line == "after", strings.HasPrefix(line, "["):
		default:
			t.Errorf("unexpected line %q", line)
		}
	}
	if n != 200 || !strings.HasSuffix(out.String(), "after\n") {
		t.Errorf("%d failure lines, want 200; output ends %q", n, out.String()[max(0, len(out.String())-40):])
	}
}
