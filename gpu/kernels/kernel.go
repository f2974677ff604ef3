package kernels

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/gpupipe/gpupipe/gpu"
)

// kernelDef is the Go implementation of one CUDA kernel of csrc: how to validate a job and
// how to compute a row segment of its output.
type kernelDef struct {
	name    string
	module  string // the .cu file, without extension, that holds the kernel
	prepare func(ln *launch, j *job) error
	row     rowFunc
}

// host is the kernel's gpu.HostFunc.
func (k *kernelDef) host(l *gpu.HostLaunch) error {
	ln, err := decodeLaunch(k.name, l)
	if err != nil {
		return err
	}
	return k.run(ln)
}

// run validates every job that the grid reaches, then computes them on all cores. Nothing is
// written when a job is invalid.
func (k *kernelDef) run(ln *launch) error {
	for i := range ln.jobs {
		if ln.cover[i] == 0 {
			continue
		}
		if err := k.prepare(ln, &ln.jobs[i]); err != nil {
			return badArg(k.name, "job %d: %v", i, err)
		}
	}
	if err := checkOverlaps(ln); err != nil {
		return badArg(k.name, "%v", err)
	}
	forRows(ln, k.row, k.pixelCost)
	return nil
}

// pixelCost is the work of one output pixel of j: its channels, times the taps of its filter
// for the resampling kernels.
func (k *kernelDef) pixelCost(j *job) int64 {
	if j.taps != nil {
		return int64(j.taps.taps * j.c)
	}
	return int64(j.c)
}

// runJobs runs k over jobs on host memory, every pixel covered.
func runJobs(k *kernelDef, jobs []job, src, dst, tab []byte) error {
	return k.run(&launch{jobs: jobs, cover: coverAll(jobs), src: src, dst: dst, tab: tab})
}

// checkOverlaps refuses a launch in which a job writes memory that another job writes, or
// that any job (or the job table) reads: the result would depend on the order in which
// threads run, on a GPU as on the cores. Views that interleave by rows in one buffer (tiles
// of one image) do not overlap.
func checkOverlaps(ln *launch) error {
	var all []region
	for i := range ln.jobs {
		if ln.cover[i] > 0 {
			all = append(all, ln.jobs[i].memory...)
		}
	}
	if ln.jobTable.rows > 0 {
		all = append(all, ln.jobTable)
	}
	slices.SortFunc(all, func(a, b region) int { return cmp.Compare(a.lo, b.lo) })
	for i, a := range all {
		for _, b := range all[i+1:] {
			if b.lo >= a.end() {
				break
			}
			if (a.write || b.write) && a.overlaps(b) {
				return fmt.Errorf("a job writes memory that another job reads or writes")
			}
		}
	}
	return nil
}
