package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRecorderConcurrent(t *testing.T) {
	r := NewRecorder()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				r.Found(1)
				switch i % 4 {
				case 0:
					path := fmt.Sprintf("/in/%d-%03d.jpg", g, i)
					r.Fail(path, "decode", fmt.Errorf("%s: corrupt image: jpeg: truncated file", path))
				case 1:
					r.Skipped()
				default:
					r.Done()
				}
			}
		})
	}
	wg.Wait()
	rep := r.Report(nil, nil)
	want := Counts{Found: 800, Done: 400, SkippedExisting: 200, Failed: 200}
	if rep.Counts != want || len(rep.Failures) != 200 {
		t.Fatalf("counts %+v, %d failures", rep.Counts, len(rep.Failures))
	}
	if !slices.IsSortedFunc(rep.Failures, func(a, b Failure) int { return strings.Compare(a.Path, b.Path) }) {
		t.Fatal("failures not sorted by path")
	}
	f := rep.Failures[0]
	if f.Path != "/in/0-000.jpg" || f.Stage != "decode" || f.Reason != "corrupt image: jpeg: truncated file" {
		t.Fatalf("failure %+v", f)
	}
	if rep.Interrupted || rep.Error != "" || rep.Stages == nil {
		t.Fatalf("report %+v", rep)
	}
}

// The stage table and the bottleneck come from a real pipeline's statistics.
func TestReportStagesFromPipeline(t *testing.T) {
	p := pipeline.New()
	items := make([]int, 40)
	fast := pipeline.Map(pipeline.FromSlice(p, items), func(_ context.Context, x int) (int, error) { return x, nil },
		pipeline.Name("decode"))
	slow := pipeline.Map(fast, func(_ context.Context, x int) (int, error) {
		time.Sleep(time.Millisecond)
		return x, nil
	}, pipeline.Name("gpu"))
	pipeline.Discard(slow, pipeline.Name("write"))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep := NewRecorder().Report(p.Stats(), nil)
	if rep.Bottleneck != "gpu" || rep.BottleneckUtilization <= 0.5 {
		t.Fatalf("bottleneck %q at %.2f", rep.Bottleneck, rep.BottleneckUtilization)
	}
	var gpu *Stage
	for i := range rep.Stages {
		if rep.Stages[i].Name == "gpu" {
			gpu = &rep.Stages[i]
		}
	}
	if gpu == nil || gpu.In != 40 || gpu.Out != 40 || gpu.BusySeconds < 0.035 || gpu.Workers != 1 {
		t.Fatalf("gpu stage %+v", gpu)
	}
	if runtime.GOOS == "linux" && (rep.MaxRSSBytes < 1<<20 || rep.MaxRSSBytes > 1<<40) {
		t.Errorf("peak memory %d bytes", rep.MaxRSSBytes)
	}
}

func TestReportInterrupted(t *testing.T) {
	r := NewRecorder()
	rep := r.Report(nil, fmt.Errorf("run: %w", context.Canceled))
	if !rep.Interrupted || rep.Error != "interrupted" {
		t.Fatalf("cancelled: %+v", rep)
	}
	rep = r.Report(nil, errors.New("output /out/a.jpg: write: no space left on device (disk full)"))
	if !rep.Interrupted || rep.Error != "output /out/a.jpg: write: no space left on device (disk full)" {
		t.Fatalf("failed: %+v", rep)
	}
}

func TestWriteAndReadFile(t *testing.T) {
	r := NewRecorder()
	r.Inputs, r.Output, r.Device, r.Shard = []string{"/in"}, "/out", "cpu (2 cores)", "1/4"
	r.Found(3)
	r.Done()
	r.Skipped()
	r.Fail("/in/bad.png", "decode", errors.New("/in/bad.png: empty file"))
	rep := r.Report(nil, nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "report.json")
	if err := os.WriteFile(path, []byte("old report"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Counts != rep.Counts || back.Device != "cpu (2 cores)" || back.Shard != "1/4" ||
		!slices.Equal(back.Failures, rep.Failures) || !back.Start.Equal(rep.Start) {
		t.Fatalf("read back %+v\nwrote %+v", back, rep)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left %v", entries)
	}

	// The JSON keys are the documented ones.
	var raw map[string]any
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"inputs", "output", "shard", "device", "start", "end", "seconds", "interrupted",
		"counts", "files_per_second", "stages", "failures"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("no %q in %s", k, data)
		}
	}
	counts := raw["counts"].(map[string]any)
	for _, k := range []string{"found", "done", "skipped_existing", "failed"} {
		if _, ok := counts[k]; !ok {
			t.Errorf("no counts.%q", k)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("read a missing report")
	}
}

func TestEmptyListsAreArrays(t *testing.T) {
	rep := NewRecorder().Report(nil, nil)
	data, err := json.Marshal(&rep)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	json.Unmarshal(data, &raw)
	if string(raw["failures"]) != "[]" || string(raw["stages"]) != "[]" {
		t.Fatalf("failures %s, stages %s", raw["failures"], raw["stages"])
	}
}

func TestReportWaitOrderAndUnits(t *testing.T) {
	stats := []pipeline.StageStats{
		{Name: "decode", Kind: "ordered-map", Workers: 2, WaitOrder: 1500 * time.Millisecond, Elapsed: time.Second, ErrorUnits: 1, Errors: 1},
		{Name: "gpu", Kind: "custom", Workers: 1, Units: true, DoneUnits: 30, ErrorUnits: 2, Errors: 1, Elapsed: time.Second},
	}
	rep := NewRecorder().Report(stats, nil)
	var b strings.Builder
	if err := rep.Encode(&b); err != nil {
		t.Fatal(err)
	}
	if d, g := rep.Stages[0], rep.Stages[1]; d.WaitOrderSeconds != 1.5 || d.DoneUnits != 0 || d.ErrorUnits != 0 ||
		g.DoneUnits != 30 || g.ErrorUnits != 2 || g.WaitOrderSeconds != 0 {
		t.Errorf("stages %+v", rep.Stages)
	}
	if n := strings.Count(b.String(), `"wait_order_seconds"`); n != 1 {
		t.Errorf("wait_order_seconds appears %d times:\n%s", n, b.String())
	}
}

// The bottleneck is judged over one window, the run's: a walk busy for the second it lived is
// not slower than a decode busy for 13 seconds out of 13.
func TestBottleneckOverTheRunsWindow(t *testing.T) {
	stats := []pipeline.StageStats{
		{Name: "walk", Kind: "source", Workers: 1, Busy: 980 * time.Millisecond, Elapsed: time.Second, Done: true},
		{Name: "decode", Kind: "ordered-map", Workers: 2, Busy: 24 * time.Second, Elapsed: 13 * time.Second},
		{Name: "write", Kind: "for-each", Workers: 2, Busy: 6 * time.Second, Elapsed: 13 * time.Second},
	}
	rep := NewRecorder().Report(stats, nil)
	if rep.Bottleneck != "decode" || rep.BottleneckUtilization < 0.92 || rep.BottleneckUtilization > 0.93 {
		t.Fatalf("bottleneck %q at %.3f, want decode at 24/26", rep.Bottleneck, rep.BottleneckUtilization)
	}
	walk := rep.Stages[0]
	if walk.Utilization < 0.97 || walk.RunUtilization > 0.08 {
		t.Errorf("walk: %.2f of its own life, %.2f of the run's", walk.Utilization, walk.RunUtilization)
	}
}

func TestAddDone(t *testing.T) {
	r := NewRecorder()
	r.Found(5)
	r.AddDone(3)
	r.Done()
	r.Skipped()
	if c := r.Counts(); c != (Counts{Found: 5, Done: 4, SkippedExisting: 1}) {
		t.Fatalf("counts %+v", c)
	}
}
