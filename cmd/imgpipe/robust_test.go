package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/internal/hostile"
	"github.com/gpupipe/gpupipe/stages/npy"
)

func TestHelpIsPrintedOnce(t *testing.T) {
	res := imgpipe(t, "-h")
	if res.code != exitOK || strings.Count(res.stdout, "Usage:") != 1 || res.stderr != "" {
		t.Errorf("-h: exit %d, %d usages on stdout, stderr %q", res.code, strings.Count(res.stdout, "Usage:"), res.stderr)
	}
	res = imgpipe(t, "--no-such-flag")
	if res.code != exitUsage || strings.Contains(res.stderr, "Usage:") || strings.Count(res.stderr, "no-such-flag") != 1 {
		t.Errorf("a bad flag: exit %d, stderr %q", res.code, res.stderr)
	}
}

// Mistakes that would fail every file are usage errors, told before any work, with the
// reason.
func TestUsageErrorsConcerningEveryFile(t *testing.T) {
	in, dir := t.TempDir(), t.TempDir()
	goodImages(t, in, 2, 12)
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--out", file}, "is a file, not a folder"},
		{[]string{"--out", filepath.Join(file, "sub")}, "not a directory"},
		{[]string{"--out", filepath.Join(dir, "o"), "--ops", "resize=30000x30000"}, "at least 30000×30000 whatever the input"},
		{[]string{"--out", filepath.Join(dir, "o"), "--size", "20000x20000", "--mode", "fill"}, "--size: "},
		{[]string{"--out", filepath.Join(dir, "o"), "--max-pixels", "0"}, "--max-pixels 0: want a number of pixels of at least 1, or -1 for no limit"},
		{[]string{"--out", filepath.Join(dir, "o"), "--shrink-on-load", "0.5"}, `--shrink-on-load "0.5": want a margin from 1 to 64, off or auto`},
		{[]string{"--out", filepath.Join(dir, "o"), "--shrink-on-load", "NaN"}, `--shrink-on-load "NaN": want a margin from 1 to 64, off or auto`},
		{[]string{"--out", filepath.Join(dir, "o"), "--decode-workers", "-1"}, "--decode-workers -1: cannot be negative"},
	} {
		res := imgpipe(t, append([]string{"--in", in, "--quiet"}, c.args...)...)
		if res.code != exitUsage || !strings.Contains(res.stderr, c.says) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 saying %q", c.args, res.code, res.stderr, c.says)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "o")); err == nil {
		t.Error("a usage error created the output folder")
	}
	// --max-pixels -1 is no limit.
	if res := imgpipe(t, "--in", in, "--out", filepath.Join(dir, "o"), "--max-pixels", "-1", "--quiet"); res.code != exitOK {
		t.Errorf("--max-pixels -1: exit %d\n%s", res.code, res.stderr)
	}
}

// A report that cannot be written makes the run exit 1, although every file was done.
func TestReportWriteFailureIsExit1(t *testing.T) {
	in, out, dir := t.TempDir(), t.TempDir(), t.TempDir()
	goodImages(t, in, 2, 13)
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	res := imgpipe(t, "--in", in, "--out", out, "--size", "16", "--quiet", "--report", filepath.Join(dir, "file", "report.json"))
	if res.code != exitSomeFailed || !strings.Contains(res.stderr, "imgpipe: report: ") {
		t.Errorf("exit %d, stderr %q", res.code, res.stderr)
	}
}

// An adversarial corpus: files built to be slow, valid files of unsupported kinds and good
// files together. The hostile ones are refused in no time with the reason, unsupported kinds
// are told from corrupt ones, the good ones are done, and the counts add up. Both JPEG paths.
func TestHostileFiles(t *testing.T) {
	in := t.TempDir()
	good := goodImages(t, in, 4, 14)
	hostileFiles := map[string]struct {
		data   []byte
		reason string
	}{
		// Go's image/jpeg took 16.5 s on this one, 20 s in imgpipe.
		"hostile/scans.jpg":   {hostile.ProgressiveJPEG(2048, 2048, 4000), "too costly to decode: jpeg: its 33 scans visit each 8×8 block more than 32 times"},
		"hostile/markers.jpg": {hostile.ManyMarkersJPEG(20000), "too costly to decode: jpeg: more than 1000 marker segments"},
		"hostile/lzma.tif":    {hostile.UnsupportedTIFF(hostile.TIFFLZMA), "unsupported: TIFF with LZMA compression"},
		"hostile/cut.png":     {[]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00"), "corrupt image: png header: truncated file"},
	}
	for rel, f := range hostileFiles {
		os.MkdirAll(filepath.Join(in, filepath.Dir(rel)), 0o755)
		if err := os.WriteFile(filepath.Join(in, rel), f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, env := range []string{"", "GPUPIPE_TURBOJPEG=off"} {
		out := t.TempDir()
		reportPath := filepath.Join(t.TempDir(), "report.json")
		cmd := exec.Command(bin, "--in", in, "--out", out, "--size", "32", "--report", reportPath, "--progress", "none")
		cmd.Env = append(os.Environ(), env)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != exitSomeFailed {
			t.Fatalf("%s: %v, want exit 1\n%s", env, err, stderr.String())
		}
		if took > 10*time.Second {
			t.Errorf("%s: the run took %v", env, took)
		}
		rep := readReport(t, reportPath)
		c := rep.Counts
		if c.Found != int64(len(good)+len(hostileFiles)) || c.Done != int64(len(good)) || c.Failed != int64(len(hostileFiles)) ||
			c.Done+c.SkippedExisting+c.Failed != c.Found {
			t.Errorf("%s: counts %+v", env, c)
		}
		reasons := map[string]string{}
		for _, f := range rep.Failures {
			rel, _ := filepath.Rel(in, f.Path)
			reasons[rel] = f.Reason
		}
		for rel, f := range hostileFiles {
			if !strings.HasPrefix(reasons[rel], f.reason) {
				t.Errorf("%s: %s failed with %q, want %q", env, rel, reasons[rel], f.reason)
			}
		}
		for _, line := range strings.Split(stderr.String(), "\n") {
			if strings.Contains(line, "png: png:") || strings.Contains(line, "jpeg: jpeg:") {
				t.Errorf("doubled prefix: %q", line)
			}
		}
		t.Logf("%q: %v", env, took)
	}
}

// Ctrl-C stops a run within a second even while images are being decoded, and a second
// Ctrl-C exits at once.
func TestInterruptMidDecode(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	// 8000×8000, 32 scans: about 5 s each in Go's decoder, within every limit.
	for i := range 2 {
		os.WriteFile(filepath.Join(in, fmt.Sprintf("big%d.jpg", i)), hostile.ProgressiveJPEG(8000, 8000, 32), 0o644)
	}
	cmd := exec.Command(bin, "--in", in, "--out", out, "--size", "64", "--workers", "2", "--progress", "none")
	cmd.Env = append(os.Environ(), "GPUPIPE_TURBOJPEG=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // the decodes have started
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	latency := time.Since(sent)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted {
		t.Fatalf("after SIGINT: %v, want exit 130\n%s", err, stderr.String())
	}
	if latency > time.Second {
		t.Errorf("took %v to stop after SIGINT mid-decode, want under a second", latency)
	}
	if !strings.Contains(stderr.String(), "interrupted: run the same command again") {
		t.Errorf("stderr %q", stderr.String())
	}
	t.Logf("exit 130 %v after SIGINT", latency)
}

// When the first Ctrl-C cannot end the run (here it is stuck writing failure lines to a
// stderr nobody reads, as behind a paused pager), the second exits at once.
func TestSecondInterruptExitsAtOnce(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	for i := range 3000 {
		os.WriteFile(filepath.Join(in, fmt.Sprintf("broken-file-with-a-long-name-%04d.jpg", i)), []byte("not an image"), 0o644)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(bin, "--in", in, "--out", out, "--progress", "none")
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	time.Sleep(time.Second) // stderr's pipe is full: the run blocks on a failure line
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		t.Fatalf("the first SIGINT ended the run (%v): its stderr was not blocked", err)
	case <-time.After(300 * time.Millisecond):
	}
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted {
			t.Errorf("after the second SIGINT: %v, want exit 130", err)
		}
		t.Logf("exit 130 %v after the second SIGINT", time.Since(sent))
		if d := time.Since(sent); d > 500*time.Millisecond {
			t.Errorf("took %v to exit after the second SIGINT", d)
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatal("still running 5 s after the second SIGINT")
	}
	io.Copy(io.Discard, r)
}

// The signal handler: the first signal cancels, the second exits 130 without waiting on a
// blocked stderr.
func TestOnSignals(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	cancelled := make(chan struct{})
	exited := make(chan int, 1)
	_, blocked := io.Pipe() // a writer whose writes never return, as nobody reads
	go onSignals(sigs, func() { close(cancelled) }, blocked, func(code int) { exited <- code })
	sigs <- os.Interrupt
	<-cancelled
	select {
	case <-exited:
		t.Fatal("exited at the first signal")
	case <-time.After(50 * time.Millisecond):
	}
	start := time.Now()
	sigs <- syscall.SIGTERM
	if code := <-exited; code != exitInterrupted || time.Since(start) > time.Second {
		t.Errorf("exit %d after %v", code, time.Since(start))
	}
}

// shardFiles reads the tensor files of dir (shards, index, manifest) by name.
func shardFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
	}
	return out
}

// A tensor run killed with SIGKILL, or stopped with Ctrl-C, and run again with the same
// command ends with exactly the shards, index and manifest of an uninterrupted run; numpy
// reads them back; the rerun's counts add up.
func TestTensorRunResumesAfterKill(t *testing.T) {
	in := t.TempDir()
	r := rand.New(rand.NewPCG(21, 21))
	const n = 40
	for i := range n {
		writeImage(t, filepath.Join(in, fmt.Sprintf("d%d/p%03d.jpg", i%2, i)), noisy(r, 260+r.IntN(200), 240+r.IntN(200)))
	}
	args := func(out string) []string {
		return []string{"--in", in, "--out", out, "--tensor", "imagenet-uint8", "--shard-rows", "4", "--batch", "2",
			"--workers", "1", "--progress", "none"}
	}
	want := t.TempDir()
	if res := imgpipe(t, args(want)...); res.code != exitOK {
		t.Fatalf("uninterrupted: exit %d\n%s", res.code, res.stderr)
	}
	wantFiles := shardFiles(t, want)

	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT} {
		out := t.TempDir()
		cmd := exec.Command(bin, args(out)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitForFile(t, filepath.Join(out, "shard-00002.npy"))
		cmd.Process.Signal(sig)
		cmd.Wait()
		killed := shardFiles(t, out)
		reportPath := filepath.Join(t.TempDir(), "report.json")
		res := imgpipe(t, append(args(out), "--report", reportPath)...)
		if res.code != exitOK {
			t.Fatalf("%v, then the same command: exit %d\n%s", sig, res.code, res.stderr)
		}
		c := readReport(t, reportPath).Counts
		if c.Found != n || c.SkippedExisting < 8 || c.Done+c.SkippedExisting+c.Failed != c.Found || c.Failed != 0 {
			t.Errorf("%v: rerun counts %+v", sig, c)
		}
		got := shardFiles(t, out)
		if !slices.Equal(sortedKeys(got), sortedKeys(wantFiles)) {
			t.Fatalf("%v: files %v, want %v (after the signal: %v)", sig, sortedKeys(got), sortedKeys(wantFiles), sortedKeys(killed))
		}
		for name, data := range wantFiles {
			if !bytes.Equal(got[name], data) {
				t.Errorf("%v: %s differs from the uninterrupted run's", sig, name)
			}
		}
		if tmp := tempFiles(t, out); len(tmp) > 0 {
			t.Errorf("%v: temporary files left: %v", sig, tmp)
		}
		t.Logf("%v: %d files after the signal; the rerun did %d rows, found %d already there", sig, len(killed), c.Done, c.SkippedExisting)
	}
	checkWithNumpy(t, want, n)
}

func sortedKeys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func waitForFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s after two minutes", path)
}

// checkWithNumpy loads every shard of dir with numpy, where a Python with numpy is
// installed, and checks the rows add up to n of 224×224×3 and match the index, row for row.
func checkWithNumpy(t *testing.T, dir string, n int) {
	python := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import numpy").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		t.Log("no python3 with numpy: shards not read back with numpy")
		return
	}
	script := `import numpy as np, json, glob, sys
d = sys.argv[1]
rows = sum(np.load(p).shape[0] for p in sorted(glob.glob(d + "/shard-*.npy")))
idx = [json.loads(l) for l in open(d + "/shard-index.jsonl")]
man = json.load(open(d + "/shard-manifest.json"))
shapes = {np.load(d + "/" + s["name"]).shape[1:] for s in man["shards"]}
print(rows, len(idx), man["rows"], man["complete"], sorted(shapes))`
	out, err := exec.Command(python, "-c", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	want := fmt.Sprintf("%d %d %d True [(224, 224, 3)]", n, n, n)
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("numpy says %q, want %q", got, want)
	}
}

// --overwrite removes the shards the new index does not list, and --shard i/n parts share a
// folder without colliding.
func TestTensorOverwriteAndParts(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	goodImages(t, in, 9, 15)
	base := []string{"--in", in, "--out", out, "--tensor", "imagenet-uint8", "--shard-rows", "2", "--quiet"}
	if res := imgpipe(t, base...); res.code != exitOK {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	// Fewer inputs: the shards past the new end must go.
	entries, _ := os.ReadDir(filepath.Join(in, "set0"))
	for _, e := range entries {
		os.Remove(filepath.Join(in, "set0", e.Name()))
	}
	if res := imgpipe(t, append(base, "--overwrite")...); res.code != exitOK {
		t.Fatalf("--overwrite: exit %d\n%s", res.code, res.stderr)
	}
	index := readIndexLines(t, filepath.Join(out, "shard-index.jsonl"))
	var npys []string
	files, _ := filepath.Glob(filepath.Join(out, "shard-*.npy"))
	for _, f := range files {
		npys = append(npys, filepath.Base(f))
	}
	if len(index) != 6 || len(npys) != 3 {
		t.Errorf("after --overwrite with 6 inputs: %d index lines, shards %v", len(index), npys)
	}
	for i := range 2 {
		res := imgpipe(t, append(base, "--shard", fmt.Sprintf("%d/2", i))...)
		if res.code != exitOK {
			t.Fatalf("--shard %d/2: exit %d\n%s", i, res.code, res.stderr)
		}
	}
	rows := 0
	for _, part := range []string{"s0of2", "s1of2"} {
		rows += len(readIndexLines(t, filepath.Join(out, "shard-"+part+"-index.jsonl")))
		f, err := os.Open(filepath.Join(out, "shard-"+part+"-00000.npy"))
		if err != nil {
			t.Fatal(err)
		}
		h, err := npy.ReadHeader(f)
		f.Close()
		if err != nil || h.Descr != npy.Uint8 {
			t.Errorf("%s: %+v, %v", part, h, err)
		}
	}
	if rows != 6 {
		t.Errorf("the two parts hold %d rows, want 6", rows)
	}
}

func readIndexLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// --shrink-on-load: auto is 2 for thumbnails, off decodes at full size (other pixels), and a
// margin of 1 decodes smaller still. Outputs go to PNG so that only the decode differs.
func TestShrinkOnLoadFlag(t *testing.T) {
	if v := imgpipe(t, "--version"); !strings.Contains(v.stdout, "JPEG: libjpeg-turbo") {
		t.Skipf("no libjpeg-turbo, so no shrink-on-load: %s", v.stdout)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeImage(t, filepath.Join(in, "big.jpg"), noisy(rand.New(rand.NewPCG(5, 6)), 1600, 1200))
	out := map[string][]byte{}
	for _, m := range []string{"auto", "2", "off", "1"} {
		o := filepath.Join(dir, "out-"+m)
		if res := imgpipe(t, "--in", in, "--out", o, "--size", "250", "--format", "png", "--shrink-on-load", m, "--quiet"); res.code != exitOK {
			t.Fatalf("--shrink-on-load %s: exit %d\n%s", m, res.code, res.stderr)
		}
		b, err := os.ReadFile(filepath.Join(o, "big.png"))
		if err != nil {
			t.Fatal(err)
		}
		out[m] = b
	}
	if !bytes.Equal(out["auto"], out["2"]) {
		t.Errorf("auto differs from 2")
	}
	if bytes.Equal(out["off"], out["2"]) || bytes.Equal(out["1"], out["2"]) || bytes.Equal(out["off"], out["1"]) {
		t.Errorf("off, 1 and 2 do not all differ: the margin changes nothing")
	}
}
