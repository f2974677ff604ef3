// Package device opens a gpu.Device by name, so that a program chooses between the CPU
// device and GPUs with one string, such as the value of a command-line flag.
//
// # Names
//
//	auto      the first GPU when the binary was built with CUDA and the driver sees one,
//	          else the CPU device; with OpenAll, every GPU (or the CPU device)
//	cpu       the CPU device (package gpu/cpu)
//	cuda      the first GPU, the same as cuda:0
//	cuda:N    GPU N, counted from 0 in the driver's order (CUDA_VISIBLE_DEVICES applies)
//	cuda:N,M  GPUs N and M (OpenAll only)
//	cuda:all  every GPU (OpenAll only)
//
// # Builds without CUDA
//
// GPUs are reached only in a binary built with the build tag cuda (go build -tags cuda),
// which needs the CUDA toolkit at build time. In the default build, asking for a GPU returns
// an error wrapping ErrNoCUDA that says how to rebuild, and auto means the CPU device.
//
// A binary built with -tags cuda cannot run where there is no GPU: gorgonia.org/cu, through
// which it calls the driver, initialises the driver in its package init and exits the
// process when that fails, before main runs and before this package could fall back to the
// CPU device. Only a binary that does not link gorgonia.org/cu at all could make that choice
// at run time, so the project ships the two builds instead: the default one runs anywhere,
// the cuda one runs on GPU machines.
package device

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
)

// ErrNoCUDA is wrapped by the error for a GPU name in a binary built without CUDA.
var ErrNoCUDA = errors.New("gpupipe was built without CUDA support; rebuild with: " +
	"go build -tags cuda (needs the CUDA toolkit: cuda.h and libcuda)")

// HasCUDA reports whether this binary was built with CUDA support.
func HasCUDA() bool { return cudaBuilt }

// Spec is a parsed device name.
type Spec struct {
	// Kind is "auto", "cpu" or "cuda".
	Kind string
	// Ordinals are the GPUs named, in order, for Kind "cuda" without All.
	Ordinals []int
	// All is set for cuda:all.
	All bool
}

// String is the name the Spec was parsed from, in its canonical form.
func (s Spec) String() string {
	switch {
	case s.Kind != "cuda":
		return s.Kind
	case s.All:
		return "cuda:all"
	}
	parts := make([]string, len(s.Ordinals))
	for i, n := range s.Ordinals {
		parts[i] = strconv.Itoa(n)
	}
	return "cuda:" + strings.Join(parts, ",")
}

// Single reports whether the Spec names at most one device, as Open requires.
func (s Spec) Single() bool {
	return s.Kind != "cuda" || (!s.All && len(s.Ordinals) == 1)
}

// Parse checks a device name without opening anything. Letter case and surrounding spaces
// do not matter.
func Parse(name string) (Spec, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "auto", "cpu":
		return Spec{Kind: n}, nil
	case "cuda":
		return Spec{Kind: "cuda", Ordinals: []int{0}}, nil
	case "cuda:all":
		return Spec{Kind: "cuda", All: true}, nil
	}
	rest, ok := strings.CutPrefix(n, "cuda:")
	if !ok {
		return Spec{}, fmt.Errorf("device: unknown device %q: want auto, cpu, cuda, cuda:N, cuda:N,M or cuda:all", name)
	}
	s := Spec{Kind: "cuda"}
	seen := map[int]bool{}
	for _, part := range strings.Split(rest, ",") {
		i, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || i < 0 {
			return Spec{}, fmt.Errorf("device: %q: %q is not a GPU number (0, 1, ...)", name, part)
		}
		if seen[i] {
			return Spec{}, fmt.Errorf("device: %q names GPU %d twice", name, i)
		}
		seen[i] = true
		s.Ordinals = append(s.Ordinals, i)
	}
	return s, nil
}

// Open opens the one device a name stands for. A name for several GPUs is an error: use
// OpenAll.
func Open(name string, opts ...Option) (gpu.Device, error) {
	s, err := Parse(name)
	if err != nil {
		return nil, err
	}
	if !s.Single() {
		return nil, fmt.Errorf("device: %q names several GPUs; open them with OpenAll", name)
	}
	cfg := newConfig(opts)
	switch s.Kind {
	case "cpu":
		return openCPU(cfg)
	case "cuda":
		return openCUDA(s.Ordinals[0], cfg)
	}
	if n, err := cudaCount(); err == nil && n > 0 {
		return openCUDA(0, cfg)
	}
	return openCPU(cfg)
}

// OpenAll opens every device a name stands for: the GPUs listed, every GPU for cuda:all and
// auto (or the CPU device when auto finds none), or the single device of any other name. If
// one fails to open, those already open are closed and the error is returned.
func OpenAll(name string, opts ...Option) ([]gpu.Device, error) {
	s, err := Parse(name)
	if err != nil {
		return nil, err
	}
	cfg := newConfig(opts)
	switch s.Kind {
	case "cpu":
		return one(openCPU(cfg))
	case "auto":
		if n, err := cudaCount(); err != nil || n == 0 {
			return one(openCPU(cfg))
		}
		s.All = true
	}
	ordinals := s.Ordinals
	if s.All {
		n, err := cudaCount()
		if err != nil {
			return nil, fmt.Errorf("device: %q: %w", name, err)
		}
		if n == 0 {
			return nil, fmt.Errorf("device: %q: the CUDA driver sees no GPU", name)
		}
		ordinals = make([]int, n)
		for i := range ordinals {
			ordinals[i] = i
		}
	}
	return openGPUs(ordinals, cfg)
}

func one(d gpu.Device, err error) ([]gpu.Device, error) {
	if err != nil {
		return nil, err
	}
	return []gpu.Device{d}, nil
}

func openGPUs(ordinals []int, cfg config) ([]gpu.Device, error) {
	devs := make([]gpu.Device, 0, len(ordinals))
	for _, i := range ordinals {
		d, err := openCUDA(i, cfg)
		if err != nil {
			return nil, errors.Join(err, CloseAll(devs))
		}
		devs = append(devs, d)
	}
	return devs, nil
}

// CloseAll closes every device and returns their errors joined.
func CloseAll(devs []gpu.Device) error {
	var errs []error
	for _, d := range devs {
		if err := d.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing %s: %w", d.Name(), err))
		}
	}
	return errors.Join(errs...)
}

func openCPU(cfg config) (gpu.Device, error) {
	d, err := cpu.New(cfg.cpu...)
	if err != nil {
		return nil, err
	}
	return d, nil
}
