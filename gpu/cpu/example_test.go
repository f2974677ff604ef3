package cpu_test

import (
	"fmt"
	"time"

	"github.com/gpupipe/gpupipe/gpu/cpu"
)

// A device for tests of overlap: copies at 1 GB/s on two copy engines, kernels of 2 ms,
// every operation starting up to 100 µs late, and the 5th launch failing.
func ExampleNew() {
	dev, err := cpu.New(
		cpu.CopyEngines(2),
		cpu.WithTiming(cpu.Timing{H2DBytesPerSec: 1e9, D2HBytesPerSec: 1e9, KernelTime: 2 * time.Millisecond}),
		cpu.RandomDelays(1, 100*time.Microsecond),
		cpu.FailLaunch(5),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dev.Close()
	fmt.Println(dev.Kind())
	for _, e := range dev.EngineStats() {
		fmt.Println(e.Name)
	}
	// Output:
	// cpu
	// h2d
	// d2h
	// compute
}
