package metrics_test

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/pipeline/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// gather reads every series of reg into a map keyed by metric name, stage and the other
// label's value ("" when none).
func gather(t *testing.T, reg *prometheus.Registry) map[[3]string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[[3]string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := [3]string{mf.GetName()}
			for _, l := range m.GetLabel() {
				if l.GetName() == "stage" {
					key[1] = l.GetValue()
				} else {
					key[2] = l.GetValue()
				}
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			out[key] = v
		}
	}
	return out
}

// TestCollectorExportsStageStats runs a pipeline whose map fails on half its items and
// checks that the exported figures are the pipeline's statistics, stage by stage, and that
// the metrics pass the Prometheus linter.
func TestCollectorExportsStageStats(t *testing.T) {
	c := metrics.NewCollector("test")
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Fatalf("before Watch: %d metrics, %v", n, err)
	}
	p := pipeline.New()
	xs := make([]int, 100)
	for i := range xs {
		xs[i] = i
	}
	c.Watch(p.Stats)
	doubled := pipeline.Map(pipeline.FromSlice(p, xs, pipeline.Name("source")), func(_ context.Context, x int) (int, error) {
		if x%2 == 1 {
			return 0, errors.New("odd")
		}
		return 2 * x, nil
	}, pipeline.Name("double"), pipeline.Workers(3), pipeline.SkipErrors(func(*pipeline.StageError) {}))
	pipeline.Discard(doubled, pipeline.Name("sink"))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := gather(t, reg)
	stats := p.Stats()
	for _, s := range stats {
		for _, c := range []struct {
			name, label string
			want        float64
		}{
			{"test_stage_items_in_total", "", float64(s.In)},
			{"test_stage_items_out_total", "", float64(s.Out)},
			{"test_stage_errors_total", "", float64(s.Errors)},
			{"test_stage_busy_seconds_total", "", s.Busy.Seconds()},
			{"test_stage_wait_seconds_total", "input", s.WaitIn.Seconds()},
			{"test_stage_wait_seconds_total", "output", s.WaitOut.Seconds()},
			{"test_stage_workers", "", float64(s.Workers)},
			{"test_stage_queue_capacity", "", float64(s.QueueCap)},
		} {
			if v, ok := got[[3]string{c.name, s.Name, c.label}]; !ok || v != c.want {
				t.Errorf("%s{stage=%q} %s = %v (exported %v), want %v", c.name, s.Name, c.label, v, ok, c.want)
			}
		}
	}
	if d := got[[3]string{"test_stage_errors_total", "double", ""}]; d != 50 {
		t.Errorf("the map's errors: %v, want 50", d)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
