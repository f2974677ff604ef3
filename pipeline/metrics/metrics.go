// Package metrics exports a pipeline's per-stage statistics (pipeline.StageStats) to
// Prometheus through github.com/prometheus/client_golang. A Collector reads the statistics
// when it is scraped, from the same counters the progress display and the run report read,
// so it costs nothing between scrapes and its figures agree with theirs.
//
// Metrics, each with the label stage (the stage's name):
//
//	NS_stage_items_in_total        counter  items taken from the stage's input queue
//	NS_stage_items_out_total       counter  items handed downstream (for sinks: consumed)
//	NS_stage_errors_total          counter  items whose function failed
//	NS_stage_retries_total         counter  calls made again under pipeline.Retry
//	NS_stage_units_total           counter  with label outcome (done, error): the units of
//	                                        work of a stage with pipeline.CountUnits
//	NS_stage_busy_seconds_total    counter  time inside the stage's function, summed over workers
//	NS_stage_wait_seconds_total    counter  with label cause (input, output, order): idle time
//	NS_stage_workers               gauge    the stage's workers
//	NS_stage_queue_items           gauge    items waiting in the stage's input queue now
//	NS_stage_queue_capacity        gauge    the capacity of that queue (0: none)
//
// A stage's utilization over an interval is rate(busy) / workers; its queue fill is
// queue_items / queue_capacity; the stage with the highest utilization is the bottleneck.
package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gpupipe/gpupipe/pipeline"
)

// Collector is a prometheus.Collector of one pipeline's stage statistics at a time. Its zero
// value is not usable: make one with NewCollector. It is safe for concurrent use.
type Collector struct {
	mu    sync.Mutex
	stats func() []pipeline.StageStats

	in, out, errs, retries, units, busy, wait *prometheus.Desc
	workers, queue, queueCap                  *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector makes a collector whose metrics are named namespace_stage_... ("gpupipe").
// It exports nothing until Watch gives it a pipeline.
func NewCollector(namespace string) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "stage", name), help, append([]string{"stage"}, labels...), nil)
	}
	return &Collector{
		in:       d("items_in_total", "Items taken from the stage's input queue."),
		out:      d("items_out_total", "Items handed downstream; for sinks, items consumed without error."),
		errs:     d("errors_total", "Items whose function failed (skipped, or the one that stopped the run)."),
		retries:  d("retries_total", "Calls of the stage's function made again under a retry policy."),
		units:    d("units_total", "Units of work (the images of a batch) of the items the stage handled, by outcome.", "outcome"),
		busy:     d("busy_seconds_total", "Time inside the stage's function, summed over its workers."),
		wait:     d("wait_seconds_total", "Time the stage's workers stood idle, by cause: input (starved), output (blocked downstream), order (behind the oldest item of an ordered stage).", "cause"),
		workers:  d("workers", "The stage's workers."),
		queue:    d("queue_items", "Items waiting in the stage's input queue."),
		queueCap: d("queue_capacity", "Capacity of the stage's input queue (0: no queue)."),
	}
}

// Watch makes the collector export stats, such as a pipeline's Stats method, from now on.
// A process that runs one pipeline after another (a worker) watches each in turn; the
// counters then start again from zero, which Prometheus reads as a reset.
func (c *Collector) Watch(stats func() []pipeline.StageStats) {
	c.mu.Lock()
	c.stats = stats
	c.mu.Unlock()
}

// Describe sends the descriptions of every metric the collector may export.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.in, c.out, c.errs, c.retries, c.units, c.busy, c.wait, c.workers, c.queue, c.queueCap} {
		ch <- d
	}
}

// Collect reads the watched pipeline's statistics and sends them.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	stats := c.stats
	c.mu.Unlock()
	if stats == nil {
		return
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	seen := map[string]bool{}
	for _, s := range stats() {
		if seen[s.Name] {
			continue // names are unique in a pipeline built by the package; be safe
		}
		seen[s.Name] = true
		counter(c.in, float64(s.In), s.Name)
		counter(c.out, float64(s.Out), s.Name)
		counter(c.errs, float64(s.Errors), s.Name)
		counter(c.retries, float64(s.Retries), s.Name)
		if s.Units {
			counter(c.units, float64(s.DoneUnits), s.Name, "done")
			counter(c.units, float64(s.ErrorUnits), s.Name, "error")
		}
		counter(c.busy, s.Busy.Seconds(), s.Name)
		counter(c.wait, s.WaitIn.Seconds(), s.Name, "input")
		counter(c.wait, s.WaitOut.Seconds(), s.Name, "output")
		counter(c.wait, s.WaitOrder.Seconds(), s.Name, "order")
		gauge(c.workers, float64(s.Workers), s.Name)
		gauge(c.queue, float64(s.QueueLen), s.Name)
		gauge(c.queueCap, float64(s.QueueCap), s.Name)
	}
}
