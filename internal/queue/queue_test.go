package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/internal/job"
	"github.com/gpupipe/gpupipe/internal/natstest"
	"github.com/gpupipe/gpupipe/stages/walk"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The S3 client's HTTP transport keeps idle connections to the test's S3 server
		// for reuse; they end when the server closes them.
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"))
}

// fixture is a job's input folder of n small PNGs and one corrupt file, its output folder
// and its configuration.
type fixture struct {
	in, out string
	good    []string
	cfg     job.Config
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	f := &fixture{in: t.TempDir(), out: filepath.Join(t.TempDir(), "out")}
	for i := range n {
		m := image.NewNRGBA(image.Rect(0, 0, 10+i, 8+i%3))
		for k := range m.Pix {
			m.Pix[k] = byte(k*7 + i)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("d%d/img%02d.png", i%2, i)
		if err := os.MkdirAll(filepath.Join(f.in, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(f.in, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		f.good = append(f.good, name)
	}
	if err := os.WriteFile(filepath.Join(f.in, "corrupt.png"), []byte("\x89PNG\r\n\x1a\nnot really"), 0o644); err != nil {
		t.Fatal(err)
	}
	chain, err := kernels.ParseChain("fit=8x8")
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = job.Config{Inputs: []string{f.in}, Output: f.out, Chain: chain, Format: "png", Batch: 2,
		DecodeWorkers: 2, EncodeWorkers: 2}
	return f
}

// submit records the fixture's job on a queue and publishes its files.
func (f *fixture) submit(t *testing.T, url string, maxDeliver int) Submitted {
	t.Helper()
	ctx := context.Background()
	s, err := Submit(ctx, url, Job{Args: []string{"--size", "8", "--format", "png"}, Inputs: f.cfg.Inputs,
		Output: f.out, AckWait: 2 * time.Second, MaxDeliver: maxDeliver},
		func(yield func(walk.File) error) error {
			_, err := job.Plan(ctx, f.cfg, yield)
			return err
		})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// work runs one worker on the queue until it is empty, on a CPU device with opts.
func (f *fixture) work(t *testing.T, url string, opts ...cpu.Option) string {
	t.Helper()
	dev, err := cpu.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	q, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	cfg := f.cfg
	cfg.Devices = []gpu.Device{dev}
	var log lockedBuffer
	cfg.Log = &log
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if _, err := q.Work(ctx, cfg, WorkOptions{ExitWhenEmpty: true, Pause: 10 * time.Millisecond,
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Log: &log}); err != nil {
		t.Fatalf("Work: %v\n%s", err, log.String())
	}
	return log.String()
}

func (f *fixture) status(t *testing.T, url string) Status {
	t.Helper()
	q, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	s, err := q.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkOutputs checks that every good input has one valid PNG output, and nothing else is
// there.
func (f *fixture) checkOutputs(t *testing.T) {
	t.Helper()
	var got []string
	_ = filepath.WalkDir(f.out, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			got = append(got, p)
		}
		return nil
	})
	if len(got) != len(f.good) {
		t.Errorf("%d outputs, want %d: %v", len(got), len(f.good), got)
	}
	for _, name := range f.good {
		b, err := os.ReadFile(filepath.Join(f.out, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if m, err := png.Decode(bytes.NewReader(b)); err != nil || m.Bounds().Dx() > 8 || m.Bounds().Dy() > 8 {
			t.Errorf("%s: not an 8×8 PNG: %v", name, err)
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestSubmitTwiceQueuesOnce(t *testing.T) {
	url := natstest.Start(t) + "/photos"
	f := newFixture(t, 6)
	if s := f.submit(t, url, 3); s.Queued != 7 || s.Before != 0 {
		t.Errorf("first submission: %+v, want 7 queued", s)
	}
	if s := f.submit(t, url, 3); s.Queued != 0 || s.Before != 7 {
		t.Errorf("second submission: %+v, want 7 queued before", s)
	}
	if st := f.status(t, url); st.Queued != 7 || st.InFlight != 0 || st.Done != 0 || st.Total() != 7 {
		t.Errorf("status %+v", st)
	}
	// Another job on the same queue is refused.
	f.cfg.Inputs = append(f.cfg.Inputs, t.TempDir())
	_, err := Submit(context.Background(), url, Job{Inputs: f.cfg.Inputs, Output: f.out},
		func(func(walk.File) error) error { return nil })
	if !errors.Is(err, ErrOtherJob) {
		t.Errorf("another job: %v, want ErrOtherJob", err)
	}
	if _, err := Open(context.Background(), natstest.Start(t)+"/none"); !IsNoJob(err) {
		t.Errorf("a queue without a job: %v", err)
	}
}

// A device fault stops the worker's run; its files are retried and then done. The corrupt
// file is recorded failed once, with its reason, and not retried.
func TestWorkerRetriesAfterADeviceFault(t *testing.T) {
	url := natstest.Start(t) + "/photos"
	f := newFixture(t, 8)
	f.submit(t, url, 3)
	log := f.work(t, url, cpu.FailLaunch(1))
	if !strings.Contains(log, "the run stopped") || !strings.Contains(log, "injected fault") {
		t.Errorf("the log does not tell of the fault:\n%s", log)
	}
	st := f.status(t, url)
	if st.Done != 8 || st.Failed != 1 || st.Dead != 0 || !st.Finished() {
		t.Errorf("status %+v, want 8 done and 1 failed", st)
	}
	if len(st.Failures) != 1 || !strings.HasSuffix(st.Failures[0].Path, "corrupt.png") ||
		!strings.Contains(st.Failures[0].Reason, "decode") {
		t.Errorf("failures %+v", st.Failures)
	}
	if n := strings.Count(log, "corrupt.png"); n != 1 {
		t.Errorf("the corrupt file is named %d times, want once:\n%s", n, log)
	}
	f.checkOutputs(t)
}

// A device that always faults exhausts the retries: every file that reaches it is
// dead-lettered after MaxDeliver deliveries, with the fault as its reason.
func TestWorkerDeadLettersExhaustedFiles(t *testing.T) {
	url := natstest.Start(t) + "/photos"
	f := newFixture(t, 4)
	f.submit(t, url, 2)
	f.work(t, url, cpu.FailWhen(func(o cpu.OpInfo) bool { return o.Kind == cpu.OpLaunch }))
	st := f.status(t, url)
	if st.Done != 0 || st.Failed != 1 || st.Dead != 4 || !st.Finished() {
		t.Fatalf("status %+v, want 4 dead-lettered and 1 failed", st)
	}
	for _, fl := range st.Failures {
		if fl.Dead && (fl.Deliveries != 2 || !strings.Contains(fl.Reason, "injected fault")) {
			t.Errorf("dead letter %+v: want 2 deliveries and the fault", fl)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(f.out, "d0")); len(entries) != 0 {
		t.Errorf("outputs of dead-lettered files: %v", entries)
	}
}
