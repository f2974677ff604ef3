// Package metrics is imgpipe's Prometheus metrics: the per-stage statistics of the run's
// pipeline (package pipeline/metrics), the device's figures (bytes copied and the time of
// each phase, from the engine's statistics), the files by outcome (from the run's report
// recorder), a queue-lag gauge that a queue worker sets, and Go's and the process's own
// metrics; and Serve, the HTTP server that exposes them. A local run and a worker share it:
// make a Metrics, Serve its Registry, and give it to each run (job.Config.Metrics).
//
// Every figure is read when Prometheus scrapes, from the counters the progress display and
// the report read: nothing is counted twice, and the values at the end of a run are the
// report's.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gpupipe/gpupipe/pipeline"
	pmetrics "github.com/gpupipe/gpupipe/pipeline/metrics"
	"github.com/gpupipe/gpupipe/pipeline/report"
)

// Namespace prefixes every metric of the project: gpupipe_stage_items_in_total, ...
const Namespace = "gpupipe"

// Metrics is the set of a process's metrics. Its methods are safe for concurrent use.
type Metrics struct {
	// Registry holds every metric; Serve exposes it.
	Registry *prometheus.Registry

	stages *pmetrics.Collector
	run    *runCollector

	lagOnce sync.Once
	lag     prometheus.Gauge
}

// New makes the metrics of a process, registered in a registry of their own with the Go
// runtime's and the process's collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		stages:   pmetrics.NewCollector(Namespace),
		run:      newRunCollector(),
	}
	m.Registry.MustRegister(m.stages, m.run,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Run is what a run gives its metrics to read.
type Run struct {
	// Stats is the run's pipeline's statistics (pipeline.Pipeline.Stats).
	Stats func() []pipeline.StageStats
	// Counts is the files by outcome so far (report.Recorder.Counts).
	Counts func() report.Counts
	// Devices names the run's devices, in the order of the GPU stage's dev0, dev1, ...
	Devices []string
}

// Watch makes the metrics export run from now on, until the next Watch: a worker that runs
// one job after another watches each. Counters start again from zero with each run, which
// Prometheus reads as a reset.
func (m *Metrics) Watch(r Run) {
	m.stages.Watch(r.Stats)
	m.run.watch(r)
}

// QueueLag is the gauge gpupipe_queue_lag_messages: the messages of a work queue not yet
// done, waiting for a worker or in flight on one. A queue worker sets it; it is registered
// on first use, so a local run, which has no queue, does not export it.
func (m *Metrics) QueueLag() prometheus.Gauge {
	m.lagOnce.Do(func() {
		m.lag = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "queue_lag_messages",
			Help: "Messages in the work queue not yet done: waiting for a worker or in flight on one."})
		m.Registry.MustRegister(m.lag)
	})
	return m.lag
}

// runCollector exports the files by outcome and the device figures of the watched run.
type runCollector struct {
	mu  sync.Mutex
	run Run

	files, devBytes, devSeconds, devBatches, devWait, devInfo *prometheus.Desc
}

func newRunCollector() *runCollector {
	return &runCollector{
		files: prometheus.NewDesc(Namespace+"_files_total",
			"Input files by outcome: found, done (output committed), skipped_existing (output already there), failed.", []string{"outcome"}, nil),
		devBytes: prometheus.NewDesc(Namespace+"_device_bytes_total",
			"Bytes copied between the host and a device, by direction (h2d, d2h).", []string{"device", "direction"}, nil),
		devSeconds: prometheus.NewDesc(Namespace+"_device_seconds_total",
			"Stream time of each phase of the device's batches (h2d, kernel, d2h), summed over batches.", []string{"device", "phase"}, nil),
		devBatches: prometheus.NewDesc(Namespace+"_device_batches_total",
			"Batches the device completed.", []string{"device"}, nil),
		devWait: prometheus.NewDesc(Namespace+"_device_slot_wait_seconds_total",
			"Time batches waited for a free slot of the device: high when the device is the bottleneck.", []string{"device"}, nil),
		devInfo: prometheus.NewDesc(Namespace+"_device_info",
			"The run's devices: 1 for each, with its name.", []string{"device", "name"}, nil),
	}
}

func (c *runCollector) watch(r Run) {
	c.mu.Lock()
	c.run = r
	c.mu.Unlock()
}

func (c *runCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.files, c.devBytes, c.devSeconds, c.devBatches, c.devWait, c.devInfo} {
		ch <- d
	}
}

func (c *runCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	r := c.run
	c.mu.Unlock()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	if r.Counts != nil {
		n := r.Counts()
		counter(c.files, float64(n.Found), "found")
		counter(c.files, float64(n.Done), "done")
		counter(c.files, float64(n.SkippedExisting), "skipped_existing")
		counter(c.files, float64(n.Failed), "failed")
	}
	for i, name := range r.Devices {
		ch <- prometheus.MustNewConstMetric(c.devInfo, prometheus.GaugeValue, 1, strconv.Itoa(i), name)
	}
	if r.Stats == nil {
		return
	}
	for _, s := range r.Stats() {
		for dev, f := range DeviceFigures(s.Extra) {
			d := strconv.Itoa(dev)
			counter(c.devBytes, f.BytesIn, d, "h2d")
			counter(c.devBytes, f.BytesOut, d, "d2h")
			counter(c.devSeconds, f.H2DSeconds, d, "h2d")
			counter(c.devSeconds, f.KernelSeconds, d, "kernel")
			counter(c.devSeconds, f.D2HSeconds, d, "d2h")
			counter(c.devBatches, f.Batches, d)
			counter(c.devWait, f.WaitSlotSeconds, d)
		}
	}
}

// Figures are one device's totals, as a GPU stage reports them in its statistics.
type Figures struct {
	Batches, BytesIn, BytesOut                             float64
	H2DSeconds, KernelSeconds, D2HSeconds, WaitSlotSeconds float64
}

// DeviceFigures reads the figures of each device from a stage's extra statistics, as the
// engine's stages give them ("devices", then "bytes_in", ... for one device or "dev0.bytes_in",
// ... for several); nil for a stage that is not a device stage.
func DeviceFigures(extra map[string]float64) map[int]Figures {
	n, ok := extra["devices"]
	if !ok || n < 1 {
		return nil
	}
	out := make(map[int]Figures, int(n))
	for i := range int(n) {
		prefix := ""
		if n > 1 {
			prefix = "dev" + strconv.Itoa(i) + "."
		}
		get := func(key string) float64 { return extra[prefix+key] }
		out[i] = Figures{
			Batches: get("batches"), BytesIn: get("bytes_in"), BytesOut: get("bytes_out"),
			H2DSeconds: get("h2d_ms") / 1e3, KernelSeconds: get("kernel_ms") / 1e3, D2HSeconds: get("d2h_ms") / 1e3,
			WaitSlotSeconds: get("wait_slot_ms") / 1e3,
		}
	}
	return out
}

// Server serves metrics over HTTP at /metrics.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Serve listens on addr (host:port; port 0 picks a free one, see Addr) and serves g's
// metrics at /metrics in Prometheus's text format, until Close. A listen failure (the port
// is taken) is returned at once.
func Serve(addr string, g prometheus.Gatherer) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "gpupipe metrics: /metrics")
	})
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln, done: make(chan error, 1)}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the address the server listens on, such as "127.0.0.1:9090".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the address of the metrics page.
func (s *Server) URL() string {
	host := s.Addr()
	if h, p, err := net.SplitHostPort(host); err == nil && (h == "" || h == "::" || h == "0.0.0.0") {
		host = net.JoinHostPort("localhost", p)
	}
	return "http://" + strings.TrimSuffix(host, "/") + "/metrics"
}

// Close stops the server: a scrape in progress gets up to a second to finish.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	return err
}
