package job

import (
	"bufio"
	"context"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/internal/metrics"
)

// scrape reads a metrics page into a map from series (name and labels, as printed) to value.
func scrape(t *testing.T, client *http.Client, url string) map[string]float64 {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Error(err)
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Errorf("GET %s: %s\n%s", url, resp.Status, body)
		return nil
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Errorf("metrics line %q: %v", line, err)
			continue
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsAddUpToTheReport scrapes the metrics server while a run goes on (a device whose
// kernels take time, so that the run lasts), checks that the counters only grow, and that
// the last scrape, after the run, gives the report's figures: files by outcome, each stage's
// items and errors and busy time, the device's bytes and batches.
func TestMetricsAddUpToTheReport(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	names := writePNGs(t, in, 30, 5)
	for _, bad := range []string{"bad1.png", "d0/bad2.png"} {
		if err := os.WriteFile(filepath.Join(in, bad), []byte("\x89PNG\r\n\x1a\n broken"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := metrics.New()
	srv, err := metrics.Serve("127.0.0.1:0", m.Registry)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

	dev := cpuDevice(t, cpu.WithTiming(cpu.Timing{KernelTime: 15 * time.Millisecond}))
	done := make(chan struct{})
	var scrapes []map[string]float64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if s := scrape(t, client, srv.URL()); s != nil {
				scrapes = append(scrapes, s)
			}
		}
	})
	rep, err := Run(context.Background(), Config{
		Inputs: []string{in}, Output: out, Chain: mustChain(t, "fit=16x16"), Format: "png",
		Devices: []gpu.Device{dev}, Batch: 2, DecodeWorkers: 2, EncodeWorkers: 2, Metrics: m,
	})
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.Done != int64(len(names)) || rep.Counts.Failed != 2 {
		t.Fatalf("counts %+v", rep.Counts)
	}
	final := scrape(t, client, srv.URL())

	mid := 0
	for i, s := range scrapes {
		if d, ok := s[`gpupipe_files_total{outcome="done"}`]; ok && d < float64(rep.Counts.Done) && s[`gpupipe_files_total{outcome="found"}`] > 0 {
			mid++
		}
		for k, v := range s {
			if strings.Contains(k, "_total") && !strings.HasPrefix(k, "go_") && !strings.HasPrefix(k, "process_") && final[k] < v {
				t.Errorf("scrape %d: %s = %v, later %v: a counter went down", i, k, v, final[k])
			}
		}
	}
	t.Logf("%d scrapes, %d during the run; %d series at the end", len(scrapes), mid, len(final))
	if mid == 0 {
		t.Errorf("no scrape of %d saw the run in progress", len(scrapes))
	}

	want := map[string]float64{
		`gpupipe_files_total{outcome="found"}`:                      float64(rep.Counts.Found),
		`gpupipe_files_total{outcome="done"}`:                       float64(rep.Counts.Done),
		`gpupipe_files_total{outcome="failed"}`:                     float64(rep.Counts.Failed),
		`gpupipe_files_total{outcome="skipped_existing"}`:           float64(rep.Counts.SkippedExisting),
		`gpupipe_device_info{device="0",name="` + dev.Name() + `"}`: 1,
	}
	gpuStages := 0
	for _, st := range rep.Stages {
		l := `{stage="` + st.Name + `"}`
		want["gpupipe_stage_items_in_total"+l] = float64(st.In)
		want["gpupipe_stage_items_out_total"+l] = float64(st.Out)
		want["gpupipe_stage_errors_total"+l] = float64(st.Errors)
		want["gpupipe_stage_busy_seconds_total"+l] = st.BusySeconds
		want["gpupipe_stage_workers"+l] = float64(st.Workers)
		want[`gpupipe_stage_wait_seconds_total{cause="input",stage="`+st.Name+`"}`] = st.WaitInSeconds
		if _, ok := st.Extra["devices"]; ok {
			gpuStages++
			want[`gpupipe_device_bytes_total{device="0",direction="h2d"}`] = st.Extra["bytes_in"]
			want[`gpupipe_device_bytes_total{device="0",direction="d2h"}`] = st.Extra["bytes_out"]
			want[`gpupipe_device_batches_total{device="0"}`] = st.Extra["batches"]
			want[`gpupipe_device_seconds_total{device="0",phase="kernel"}`] = st.Extra["kernel_ms"] / 1e3
		}
	}
	if gpuStages != 1 || want[`gpupipe_device_batches_total{device="0"}`] < 15 {
		t.Fatalf("the report has %d device stages, %v batches", gpuStages, want[`gpupipe_device_batches_total{device="0"}`])
	}
	for k, v := range want {
		got, ok := final[k]
		if !ok || math.Abs(got-v) > 1e-9*math.Max(1, math.Abs(v)) {
			t.Errorf("%s = %v (exported %v), want the report's %v", k, got, ok, v)
		}
	}
	if _, ok := final["gpupipe_queue_lag_messages"]; ok {
		t.Error("a local run exports the queue lag")
	}
	m.QueueLag().Set(7)
	if got := scrape(t, client, srv.URL())["gpupipe_queue_lag_messages"]; got != 7 {
		t.Errorf("queue lag set to 7 reads %v", got)
	}
}
