package metrics

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/pipeline/report"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDeviceFigures reads the engine's figures for one device (plain keys) and for several
// (dev0., dev1. prefixes), and nothing from a stage that is not a device's.
func TestDeviceFigures(t *testing.T) {
	one := DeviceFigures(map[string]float64{"devices": 1, "bytes_in": 10, "bytes_out": 20, "kernel_ms": 1500, "batches": 3})
	if len(one) != 1 || one[0].BytesIn != 10 || one[0].BytesOut != 20 || one[0].KernelSeconds != 1.5 || one[0].Batches != 3 {
		t.Errorf("one device: %+v", one)
	}
	two := DeviceFigures(map[string]float64{"devices": 2, "dev0.bytes_in": 1, "dev1.bytes_in": 2, "dev1.h2d_ms": 250})
	if len(two) != 2 || two[0].BytesIn != 1 || two[1].BytesIn != 2 || two[1].H2DSeconds != 0.25 {
		t.Errorf("two devices: %+v", two)
	}
	if DeviceFigures(map[string]float64{"dropped": 3}) != nil || DeviceFigures(nil) != nil {
		t.Error("figures from a stage without devices")
	}
}

// TestServe serves a run's metrics over HTTP, refuses an address in use, and ends its
// goroutines on Close.
func TestServe(t *testing.T) {
	m := New()
	m.Watch(Run{
		Stats: func() []pipeline.StageStats {
			return []pipeline.StageStats{{Name: "gpu", Workers: 1, In: 4, Extra: map[string]float64{"devices": 1, "bytes_in": 4096}}}
		},
		Counts:  func() report.Counts { return report.Counts{Found: 5, Done: 3, Failed: 1, SkippedExisting: 1} },
		Devices: []string{"cpu (2 cores)"},
	})
	srv, err := Serve("127.0.0.1:0", m.Registry)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Serve(srv.Addr(), m.Registry); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("serving on an address in use: %v", err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`gpupipe_stage_items_in_total{stage="gpu"} 4`,
		`gpupipe_files_total{outcome="done"} 3`,
		`gpupipe_files_total{outcome="skipped_existing"} 1`,
		`gpupipe_device_bytes_total{device="0",direction="h2d"} 4096`,
		`gpupipe_device_info{device="0",name="cpu (2 cores)"} 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if problems, err := testutil.GatherAndLint(m.Registry); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	m.QueueLag().Set(3)
	m.QueueLag().Add(1) // one gauge, registered once
	if v := testutil.ToFloat64(m.QueueLag()); v != 4 {
		t.Errorf("queue lag %v", v)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Get(srv.URL()); err == nil {
		t.Error("the server answers after Close")
	}
}
