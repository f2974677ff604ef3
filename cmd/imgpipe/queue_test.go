package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/internal/natstest"
	"github.com/gpupipe/gpupipe/internal/queue"
)

// queueJob is an input folder of n photos and two corrupt files, and an output folder.
type queueJob struct {
	url, in, out string
	good         []string
	corrupt      []string
}

func newQueueJob(t *testing.T, n int) *queueJob {
	t.Helper()
	j := &queueJob{url: natstest.Start(t) + "/photos", in: t.TempDir(), out: filepath.Join(t.TempDir(), "out")}
	r := rand.New(rand.NewPCG(12, 1))
	for i := range n {
		name := fmt.Sprintf("set%d/p%03d.jpg", i%3, i)
		writeImage(t, filepath.Join(j.in, name), noisy(r, 320+r.IntN(64), 240+r.IntN(48)))
		j.good = append(j.good, name)
	}
	j.corrupt = []string{"set0/broken.jpg", "set1/empty.png"}
	if err := os.WriteFile(filepath.Join(j.in, j.corrupt[0]), []byte("\xff\xd8\xff\xe0 not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(j.in, j.corrupt[1]), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return j
}

func (j *queueJob) status(t *testing.T) queue.Status {
	t.Helper()
	q, err := queue.Open(context.Background(), j.url)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	st, err := q.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// worker starts a worker process.
func (j *queueJob) worker(t *testing.T, extra ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	args := append([]string{"worker", "--queue", j.url, "--device", "cpu", "--workers", "1", "--batch", "2",
		"--progress", "none"}, extra...)
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, &stderr
}

// waitFor polls the queue's status until ok says so.
func (j *queueJob) waitFor(t *testing.T, what string, ok func(queue.Status) bool) queue.Status {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := j.status(t)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %+v", what, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkOutputs checks that every good input has exactly one output, a valid JPEG of the
// size asked for, and that nothing else is there (no temporary, no output of a corrupt
// file).
func (j *queueJob) checkOutputs(t *testing.T) {
	t.Helper()
	var got []string
	_ = filepath.WalkDir(j.out, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(j.out, p)
			got = append(got, rel)
		}
		return nil
	})
	if len(got) != len(j.good) {
		t.Errorf("%d files under --out, want %d: %v", len(got), len(j.good), got)
	}
	for _, name := range j.good {
		b, err := os.ReadFile(filepath.Join(j.out, name))
		if err != nil {
			t.Error(err)
			continue
		}
		m, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil || max(m.Bounds().Dx(), m.Bounds().Dy()) != 64 {
			t.Errorf("%s: not a JPEG of 64 pixels on its longer side: %v", name, err)
		}
	}
}

func (j *queueJob) submit(t *testing.T, extra ...string) result {
	t.Helper()
	return imgpipe(t, append([]string{"submit", "--queue", j.url, "--in", j.in, "--out", j.out, "--size", "64",
		"--ack-wait", "2s"}, extra...)...)
}

// Three workers share one job; one is killed with SIGKILL while it holds files. Its files
// come back after the ack wait and the others finish them: every input has exactly one
// valid output, each corrupt file is recorded failed once, and status ends at done.
func TestQueueWorkersOneKilled(t *testing.T) {
	j := newQueueJob(t, 60)
	total := len(j.good) + len(j.corrupt)
	if r := j.submit(t); r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("queued %d files", total)) {
		t.Fatalf("submit: %+v", r)
	}
	if r := j.submit(t); r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("queued 0 files (%d were queued", total)) {
		t.Fatalf("submitting again: %+v", r)
	}
	victim, _ := j.worker(t)
	st := j.waitFor(t, "the first worker to be mid-run", func(st queue.Status) bool { return st.Done >= 3 && st.InFlight >= 1 })
	if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = victim.Wait()
	if st.Done+st.Failed >= total {
		t.Fatalf("the worker finished before it was killed: %+v", st)
	}
	var workers []*exec.Cmd
	var logs []*bytes.Buffer
	for range 2 {
		w, log := j.worker(t, "--exit-when-empty")
		workers, logs = append(workers, w), append(logs, log)
	}
	wait := exec.Command(bin, "status", "--queue", j.url, "--wait", "--progress", "plain", "--interval", "100ms")
	var waitOut, waitErr bytes.Buffer
	wait.Stdout, wait.Stderr = &waitOut, &waitErr
	if err := wait.Start(); err != nil {
		t.Fatal(err)
	}
	for i, w := range workers {
		if err := w.Wait(); err != nil {
			t.Errorf("worker %d: %v\n%s", i, err, logs[i])
		}
	}
	if err := wait.Wait(); err == nil || wait.ProcessState.ExitCode() != 1 {
		t.Errorf("status --wait: %v, want exit 1 (some files failed)\n%s%s", err, waitOut.String(), waitErr.String())
	}
	if !strings.Contains(waitErr.String(), fmt.Sprintf("%d/%d files", total, total)) {
		t.Errorf("status --wait did not show the job finished:\n%s", waitErr.String())
	}
	j.checkOutputs(t)
	r := imgpipe(t, "status", "--queue", j.url, "--json")
	var final queue.Status
	if err := json.Unmarshal([]byte(r.stdout), &final); err != nil || r.code != 0 {
		t.Fatalf("status --json: %v, %+v", err, r)
	}
	if final.Done != len(j.good) || final.Failed != 2 || final.Dead != 0 || final.Queued != 0 || final.InFlight != 0 {
		t.Errorf("final status %+v", final)
	}
	if len(final.Failures) != 2 || !strings.HasSuffix(final.Failures[0].Path, j.corrupt[0]) ||
		!strings.HasSuffix(final.Failures[1].Path, j.corrupt[1]) || !strings.Contains(final.Failures[0].Reason, "corrupt") ||
		!strings.Contains(final.Failures[1].Reason, "empty file") {
		t.Errorf("failures %+v, want each corrupt file once with its reason", final.Failures)
	}
}

// SIGINT stops a worker promptly: it exits 130 and hands back what it held, which another
// worker takes at once (not after the ack wait, here a minute) to finish the job.
func TestQueueWorkerInterrupted(t *testing.T) {
	j := newQueueJob(t, 40)
	if r := j.submit(t, "--ack-wait", "1m"); r.code != 0 {
		t.Fatalf("submit: %+v", r)
	}
	w, log := j.worker(t)
	j.waitFor(t, "the worker to be mid-run", func(st queue.Status) bool { return st.Done >= 2 && st.InFlight >= 1 })
	if err := w.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = w.Wait()
	if code := w.ProcessState.ExitCode(); code != exitInterrupted || time.Since(start) > 5*time.Second {
		t.Fatalf("after SIGINT: exit %d in %v, want 130 promptly\n%s", code, time.Since(start), log)
	}
	if st := j.status(t); st.Done+st.Failed+st.Queued+st.InFlight != len(j.good)+2 || st.Done == len(j.good) {
		t.Errorf("after SIGINT: %+v, want files left", st)
	}
	// Had the files not been handed back, the second worker would wait out the ack wait.
	start = time.Now()
	w2, log2 := j.worker(t, "--exit-when-empty")
	if err := w2.Wait(); err != nil {
		t.Fatalf("second worker: %v\n%s", err, log2)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the second worker took %v: the first one's files were not handed back", d)
	}
	if r := imgpipe(t, "status", "--queue", j.url, "--wait"); r.code != 1 || !strings.Contains(r.stdout, fmt.Sprintf("done           %d", len(j.good))) {
		t.Errorf("status --wait: %+v", r)
	}
	j.checkOutputs(t)
}

// Usage mistakes are told before anything is queued.
func TestQueueUsageErrors(t *testing.T) {
	in := t.TempDir()
	for _, args := range [][]string{
		{"submit", "--in", in, "--out", t.TempDir()},
		{"submit", "--queue", "nats://127.0.0.1:1/bad.name", "--in", in, "--out", t.TempDir()},
		{"submit", "--queue", "nats://127.0.0.1:1/q", "--in", in, "--out", t.TempDir(), "--tensor", "imagenet"},
		{"worker"},
		{"worker", "--queue", "nats://127.0.0.1:1/q", "--metrics", "no port"},
		{"status", "--queue", "nats://127.0.0.1:1/q", "--progress", "loud"},
	} {
		if r := imgpipe(t, args...); r.code != exitUsage || strings.Count(r.stderr, "\n") != 2 {
			t.Errorf("%v: %+v, want exit 2 with one line and the hint", args, r)
		}
	}
}

// Outputs that would replace inputs are refused at submission, each named, since a worker
// sees one file at a time: nothing of them is queued.
func TestQueueSubmitRefusesOutputsOverInputs(t *testing.T) {
	j := newQueueJob(t, 3)
	r := imgpipe(t, "submit", "--queue", j.url, "--in", j.in, "--out", j.in, "--size", "64")
	// The JPEGs (three photos and a broken one) would be written over themselves; the
	// empty PNG makes a JPEG of another name.
	if r.code != 1 || strings.Count(r.stderr, "would replace its own input") != 4 || !strings.Contains(r.stderr, "4 files not queued") ||
		!strings.Contains(r.stdout, "queued 1 files") {
		t.Fatalf("submit with --out over --in: %+v", r)
	}
	if st := j.status(t); st.Queued != 1 {
		t.Errorf("status %+v, want the other file queued", st)
	}
}
