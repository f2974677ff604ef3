//go:build cuda

package device

import (
	"fmt"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/cuda"
)

// TestStageOnGPUs spreads batches over every GPU, and over two devices opened on the first
// GPU as well, so that the spreading is exercised on a machine with a single GPU.
func TestStageOnGPUs(t *testing.T) {
	devs, err := OpenAll("cuda:all")
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) == 1 {
		second, err := cuda.Open(0)
		if err != nil {
			CloseAll(devs)
			t.Fatal(err)
		}
		devs = append(devs, second)
	}
	t.Cleanup(func() {
		if err := CloseAll(devs); err != nil {
			t.Error(err)
		}
	})
	batches := randomBatches(11, 200, 5000)
	out, st, err := run(t, devs, batches, newSaxpy(nil), 3)
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, batches, out, nil)
	var total float64
	for i := range devs {
		total += st.Extra[fmt.Sprintf("dev%d.batches", i)]
	}
	if total != float64(len(batches)) {
		t.Errorf("the engines ran %v batches, want %d", total, len(batches))
	}
}
