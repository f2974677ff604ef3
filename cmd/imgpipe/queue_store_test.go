package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image/jpeg"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gcblob "gocloud.dev/blob"

	"github.com/gpupipe/gpupipe/internal/natstest"
	"github.com/gpupipe/gpupipe/internal/queue"
	"github.com/gpupipe/gpupipe/internal/s3test"
)

// uploadTree copies the files of a local folder to a bucket under prefix and returns their
// keys' relative names, "/" between folders.
func uploadTree(t *testing.T, bucket *gcblob.Bucket, dir, prefix string) []string {
	t.Helper()
	var rels []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rels = append(rels, filepath.ToSlash(rel))
		return bucket.WriteAll(context.Background(), prefix+filepath.ToSlash(rel), b, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	return rels
}

// outputKey is the output object of an input under the default template and JPEG format.
func outputKey(rel string) string { return strings.TrimSuffix(rel, filepath.Ext(rel)) + ".jpg" }

// lockedWriter collects a process's output while the test reads it.
type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// A job from one S3 bucket to another (an S3 server in the test's process): the messages
// carry object URLs, two workers share it and exit once it is empty, every input is
// exactly one valid output object, the corrupt object is recorded once with its reason.
// Then a worker with --metrics waits for more; files added to the bucket and submitted
// again are processed, and a scrape during its run shows the queue's lag and the run's
// files and stages.
func TestQueueBetweenStores(t *testing.T) {
	ctx := context.Background()
	query := s3test.Start(t, "photos", "thumbs")
	in, out := "s3://photos/2024?"+query, "s3://thumbs/small?"+query
	photos, err := gcblob.OpenBucket(ctx, "s3://photos?"+query)
	if err != nil {
		t.Fatal(err)
	}
	defer photos.Close()
	local := t.TempDir()
	goodImages(t, local, 16, 21)
	good := uploadTree(t, photos, local, "2024/")
	if err := photos.WriteAll(ctx, "2024/set1/broken.jpg", []byte("\xff\xd8\xff\xe0 not a jpeg"), nil); err != nil {
		t.Fatal(err)
	}
	j := &queueJob{url: natstest.Start(t) + "/stores"}
	submit := func() result {
		return imgpipe(t, "submit", "--queue", j.url, "--in", in, "--out", out, "--size", "48", "--ack-wait", "2s")
	}
	if r := submit(); r.code != 0 || !strings.Contains(r.stdout, "queued 17 files") {
		t.Fatalf("submit: %+v", r)
	}

	var workers []*bytes.Buffer
	var cmds []interface{ Wait() error }
	for range 2 {
		w, log := j.worker(t, "--exit-when-empty")
		cmds, workers = append(cmds, w), append(workers, log)
	}
	for i, w := range cmds {
		if err := w.Wait(); err != nil {
			t.Fatalf("worker %d: %v\n%s", i, err, workers[i])
		}
	}
	checkObjects := func(good []string) {
		t.Helper()
		got := readBucket(t, out)
		want := map[string]bool{}
		for _, rel := range good {
			want[outputKey(rel)] = true
		}
		if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, slices.Sorted(maps.Keys(want))) {
			t.Fatalf("output objects %v, want one for each good input: %v", keys, slices.Sorted(maps.Keys(want)))
		}
		for k, b := range got {
			m, err := jpeg.Decode(bytes.NewReader(b))
			if err != nil || max(m.Bounds().Dx(), m.Bounds().Dy()) != 48 {
				t.Errorf("%s: not a JPEG of 48 pixels on its longer side: %v", k, err)
			}
		}
	}
	checkObjects(good)
	r := imgpipe(t, "status", "--queue", j.url, "--json")
	var st queue.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 0 {
		t.Fatalf("status --json: %v, %+v", err, r)
	}
	if st.Done != len(good) || st.Failed != 1 || st.Dead != 0 || !st.Finished() || len(st.Failures) != 1 ||
		st.Failures[0].Path != "s3://photos/2024/set1/broken.jpg" || !strings.Contains(st.Failures[0].Reason, "decode") {
		t.Fatalf("status %+v, want every good file done and the corrupt object failed once, by its URL", st)
	}

	// A worker that waits for more, with its metrics.
	cmd := exec.Command(bin, "worker", "--queue", j.url, "--device", "cpu", "--workers", "1", "--batch", "2",
		"--progress", "none", "--metrics", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	br := bufio.NewReader(stderr)
	line, err := br.ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "imgpipe worker: metrics at ")
	if err != nil || !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q, %v", line, err)
	}
	var rest lockedWriter
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&rest, br)
		close(copied)
	}()
	scrapeUntil := func(what string, ok func(map[string]float64) bool) map[string]float64 {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			s, err := scrapeMetrics(t, url)
			if err != nil {
				t.Fatal(err)
			}
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: %v\n%s", what, s, rest.String())
			}
		}
	}
	const lag = "gpupipe_queue_lag_messages"
	scrapeUntil("the lag of an empty queue", func(s map[string]float64) bool { v, ok := s[lag]; return ok && v == 0 })

	more := t.TempDir()
	goodImages(t, more, 4, 22)
	added := uploadTree(t, photos, more, "2024/more/")
	if r := submit(); r.code != 0 || !strings.Contains(r.stdout, "queued 4 files (17 were queued or done before)") {
		t.Fatalf("submitting again: %+v", r)
	}
	s := scrapeUntil("the added files done", func(s map[string]float64) bool {
		return s[`gpupipe_files_total{outcome="done"}`] == 4 && s[lag] == 0
	})
	if s[`gpupipe_files_total{outcome="found"}`] != 4 || s[`gpupipe_files_total{outcome="failed"}`] != 0 ||
		s[`gpupipe_stage_items_in_total{stage="write"}`] != 4 {
		t.Errorf("metrics of the worker's run: %v", s)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-copied
	if err := cmd.Wait(); cmd.ProcessState.ExitCode() != exitInterrupted {
		t.Fatalf("worker after SIGTERM: %v, want exit %d\n%s", err, exitInterrupted, rest.String())
	}
	for _, rel := range added {
		good = append(good, "more/"+rel)
	}
	checkObjects(good)
	if st := j.status(t); st.Done != len(good) || st.Failed != 1 || !st.Finished() {
		t.Errorf("final status %+v", st)
	}

}
