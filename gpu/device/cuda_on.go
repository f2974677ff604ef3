//go:build cuda

package device

import (
	"fmt"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cuda"
)

const cudaBuilt = true

func cudaCount() (int, error) { return cuda.Count() }

func openCUDA(ordinal int, c config) (gpu.Device, error) {
	opts := []cuda.Option{cuda.WithWriteCombinedUploads(c.writeCombined)}
	if c.schedule != "" {
		s, err := schedule(c.schedule)
		if err != nil {
			return nil, err
		}
		opts = append(opts, cuda.WithSchedule(s))
	}
	d, err := cuda.Open(ordinal, opts...)
	if err != nil {
		return nil, err
	}
	return d, nil
}

func schedule(name string) (cuda.Schedule, error) {
	switch name {
	case "blocking":
		return cuda.ScheduleBlocking, nil
	case "spin":
		return cuda.ScheduleSpin, nil
	case "yield":
		return cuda.ScheduleYield, nil
	case "auto":
		return cuda.ScheduleAuto, nil
	}
	return 0, fmt.Errorf("device: unknown GPU schedule %q: want blocking, spin, yield or auto", name)
}
