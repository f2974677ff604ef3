//go:build cuda

package cuda

import (
	"os"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/gputest"
)

// The CPU device's conformance suite, run against the GPU.

func TestConformance(t *testing.T) {
	gputest.Run(t, openTest(t))
}

func TestConformanceWriteCombinedSpin(t *testing.T) {
	gputest.Run(t, openTest(t, WithWriteCombinedUploads(true), WithSchedule(ScheduleSpin)))
}

func TestConformanceClose(t *testing.T) {
	must(t, registerOnce())
	d, err := Open(testOrdinal())
	must(t, err)
	gputest.RunClose(t, d)
}

// TestConformanceFaults makes a kernel trap, which breaks the GPU's context for the rest of
// the process: it runs only when GPUPIPE_CUDA_FAULTS=1, in a process of its own.
func TestConformanceFaults(t *testing.T) {
	if os.Getenv("GPUPIPE_CUDA_FAULTS") != "1" {
		t.Skip("breaks the CUDA context; run alone with GPUPIPE_CUDA_FAULTS=1 -test.run TestConformanceFaults")
	}
	must(t, registerOnce())
	d, err := Open(testOrdinal())
	must(t, err)
	gputest.RunFaults(t, d)
	_ = d.Close() // the context is broken: Close reports the fault again
}
