package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// minPiece is the work (in pixel-taps: a pixel of a simple kernel is 1, a filtered pixel
// counts its taps) below which splitting it across goroutines costs more than it saves.
const minPiece = 32 << 10

// worker holds one goroutine's reusable scratch memory, so that no kernel allocates per row.
type worker struct {
	acc []float32
	buf []float32
}

// row returns a scratch slice of n float32 values, not zeroed.
func (w *worker) row(n int) []float32 {
	if cap(w.buf) < n {
		w.buf = make([]float32, n)
	}
	return w.buf[:n]
}

// floats returns a zeroed scratch slice of n float32 values.
func (w *worker) floats(n int) []float32 {
	if cap(w.acc) < n {
		w.acc = make([]float32, n)
	}
	a := w.acc[:n]
	clear(a)
	return a
}

// rowFunc computes pixels x0..x1-1 of row y of job j of launch ln.
type rowFunc func(w *worker, ln *launch, j *job, y, x0, x1 int)

// forRows calls fn for the first ln.cover[i] pixels of each job, in row-major order, split
// into row segments spread over all cores. Every pixel is computed exactly once, by one
// goroutine. cost is the work of one pixel of a job, in the units of minPiece.
func forRows(ln *launch, fn rowFunc, cost func(j *job) int64) {
	var total, work int64
	for i, c := range ln.cover {
		total += c
		work += c * cost(&ln.jobs[i])
	}
	if total == 0 {
		return
	}
	pieces := int64(4 * runtime.GOMAXPROCS(0))
	pieces = max(min(pieces, work/minPiece, total), 1)
	if pieces == 1 {
		runPiece(&worker{}, ln, 0, total, fn)
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(pieces, int64(runtime.GOMAXPROCS(0))) {
		wg.Go(func() {
			w := &worker{}
			for p := next.Add(1) - 1; p < pieces; p = next.Add(1) - 1 {
				runPiece(w, ln, total*p/pieces, total*(p+1)/pieces, fn)
			}
		})
	}
	wg.Wait()
}

// runPiece computes pixels lo..hi-1 of the concatenation of all jobs' covered pixels.
func runPiece(w *worker, ln *launch, lo, hi int64, fn rowFunc) {
	jobs, cover := ln.jobs, ln.cover
	var base int64
	for i := range jobs {
		j := &jobs[i]
		end := base + cover[i]
		if end > lo && base < hi {
			from, to := max(lo, base)-base, min(hi, end)-base
			for e := from; e < to; {
				y := int(e / int64(j.dw))
				x0 := int(e - int64(y)*int64(j.dw))
				x1 := int(min(int64(j.dw), to-int64(y)*int64(j.dw)))
				fn(w, ln, j, y, x0, x1)
				e = int64(y)*int64(j.dw) + int64(x1)
			}
		}
		if end >= hi {
			return
		}
		base = end
	}
}

// coverAll is the cover of jobs whose grid reaches every pixel.
func coverAll(jobs []job) []int64 {
	c := make([]int64, len(jobs))
	for i := range jobs {
		c[i] = jobs[i].pixels()
	}
	return c
}
