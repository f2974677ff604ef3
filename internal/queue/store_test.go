package queue

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	gcblob "gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob" // the driver, which programs import themselves

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/internal/job"
	"github.com/gpupipe/gpupipe/internal/metrics"
	"github.com/gpupipe/gpupipe/internal/natstest"
	"github.com/gpupipe/gpupipe/internal/s3test"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// A job between two prefixes of an S3 bucket (a server in the process): its messages carry
// the store's URL with the query that reaches it, and the worker reads each file from the
// store and writes its output object there. Every input left has one valid output object;
// the corrupt object and the one deleted after it was queued are each recorded failed
// once, with their reasons; the worker's metrics show the run's files and the queue's lag.
func TestWorkBetweenStores(t *testing.T) {
	ctx := context.Background()
	query := s3test.Start(t, "photos")
	bucket, err := gcblob.OpenBucket(ctx, "s3://photos?"+query)
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	f := newFixture(t, 6)
	for _, name := range append(slices.Clone(f.good), "corrupt.png") {
		b, err := os.ReadFile(filepath.Join(f.in, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := bucket.WriteAll(ctx, "in/"+name, b, nil); err != nil {
			t.Fatal(err)
		}
	}
	cfg := f.cfg
	cfg.Inputs, cfg.Output = []string{"s3://photos/in?" + query}, "s3://photos/out?"+query
	url := natstest.Start(t) + "/photos"
	var planned []string
	s, err := Submit(ctx, url, Job{Args: []string{"--size", "8", "--format", "png"}, Inputs: cfg.Inputs, Output: cfg.Output,
		AckWait: 2 * time.Second, MaxDeliver: 3},
		func(yield func(walk.File) error) error {
			_, err := job.Plan(ctx, cfg, func(f walk.File) error {
				planned = append(planned, rootOf(f))
				return yield(f)
			})
			return err
		})
	if err != nil || s.Queued != 7 {
		t.Fatalf("submitted %+v, %v; want 7 queued", s, err)
	}
	for _, root := range planned {
		if root != "s3://photos/in?"+query {
			t.Fatalf("a message's root is %q, want the input's URL with its query", root)
		}
	}
	gone := f.good[0]
	if err := bucket.Delete(ctx, "in/"+gone); err != nil {
		t.Fatal(err)
	}

	dev, err := cpu.New()
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	q, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	cfg.Devices = []gpu.Device{dev}
	var log lockedBuffer
	cfg.Log = &log
	m := metrics.New()
	counts, err := q.Work(ctx, cfg, WorkOptions{ExitWhenEmpty: true, Metrics: m, LagInterval: 5 * time.Millisecond, Log: &log})
	if err != nil || counts.Done != 5 || counts.Failed != 1 {
		t.Fatalf("Work: %+v, %v; want 5 done and the corrupt file failed\n%s", counts, err, log.String())
	}

	st := f.status(t, url)
	if st.Done != 5 || st.Failed != 2 || st.Dead != 0 || !st.Finished() || len(st.Failures) != 2 {
		t.Fatalf("status %+v, want 5 done, 2 failed", st)
	}
	for _, fl := range st.Failures {
		switch fl.Path {
		case "s3://photos/in/corrupt.png":
			if !strings.Contains(fl.Reason, "decode") {
				t.Errorf("corrupt object: reason %q", fl.Reason)
			}
		case "s3://photos/in/" + gone:
			if !strings.Contains(fl.Reason, "stat") || !strings.Contains(fl.Reason, "not exist") {
				t.Errorf("deleted object: reason %q", fl.Reason)
			}
		default:
			t.Errorf("failure %+v: want the corrupt and the deleted objects, named by URL without the query", fl)
		}
	}
	if n := strings.Count(log.String(), "s3://photos/in/"+gone); n != 1 {
		t.Errorf("the log names the deleted object %d times, want once:\n%s", n, log.String())
	}

	var outs []string
	it := bucket.List(&gcblob.ListOptions{Prefix: "out/"})
	for {
		obj, err := it.Next(ctx)
		if err != nil {
			break
		}
		outs = append(outs, strings.TrimPrefix(obj.Key, "out/"))
		b, err := bucket.ReadAll(ctx, obj.Key)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := png.Decode(bytes.NewReader(b)); err != nil || m.Bounds().Dx() > 8 || m.Bounds().Dy() > 8 {
			t.Errorf("%s: not an 8×8 PNG: %v", obj.Key, err)
		}
	}
	if want := slices.Sorted(slices.Values(f.good[1:])); !slices.Equal(outs, want) {
		t.Errorf("output objects %v, want %v", outs, want)
	}

	// The run's figures, as a scrape reads them; the lag was read while it went on.
	files := map[string]float64{}
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	lagSeen := false
	for _, mf := range mfs {
		switch mf.GetName() {
		case "gpupipe_files_total":
			for _, s := range mf.GetMetric() {
				files[s.GetLabel()[0].GetValue()] = s.GetCounter().GetValue()
			}
		case "gpupipe_queue_lag_messages":
			lagSeen = true
		}
	}
	if files["found"] != 6 || files["done"] != 5 || files["failed"] != 1 || !lagSeen {
		t.Errorf("files by outcome %v, lag exported %v; want 6 found, 5 done, 1 failed, and the lag", files, lagSeen)
	}
}

// The lag is the job's messages not yet done: waiting, or delivered without an outcome.
func TestWatchLag(t *testing.T) {
	ctx := context.Background()
	url := natstest.Start(t) + "/photos"
	f := newFixture(t, 3)
	f.submit(t, url, 3)
	q, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	gauge := metrics.New().QueueLag()
	stop := q.watchLag(ctx, gauge, 2*time.Millisecond)
	defer stop()
	waitGauge := func(want float64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(gauge) != want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("lag %v, want %v", testutil.ToFloat64(gauge), want)
			}
		}
	}
	waitGauge(4)
	batch, err := q.cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var held []jetstream.Msg
	for msg := range batch.Messages() {
		held = append(held, msg)
	}
	if len(held) != 1 {
		t.Fatalf("fetched %d messages, want 1", len(held))
	}
	time.Sleep(20 * time.Millisecond)
	waitGauge(4) // in flight is not done
	if err := held[0].DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	waitGauge(3)
}
