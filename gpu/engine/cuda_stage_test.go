//go:build cuda

package engine_test

import (
	"testing"

	"github.com/gpupipe/gpupipe/gpu/cuda"
	"github.com/gpupipe/gpupipe/gpu/device"
)

// TestStageOnGPUs spreads batches over every GPU, and over two devices opened on the first
// GPU as well, so that the spreading is exercised on a machine with a single GPU.
func TestStageOnGPUs(t *testing.T) {
	devs, err := device.OpenAll("cuda:all")
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) == 1 {
		second, err := cuda.Open(0)
		if err != nil {
			device.CloseAll(devs)
			t.Fatal(err)
		}
		devs = append(devs, second)
	}
	t.Cleanup(func() {
		if err := device.CloseAll(devs); err != nil {
			t.Error(err)
		}
	})
	batches := intBatches(11, 200, 5000)
	for _, views := range []bool{false, true} {
		run := spread
		if views {
			run = spreadViewsOpts
		}
		out, st, err := run(t, devs, batches, newSaxpy(t, nil), 3)
		if err != nil {
			t.Fatal(err)
		}
		checkSpread(t, batches, out, nil)
		if got := batchesRun(st, len(devs)); got != float64(len(batches)) {
			t.Errorf("views=%v: the engines ran %v batches, want %d", views, got, len(batches))
		}
	}
}
