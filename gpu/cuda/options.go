//go:build cuda

package cuda

import (
	"fmt"

	"gorgonia.org/cu"
)

// Info describes a GPU as its driver reports it.
type Info struct {
	Ordinal          int    `json:"ordinal"`
	Name             string `json:"name"`
	ComputeMajor     int    `json:"compute_major"` // compute capability, such as 9.0 for an H100
	ComputeMinor     int    `json:"compute_minor"`
	Multiprocessors  int    `json:"multiprocessors"`
	CopyEngines      int    `json:"copy_engines"` // asynchronous copy engines: 2 or more copy both ways at once
	MemoryBusBits    int    `json:"memory_bus_bits"`
	MemoryClockKHz   int    `json:"memory_clock_khz"`
	PCIBus           int    `json:"pci_bus"`
	TotalMemory      int64  `json:"total_memory"`
	DriverVersion    int    `json:"driver_version"` // such as 13000 for CUDA 13.0
	UnifiedAddresses bool   `json:"unified_addresses"`
}

// String is a one-line summary, such as "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79 GiB)".
func (i Info) String() string {
	return fmt.Sprintf("%s (sm_%d%d, %d SMs, %d GiB, driver %d.%d)", i.Name, i.ComputeMajor,
		i.ComputeMinor, i.Multiprocessors, i.TotalMemory>>30, i.DriverVersion/1000, i.DriverVersion%1000/10)
}

// Schedule is how a host thread waits for the GPU in Synchronize calls.
type Schedule int

// Schedules, as the CUDA context flags CU_CTX_SCHED_*.
const (
	// ScheduleBlocking sleeps on an operating-system primitive until the GPU is done. It
	// costs some microseconds of wake-up latency and leaves the CPU cores to the decode and
	// encode workers, which is what an image pipeline is usually short of.
	ScheduleBlocking Schedule = iota
	// ScheduleSpin polls: the lowest latency, and a busy core per waiting goroutine.
	ScheduleSpin
	// ScheduleYield polls and yields the thread between polls.
	ScheduleYield
	// ScheduleAuto lets the driver choose (spin when there are fewer contexts than cores).
	ScheduleAuto
)

func (s Schedule) flags() cu.ContextFlags {
	switch s {
	case ScheduleSpin:
		return cu.SchedSpin
	case ScheduleYield:
		return cu.SchedYield
	case ScheduleAuto:
		return cu.SchedAuto
	}
	return cu.SchedBlockingSync
}

type config struct {
	schedule      Schedule
	writeCombined bool // upload buffers are write-combined
}

func defaultConfig() config { return config{schedule: ScheduleBlocking} }

// Option configures Open.
type Option func(*config)

// WithSchedule sets how threads wait for the GPU. The default is ScheduleBlocking. The
// setting belongs to the GPU's primary context, which every user of the GPU in the process
// shares.
func WithSchedule(s Schedule) Option { return func(c *config) { c.schedule = s } }

// WithWriteCombinedUploads makes AllocUploadHost return write-combined pinned memory, which
// the host writes without polluting its caches and which may cross the bus faster; reading
// it from the host is very slow. Off by default; the bandwidth benchmark of this package
// measures whether it helps on a given machine.
func WithWriteCombinedUploads(on bool) Option { return func(c *config) { c.writeCombined = on } }
