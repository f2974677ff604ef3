package job

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// fileQueue hands out files and records what became of each delivery.
type fileQueue struct {
	files   []walk.File
	mu      sync.Mutex
	next    int
	block   chan struct{} // when set, Next waits on it once the files are out, instead of ending
	outcome map[string][]string
}

func (q *fileQueue) Next(ctx context.Context) (walk.File, pipeline.Acker, error) {
	q.mu.Lock()
	if q.next < len(q.files) {
		f := q.files[q.next]
		q.next++
		q.mu.Unlock()
		return f, &fileAcker{q, f.Path()}, nil
	}
	q.mu.Unlock()
	if q.block != nil {
		select {
		case <-q.block:
		case <-ctx.Done():
			return walk.File{}, nil, ctx.Err()
		}
	}
	return walk.File{}, nil, io.EOF
}

type fileAcker struct {
	q    *fileQueue
	path string
}

func (a *fileAcker) set(what string) error {
	a.q.mu.Lock()
	defer a.q.mu.Unlock()
	a.q.outcome[a.path] = append(a.q.outcome[a.path], what)
	return nil
}

func (a *fileAcker) Ack() error        { return a.set("ack") }
func (a *fileAcker) Retry(error) error { return a.set("retry") }
func (a *fileAcker) Term(error) error  { return a.set("term") }
func (a *fileAcker) HandBack() error   { return a.set("handback") }
func (q *fileQueue) count() map[string]int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := map[string]int{}
	for _, f := range q.files[:q.next] {
		got := q.outcome[f.Path()]
		if len(got) != 1 {
			n["not once"]++
			continue
		}
		n[got[0]]++
	}
	return n
}

func queueOf(t *testing.T, in string, names ...string) *fileQueue {
	t.Helper()
	q := &fileQueue{outcome: map[string][]string{}}
	for _, name := range names {
		q.files = append(q.files, walk.File{Root: in, Rel: name})
	}
	return q
}

// Every file a queue-fed run takes is settled once: acknowledged when its output is written
// or already there, terminated when it is corrupt; a cancelled run hands back the rest.
func TestQueueFedRun(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	names := writePNGs(t, in, 12, 5)
	if err := os.WriteFile(filepath.Join(in, "bad.png"), []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Output: out, Chain: mustChain(t, "fit=16x16"), Format: "png", Batch: 3,
		Devices: []gpu.Device{cpuDevice(t)}, DecodeWorkers: 2, EncodeWorkers: 2}

	q := queueOf(t, in, append(slices.Clone(names[:6]), "bad.png")...)
	cfg.Queue = q
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := q.count(); n["ack"] != 6 || n["term"] != 1 || len(n) != 2 || rep.Counts.Done != 6 || rep.Counts.Failed != 1 {
		t.Errorf("outcomes %v, counts %+v: want 6 acknowledged, 1 terminated", n, rep.Counts)
	}

	// Again, with the first six done: found there and acknowledged; the run is then
	// cancelled while it waits for more, and what it holds is handed back.
	q = queueOf(t, in, names...)
	q.block = make(chan struct{})
	cfg.Queue = q
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Log = writerFunc(func(p []byte) {})
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, cfg)
		done <- err
	}()
	for {
		n := q.count()
		if n["ack"] >= 6 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the run ended early: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	if n := q.count(); n["not once"] != 0 || n["ack"]+n["handback"] != len(names) || n["ack"] < 6 {
		t.Errorf("outcomes %v: want every file acknowledged or handed back, once", n)
	}
}

type writerFunc func([]byte)

func (w writerFunc) Write(p []byte) (int, error) { w(p); return len(p), nil }
