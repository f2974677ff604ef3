package cpu_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/gputest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newDevice(t *testing.T, opts ...cpu.Option) *cpu.Device {
	t.Helper()
	d, err := cpu.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// The conformance suite, on the device as it comes and on devices that shake the order of
// operations (random delays, one copy engine).
func TestConformance(t *testing.T) {
	configs := map[string][]cpu.Option{
		"default":       nil,
		"random delays": {cpu.RandomDelays(1, 300*time.Microsecond)},
		"one copy engine with delays": {
			cpu.CopyEngines(1), cpu.RandomDelays(2, 200*time.Microsecond),
		},
	}
	for name, opts := range configs {
		t.Run(name, func(t *testing.T) {
			dev := newDevice(t, opts...)
			gputest.Run(t, dev)
			if live := dev.Live(); live != (cpu.Live{}) {
				t.Errorf("after the suite the device still holds %+v", live)
			}
		})
	}
}

func TestConformanceFaults(t *testing.T) {
	gputest.RunFaults(t, newDevice(t, cpu.RandomDelays(3, 200*time.Microsecond)))
}

func TestConformanceClose(t *testing.T) {
	dev, err := cpu.New()
	if err != nil {
		t.Fatal(err)
	}
	gputest.RunClose(t, dev)
	if live := dev.Live(); live != (cpu.Live{}) {
		t.Errorf("after Close the device still holds %+v", live)
	}
}

var _ gpu.Device = (*cpu.Device)(nil)
