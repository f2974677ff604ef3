package job

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/blob"
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
	// Every file the run took (the source may not have taken the last ones before the
	// cancellation) is acknowledged or handed back.
	q.mu.Lock()
	taken := q.next
	q.mu.Unlock()
	if n := q.count(); n["not once"] != 0 || n["ack"]+n["handback"] != taken || n["ack"] < 6 {
		t.Errorf("outcomes %v of %d files taken: want every one acknowledged or handed back, once", n, taken)
	}
}

type writerFunc func([]byte)

func (w writerFunc) Write(p []byte) (int, error) { w(p); return len(p), nil }

// Plan walks a store's input as a run does, its files carrying their store, and checks
// their outputs in the store's output: an output that would replace an input (here, a PNG
// written as PNG over itself) is refused and named; an output already there, of another
// name, is passed on for its worker to find done.
func TestPlanBetweenBuckets(t *testing.T) {
	ctx := context.Background()
	in := t.TempDir()
	names := writePNGs(t, in, 4, 3)
	slices.Sort(names) // the order of a walk
	bucket := memBucketName(t)
	copyToBucket(t, in, bucket, "in/")
	if err := blob.MemBucket(bucket).WriteAll(ctx, "in/notes.txt", []byte("not an image"), nil); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cfg := Config{Inputs: []string{"mem://" + bucket + "/in"}, Output: "mem://" + bucket + "/in", Chain: mustChain(t, "fit=16x16"),
		Format: "png", Log: &log}
	var got []walk.File
	refused, err := Plan(ctx, cfg, func(f walk.File) error {
		got = append(got, f)
		return nil
	})
	if err != nil || refused != len(names) || len(got) != 0 {
		t.Fatalf("outputs over their inputs: refused %d, planned %d, %v; want %d refused", refused, len(got), err, len(names))
	}
	if n := strings.Count(log.String(), ": pending: "); n != len(names) || !strings.Contains(log.String(), "mem://"+bucket+"/in/"+filepath.ToSlash(names[0])) {
		t.Errorf("log names %d refusals, want %d by URL:\n%s", n, len(names), log.String())
	}

	// Into another prefix, where one output is already there.
	cfg.Output = "mem://" + bucket + "/out"
	if err := blob.MemBucket(bucket).WriteAll(ctx, "out/"+filepath.ToSlash(names[1]), []byte("done before"), nil); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	refused, err = Plan(ctx, cfg, func(f walk.File) error {
		got = append(got, f)
		return nil
	})
	if err != nil || refused != 0 || len(got) != len(names) || log.Len() != 0 {
		t.Fatalf("into another prefix: refused %d, planned %d, %v\n%s", refused, len(got), err, log.String())
	}
	for i, f := range got {
		if f.Store == nil || f.Rel != names[i] || f.Path() != "mem://"+bucket+"/in/"+filepath.ToSlash(names[i]) || f.ID.IsZero() {
			t.Errorf("planned %+v, want %s of the store, with its identity", f, names[i])
		}
	}

	// A store that cannot be opened is the plan's error, before any file.
	cfg.Output = "s3://"
	if _, err := Plan(ctx, cfg, func(walk.File) error { t.Error("a file planned"); return nil }); err == nil {
		t.Error("an output URL without a bucket was accepted")
	}
}
