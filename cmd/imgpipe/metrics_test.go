package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrapeMetrics reads a metrics page into a map from series (name and labels) to value.
func scrapeMetrics(t *testing.T, url string) (map[string]float64, error) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// TestMetricsFlag runs imgpipe with --metrics and scrapes it mid-run. The run names each
// failed file on stderr, which the test leaves unread at first: once the pipe is full the
// run waits in the middle, however fast the machine, and the scrape sees it there. The
// figures then are at most the report's, and the run's stages and device are all there.
func TestMetricsFlag(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	goodImages(t, in, 6, 3)
	const broken = 400 // failure lines of about 300 bytes: twice a pipe's 64 KiB
	for i := range broken {
		name := fmt.Sprintf("%s%03d.jpg", strings.Repeat("n", 180), i)
		if err := os.WriteFile(filepath.Join(in, name), []byte("not an image"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reportPath := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(bin, "--in", in, "--out", out, "--size", "32", "--progress", "none",
		"--metrics", "127.0.0.1:0", "--report", reportPath, "--workers", "2")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	br := bufio.NewReader(stderr)
	line, err := br.ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "imgpipe: metrics at ")
	if err != nil || !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q, %v", line, err)
	}
	var mid map[string]float64
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		s, err := scrapeMetrics(t, url)
		if err != nil {
			t.Fatal(err)
		}
		if s[`gpupipe_files_total{outcome="failed"}`] > 0 {
			mid = s
			break
		}
	}
	rest, _ := io.ReadAll(br)
	if err := cmd.Wait(); cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1\n%s", err, rest)
	}
	if mid == nil {
		t.Fatal("no scrape saw a failed file")
	}
	rep := readReport(t, reportPath)
	if rep.Counts.Done != 6 || rep.Counts.Failed != broken {
		t.Fatalf("counts %+v", rep.Counts)
	}
	if f := mid[`gpupipe_files_total{outcome="failed"}`]; f >= broken {
		t.Errorf("the scrape saw %v failed files: not mid-run", f)
	}
	for _, c := range []struct {
		series string
		final  int64
	}{
		{`gpupipe_files_total{outcome="found"}`, rep.Counts.Found},
		{`gpupipe_files_total{outcome="done"}`, rep.Counts.Done},
		{`gpupipe_files_total{outcome="failed"}`, rep.Counts.Failed},
	} {
		if v, ok := mid[c.series]; !ok || v > float64(c.final) {
			t.Errorf("%s = %v (exported %v) mid-run, over the report's %d", c.series, v, ok, c.final)
		}
	}
	for _, st := range rep.Stages {
		series := `gpupipe_stage_items_in_total{stage="` + st.Name + `"}`
		if v, ok := mid[series]; !ok || v > float64(st.In) {
			t.Errorf("%s = %v (exported %v) mid-run; the report ends at %d", series, v, ok, st.In)
		}
	}
	if _, ok := mid[`gpupipe_device_bytes_total{device="0",direction="h2d"}`]; !ok {
		t.Error("no device bytes exported")
	}
	if _, ok := mid["process_resident_memory_bytes"]; !ok {
		t.Error("no process metrics exported")
	}

	r := imgpipe(t, "--in", in, "--out", out, "--metrics", "bad address")
	if r.code != 2 || !strings.Contains(r.stderr, "--metrics") {
		t.Errorf("a bad --metrics address: exit %d\n%s", r.code, r.stderr)
	}
}
