// Command queue measures imgpipe's JetStream work queue on this machine, against an
// embedded server, and prints one JSON object per measurement:
//
//   - "queue": messages per second through the queue alone (jsqueue.Source into a pipeline
//     that acknowledges each message, a done record written for each, as a worker does):
//     the queue's own cost per file;
//   - "tiny-local" and "tiny-queue": imgpipe on tiny images with a trivial operation (a local
//     run, then one worker process on a queue of the same files): the difference of their
//     times per image is the queue's overhead per image in a real run, including a worker's
//     start and its wait for the queue to be empty (up to half a second);
//   - "photos-local", "photos-1-workers", "photos-2-workers": imgpipe making 256 px
//     thumbnails of sample photos locally, then with one and with two worker processes on
//     one queue, with the ratios to the local run.
//
// bench/queue.sh builds imgpipe and runs it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gpupipe/gpupipe/internal/samples"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/pipeline/jsqueue"
)

func main() {
	bin := flag.String("imgpipe", "build/imgpipe", "the imgpipe binary")
	work := flag.String("work", "build/bench-queue", "working folder")
	messages := flag.Int("messages", 5000, "messages for the queue-alone measurement")
	tiny := flag.Int("tiny", 1000, "tiny images")
	photos := flag.Int("photos", 120, "sample photos")
	workers := flag.Int("workers", 1, "--workers of each imgpipe process")
	flag.Parse()
	if err := run(*bin, *work, *messages, *tiny, *photos, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "bench/queue:", err)
		os.Exit(1)
	}
}

func run(bin, work string, messages, tiny, photos, workers int) error {
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: filepath.Join(work, "jetstream"), NoLog: true, NoSigs: true})
	if err != nil {
		return err
	}
	go srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(10 * time.Second) {
		return fmt.Errorf("the embedded server did not start")
	}
	url := srv.ClientURL()

	rate, err := queueAlone(url, messages)
	if err != nil {
		return err
	}
	emit(map[string]any{"measure": "queue", "messages": messages, "messages_per_s": rate,
		"us_per_message": 1e6 / rate})

	tinyDir := filepath.Join(work, "tiny")
	if _, err := samples.Write(tinyDir, samples.Options{Count: tiny, Width: 16, Height: 12, Formats: []string{"png"}}); err != nil {
		return err
	}
	photoDir := filepath.Join(work, "photos")
	if _, err := samples.Write(photoDir, samples.Options{Count: photos, Width: 1600, Height: 1200}); err != nil {
		return err
	}
	w := fmt.Sprint(workers)
	common := []string{"--device", "cpu", "--workers", w, "--progress", "none", "--quiet"}
	sets := []struct {
		name, in string
		n        int
		flags    []string
	}{
		{"tiny", tinyDir, tiny, []string{"--ops", "fliph", "--format", "png"}},
		{"photos", photoDir, photos, []string{"--size", "256"}},
	}
	for _, set := range sets {
		local, err := timed(func() error {
			return command(bin, append(append([]string{"--in", set.in, "--out", filepath.Join(work, set.name+"-local")}, set.flags...), common...)...)
		})
		if err != nil {
			return err
		}
		emit(map[string]any{"measure": set.name + "-local", "images": set.n, "seconds": local, "images_per_s": float64(set.n) / local})
		procs := []int{1}
		if set.name == "photos" {
			procs = []int{1, 2}
		}
		for _, p := range procs {
			q := fmt.Sprintf("%s/%s%d", url, set.name, p)
			out := filepath.Join(work, fmt.Sprintf("%s-queue%d", set.name, p))
			if err := command(bin, append([]string{"submit", "--queue", q, "--in", set.in, "--out", out}, set.flags...)...); err != nil {
				return err
			}
			secs, err := timed(func() error {
				var wg sync.WaitGroup
				errs := make([]error, p)
				for k := range p {
					wg.Go(func() {
						errs[k] = command(bin, append([]string{"worker", "--queue", q, "--exit-when-empty"}, common...)...)
					})
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			name := fmt.Sprintf("%s-%d-workers", set.name, p)
			if set.name == "tiny" {
				name = "tiny-queue"
			}
			m := map[string]any{"measure": name, "images": set.n, "processes": p, "seconds": secs,
				"images_per_s": float64(set.n) / secs, "vs_local": local / secs}
			if set.name == "tiny" {
				m["queue_overhead_ms_per_image"] = 1e3 * (secs - local) / float64(set.n)
			}
			emit(m)
		}
	}
	return nil
}

// queueAlone publishes n messages and drains them through a pipeline that acknowledges each
// (a done record first, as a worker does), and returns messages per second of the drain.
func queueAlone(url string, n int) (float64, error) {
	ctx := context.Background()
	nc, err := nats.Connect(url)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "alone", Subjects: []string{"alone.>"}, Retention: jetstream.WorkQueuePolicy})
	if err != nil {
		return 0, err
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "w", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second})
	if err != nil {
		return 0, err
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "alone"})
	if err != nil {
		return 0, err
	}
	for i := range n {
		if _, err := js.PublishAsync("alone.files", fmt.Appendf(nil, `{"rel":"f%06d.png"}`, i)); err != nil {
			return 0, err
		}
	}
	<-js.PublishAsyncComplete()
	src, err := jsqueue.New(ctx, cons, jsqueue.Options{UntilEmpty: true, Poll: 100 * time.Millisecond,
		Done: func(ctx context.Context, m jetstream.Msg) error {
			md, _ := m.Metadata()
			_, err := kv.Put(ctx, fmt.Sprintf("done.%d", md.Sequence.Stream), m.Data())
			return err
		}})
	if err != nil {
		return 0, err
	}
	defer src.Close()
	p := pipeline.New()
	pipeline.AckEach(pipeline.FromQueue(p, src), func(context.Context, jetstream.Msg) error { return nil }, pipeline.Workers(8))
	secs, err := timed(func() error { return p.Run(ctx) })
	return float64(n) / secs, err
}

func timed(fn func() error) (float64, error) {
	start := time.Now()
	err := fn()
	return time.Since(start).Seconds(), err
}

func command(bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if out, err := cmd.Output(); err != nil {
		return fmt.Errorf("imgpipe %v: %w\n%s", args, err, out)
	}
	return nil
}

func emit(m map[string]any) {
	b, _ := json.Marshal(m)
	fmt.Println(string(b))
}
