package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/raster"
)

// blockSize is the number of threads per block of every launch.
const blockSize = 256

// jobSize is the encoded size of a job: struct Job in csrc/common.cuh.
const jobSize = 72

// job is one image's share of a launch (struct Job in csrc/common.cuh). Offsets are in bytes
// from the base of the buffer passed as src, dst or tab.
type job struct {
	src, dst, tab int64
	sw, sh, ss    int
	dw, dh, ds    int
	c             int
	block         int
	i0, i1        int
	f0, f1        float32

	// Filled when a launch is validated; not part of the encoding: the decoded tables, and
	// the memory the job writes and reads.
	taps   *taps
	norm   *norm
	color  *colorRec
	memory []region
}

// source checks the job's source view, w×h with rows of rowBytes (elem-aligned when elem
// is 4), and records that the job reads it.
func (j *job) source(ln *launch, w, h, rowBytes, elem int) error {
	if err := checkView("source", ln.src, j.src, w, h, j.ss, rowBytes, elem); err != nil {
		return err
	}
	j.memory = append(j.memory, viewRegion(ln.src, j.src, h, j.ss, rowBytes, false))
	return nil
}

// dest checks the job's destination view and records that the job writes it.
func (j *job) dest(ln *launch, w, h, rowBytes, elem int) error {
	if err := checkView("destination", ln.dst, j.dst, w, h, j.ds, rowBytes, elem); err != nil {
		return err
	}
	j.memory = append(j.memory, viewRegion(ln.dst, j.dst, h, j.ds, rowBytes, true))
	return nil
}

// table returns the n bytes at offset extra of the job's table and records that the job
// reads them.
func (j *job) table(ln *launch, extra, n int64) ([]byte, error) {
	off := j.tab + extra
	if off < 0 || off > int64(len(ln.tab)) || n > int64(len(ln.tab))-off {
		return nil, errorf("table of %d bytes at offset %d outside a %d-byte buffer", n, off, len(ln.tab))
	}
	j.memory = append(j.memory, viewRegion(ln.tab, off, 1, 0, int(n), false))
	return ln.tab[off : off+n], nil
}

// pixels is the number of output pixels, one thread each.
func (j *job) pixels() int64 { return int64(j.dw) * int64(j.dh) }

// blocks is the number of blocks the job needs.
func (j *job) blocks() int { return int((j.pixels() + blockSize - 1) / blockSize) }

func (j *job) put(b []byte) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(j.src))
	le.PutUint64(b[8:], uint64(j.dst))
	le.PutUint64(b[16:], uint64(j.tab))
	for i, v := range [...]int{j.sw, j.sh, j.ss, j.dw, j.dh, j.ds, j.c, j.block, j.i0, j.i1} {
		le.PutUint32(b[24+4*i:], uint32(int32(v)))
	}
	le.PutUint32(b[64:], math.Float32bits(j.f0))
	le.PutUint32(b[68:], math.Float32bits(j.f1))
}

func getJob(b []byte) job {
	le := binary.LittleEndian
	i := func(off int) int { return int(int32(le.Uint32(b[off:]))) }
	return job{
		src: int64(le.Uint64(b[0:])), dst: int64(le.Uint64(b[8:])), tab: int64(le.Uint64(b[16:])),
		sw: i(24), sh: i(28), ss: i(32), dw: i(36), dh: i(40), ds: i(44), c: i(48), block: i(52),
		i0: i(56), i1: i(60),
		f0: math.Float32frombits(le.Uint32(b[64:])), f1: math.Float32frombits(le.Uint32(b[68:])),
	}
}

// encodeJobs writes jobs into b, which must hold len(jobs)*jobSize bytes.
func encodeJobs(b []byte, jobs []job) {
	for i := range jobs {
		jobs[i].put(b[i*jobSize:])
	}
}

// norm is the Norm record of csrc/common.cuh: out = float32(v)*scale + bias per plane.
type norm struct {
	scale, bias [4]float32
}

const normSize = 32

func (n *norm) put(b []byte) {
	for p := range 4 {
		binary.LittleEndian.PutUint32(b[4*p:], math.Float32bits(n.scale[p]))
		binary.LittleEndian.PutUint32(b[16+4*p:], math.Float32bits(n.bias[p]))
	}
}

func getNorm(b []byte) *norm {
	var n norm
	for p := range 4 {
		n.scale[p] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*p:]))
		n.bias[p] = math.Float32frombits(binary.LittleEndian.Uint32(b[16+4*p:]))
	}
	return &n
}

// launch is a kernel launch decoded for a Go implementation: the jobs, how many of each job's
// pixels the grid covers, and the three buffers.
type launch struct {
	jobs          []job
	cover         []int64
	src, dst, tab []byte
	jobTable      region // the encoded jobs, when they came from memory
}

// decodeLaunch reads the common parameter list (jobs, n, src, dst, tab) of a host launch and
// works out which pixels of each job the grid reaches, exactly as the kernels' locate does:
// block b belongs to the last job whose first block is at most b.
func decodeLaunch(name string, l *gpu.HostLaunch) (*launch, error) {
	jobMem, err := l.Mem(0)
	if err != nil {
		return nil, err
	}
	n32, err := l.Int32(1)
	if err != nil {
		return nil, err
	}
	var ln launch
	for i, p := range []*[]byte{&ln.src, &ln.dst, &ln.tab} {
		if *p, err = l.Mem(2 + i); err != nil {
			return nil, err
		}
	}
	n := int(n32)
	if n < 0 || int64(n)*jobSize > int64(len(jobMem)) {
		return nil, badArg(name, "%d jobs do not fit in %d bytes", n, len(jobMem))
	}
	if l.Block.X <= 0 || l.Block.Count() != l.Block.X || l.Grid.X < 0 {
		return nil, badArg(name, "launch shape %v×%v: kernels take 1-D blocks", l.Grid, l.Block)
	}
	ln.jobTable = viewRegion(jobMem, 0, 1, 0, n*jobSize, false)
	ln.jobs = make([]job, n)
	ln.cover = make([]int64, n)
	for i := range ln.jobs {
		ln.jobs[i] = getJob(jobMem[i*jobSize:])
		if ln.jobs[i].block < 0 {
			return nil, badArg(name, "job %d starts at block %d", i, ln.jobs[i].block)
		}
		if i > 0 && ln.jobs[i].block < ln.jobs[i-1].block {
			return nil, badArg(name, "job %d starts at block %d, before job %d", i, ln.jobs[i].block, i-1)
		}
	}
	grid := max(l.Grid.X, 1)
	for i := range ln.jobs {
		j := &ln.jobs[i]
		end := grid
		if i+1 < n {
			end = min(ln.jobs[i+1].block, grid)
		}
		if j.dw > 0 && j.dh > 0 && end > j.block {
			ln.cover[i] = min(j.pixels(), int64(end-j.block)*int64(l.Block.X))
		}
	}
	return &ln, nil
}

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }

func badArg(kernel, format string, a ...any) error {
	return fmt.Errorf("%w: %s: %s", gpu.ErrBadArg, kernel, fmt.Sprintf(format, a...))
}

// checkView reports whether a w×h view with rows of rowBytes bytes, stride stride, at byte
// offset off fits in mem, with float32 rows aligned when elem is 4.
func checkView(what string, mem []byte, off int64, w, h, stride, rowBytes, elem int) error {
	switch {
	case w < 1 || h < 1 || w > raster.MaxSide || h > raster.MaxSide:
		return fmt.Errorf("%s: %d×%d", what, w, h)
	case stride < rowBytes:
		return fmt.Errorf("%s: stride %d shorter than a row of %d bytes", what, stride, rowBytes)
	case off < 0 || off > int64(len(mem)) || off+int64(h-1)*int64(stride)+int64(rowBytes) > int64(len(mem)):
		return fmt.Errorf("%s: %d×%d at offset %d with stride %d outside a %d-byte buffer", what, w, h, off, stride, len(mem))
	case elem > 1 && (off%int64(elem) != 0 || stride%elem != 0 || uintptr(unsafe.Pointer(unsafe.SliceData(mem)))%uintptr(elem) != 0):
		return fmt.Errorf("%s: offset %d or stride %d not aligned to %d bytes", what, off, stride, elem)
	}
	return nil
}

// checkChannels reports a job whose channel count no kernel handles.
func checkChannels(j *job) error {
	if j.c != 1 && j.c != 3 && j.c != 4 {
		return fmt.Errorf("%d channels", j.c)
	}
	return nil
}

// int32s views n int32 values at the start of b.
func int32s(b []byte, n int) ([]int32, error) {
	if n < 0 || len(b) < 4*n || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%4 != 0 {
		return nil, fmt.Errorf("%d int32 values: %d bytes or misaligned", n, len(b))
	}
	if n == 0 {
		return nil, nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(&b[0])), n), nil
}

// float32s views n float32 values at the start of b.
func float32s(b []byte, n int) ([]float32, error) {
	if n < 0 || len(b) < 4*n || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%4 != 0 {
		return nil, fmt.Errorf("%d float32 values: %d bytes or misaligned", n, len(b))
	}
	if n == 0 {
		return nil, nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n), nil
}

// f32row views the n float32 values at byte offset off of b; the range was validated.
func f32row(b []byte, off int64, n int) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[off])), n)
}

// floatBytes views float32 values as their bytes.
func floatBytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}
