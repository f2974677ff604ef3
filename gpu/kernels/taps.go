package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// A separable filter along one axis is a table (the layout of struct Taps in
// csrc/common.cuh, little-endian):
//
//	int32 n, taps, rows, 0        header, 16 bytes
//	int32 start[n]                first input sample of output i
//	int32 row[n]                  weight row of output i
//	float32 w[rows][taps]         weights
//
// Output i is the sum over k < taps of w[row[i]][k] * input[start[i]+k]. The window always
// lies inside the input (start[i]+taps ≤ input length), with zero weights where the filter's
// support is shorter than taps, so kernels never test bounds. Weights are computed in float64,
// normalised to sum 1 over the samples inside the input (which is how borders are handled:
// samples outside the image are left out and the rest renormalised) and stored as float32, so
// the Go code and the kernels use the very same numbers.
const tapsHeader = 16

// tapsSize is the encoded size of a table.
func tapsSize(n, taps, rows int) int { return tapsHeader + 8*n + 4*rows*taps }

// axis describes one axis of a resize: in input samples scaled to out, of which outputs
// first..first+n-1 are computed, in reverse order when reverse is set (a crop and a flip of
// the result, folded into the table).
type axis struct {
	in, out  int
	first, n int
	reverse  bool
}

func (a axis) index(i int) int {
	if a.reverse {
		return a.first + a.n - 1 - i
	}
	return a.first + i
}

// scale is input samples per output sample.
func (a axis) scale() float64 { return float64(a.in) / float64(a.out) }

// resizeTaps builds the table that resamples a with filter f.
func resizeTaps(a axis, f raster.Filter) []byte {
	scale := a.scale()
	fs := max(scale, 1) // the filter is stretched when downscaling
	reach := filterSupport(f) * fs
	// Weights of every output, trimmed to the samples where they are not zero.
	los := make([]int, a.n)
	ends := make([]int, a.n+1)
	var ws []float64
	taps := 1
	for i := range a.n {
		center := (float64(a.index(i)) + 0.5) * scale
		// Sample s sits at s+0.5. One sample more on each side than the support needs, so
		// that rounding of center never leaves out a sample the filter reaches; the zero
		// weights are trimmed below.
		lo := max(int(math.Floor(center-reach-0.5)), 0)
		hi := min(int(math.Floor(center+reach+0.5))+1, a.in)
		first := len(ws)
		sum := 0.0
		for s := lo; s < hi; s++ {
			w := filterAt(f, (float64(s)+0.5-center)/fs)
			ws = append(ws, w)
			sum += w
		}
		if sum == 0 {
			// Not reachable with these filters; keep the nearest sample rather than divide
			// by zero.
			ws[first+min(int(center), hi-1)-lo], sum = 1, 1
		}
		row := ws[first:]
		for len(row) > 1 && row[0] == 0 {
			row, lo = row[1:], lo+1
		}
		for len(row) > 1 && row[len(row)-1] == 0 {
			row = row[:len(row)-1]
		}
		for k := range row {
			row[k] /= sum
		}
		ws = append(ws[:first], row...)
		los[i], ends[i+1] = lo, len(ws)
		taps = max(taps, len(row))
	}
	b := make([]byte, tapsSize(a.n, taps, a.n))
	putHeader(b, a.n, taps, a.n)
	for i := range a.n {
		start := min(los[i], a.in-taps)
		putRow(b, a.n, taps, i, start, i, ws[ends[i]:ends[i+1]], los[i]-start, 1)
	}
	return b
}

// gaussRadius is the half-width of a Gaussian blur's window: three standard deviations,
// which leave out less than 0.3% of the weight.
func gaussRadius(sigma float64) int { return max(int(math.Ceil(3*sigma)), 1) }

// gaussTaps builds the table of a Gaussian blur of standard deviation sigma over n samples.
// Outputs whose window lies inside the input share one weight row; the others, near the
// borders, have rows of their own, renormalised over the samples that exist.
func gaussTaps(n int, sigma float64) []byte {
	r := gaussRadius(sigma)
	taps := min(2*r+1, n)
	border := func(x int) bool { return x-r < 0 || x+r >= n }
	rows := 1
	for x := 0; x < n; x++ {
		if border(x) {
			rows++
		}
	}
	b := make([]byte, tapsSize(n, taps, rows))
	putHeader(b, n, taps, rows)
	ws := make([]float64, 2*r+1)
	next := 1
	for x := 0; x < n; x++ {
		lo, hi := max(x-r, 0), min(x+r+1, n)
		sum := 0.0
		for s := lo; s < hi; s++ {
			d := float64(s - x)
			ws[s-lo] = math.Exp(-d * d / (2 * sigma * sigma))
			sum += ws[s-lo]
		}
		start := min(max(x-r, 0), n-taps)
		row := 0
		if border(x) {
			row, next = next, next+1
		}
		putRow(b, n, taps, x, start, row, ws[:hi-lo], lo-start, sum)
	}
	return b
}

func putHeader(b []byte, n, taps, rows int) {
	binary.LittleEndian.PutUint32(b[0:], uint32(n))
	binary.LittleEndian.PutUint32(b[4:], uint32(taps))
	binary.LittleEndian.PutUint32(b[8:], uint32(rows))
	binary.LittleEndian.PutUint32(b[12:], 0)
}

// putRow records output i: its window start and weight row, and (re)writes that row with the
// weights ws/sum placed at offset shift inside the window.
func putRow(b []byte, n, taps, i, start, row int, ws []float64, shift int, sum float64) {
	binary.LittleEndian.PutUint32(b[tapsHeader+4*i:], uint32(start))
	binary.LittleEndian.PutUint32(b[tapsHeader+4*(n+i):], uint32(row))
	base := tapsHeader + 8*n + 4*row*taps
	for k := 0; k < taps; k++ {
		w := 0.0
		if k >= shift && k-shift < len(ws) {
			w = ws[k-shift] / sum
		}
		binary.LittleEndian.PutUint32(b[base+4*k:], math.Float32bits(float32(w)))
	}
}

// taps is a decoded, validated table.
type taps struct {
	n, taps, rows int
	start, row    []int32
	w             []float32
}

// weights returns the window start and the weights of output i.
// span is the range of input samples outputs x0..x1-1 read.
func (t *taps) span(x0, x1 int) (lo, hi int) {
	lo, hi = int(t.start[x0]), 0
	for x := x0; x < x1; x++ {
		s := int(t.start[x])
		lo, hi = min(lo, s), max(hi, s+t.taps)
	}
	return lo, hi
}

func (t *taps) weights(i int) (int, []float32) {
	r := int(t.row[i]) * t.taps
	return int(t.start[i]), t.w[r : r+t.taps : r+t.taps]
}

// decodeTaps views the table at the start of b and checks that it has n outputs whose windows
// lie inside an input of in samples.
func decodeTaps(b []byte, n, in int) (taps, error) {
	if len(b) < tapsHeader {
		return taps{}, fmt.Errorf("filter table: %d bytes, shorter than its header", len(b))
	}
	t := taps{
		n:    int(int32(binary.LittleEndian.Uint32(b[0:]))),
		taps: int(int32(binary.LittleEndian.Uint32(b[4:]))),
		rows: int(int32(binary.LittleEndian.Uint32(b[8:]))),
	}
	switch {
	case t.n != n:
		return taps{}, fmt.Errorf("filter table for %d outputs, want %d", t.n, n)
	case t.taps < 1 || t.taps > in:
		return taps{}, fmt.Errorf("filter table with %d taps over %d input samples", t.taps, in)
	case t.rows < 1:
		return taps{}, fmt.Errorf("filter table with %d rows", t.rows)
	}
	if need := int64(tapsHeader) + 8*int64(t.n) + 4*int64(t.rows)*int64(t.taps); int64(len(b)) < need {
		return taps{}, fmt.Errorf("filter table needs %d bytes, has %d", need, len(b))
	}
	var err error
	if t.start, err = int32s(b[tapsHeader:], t.n); err != nil {
		return taps{}, err
	}
	if t.row, err = int32s(b[tapsHeader+4*t.n:], t.n); err != nil {
		return taps{}, err
	}
	if t.w, err = float32s(b[tapsHeader+8*t.n:], t.rows*t.taps); err != nil {
		return taps{}, err
	}
	for i := range t.n {
		if s, r := int(t.start[i]), int(t.row[i]); s < 0 || s > in-t.taps || r < 0 || r >= t.rows {
			return taps{}, fmt.Errorf("filter table output %d: window %d+%d of %d samples, row %d of %d",
				i, s, t.taps, in, r, t.rows)
		}
	}
	return t, nil
}

// tapsCache keeps built tables: a batch of photos from one camera needs the same few, and a
// Lanczos table for a large downscale costs a sine per tap.
var tapsCache = struct {
	sync.Mutex
	m     map[tapsKey][]byte
	bytes int
}{m: map[tapsKey][]byte{}}

// tapsCacheLimit bounds the cache; past it the cache starts over.
const tapsCacheLimit = 64 << 20

type tapsKey struct {
	a      axis
	filter raster.Filter
	sigma  float64
}

// cachedTaps returns the table for k, building it once. The result is shared: read only.
func cachedTaps(k tapsKey) []byte {
	tapsCache.Lock()
	b, ok := tapsCache.m[k]
	tapsCache.Unlock()
	if ok {
		return b
	}
	if k.sigma > 0 {
		b = gaussTaps(k.a.n, k.sigma)
	} else {
		b = resizeTaps(k.a, k.filter)
	}
	tapsCache.Lock()
	defer tapsCache.Unlock()
	if tapsCache.bytes+len(b) > tapsCacheLimit {
		clear(tapsCache.m)
		tapsCache.bytes = 0
	}
	if _, ok := tapsCache.m[k]; !ok {
		tapsCache.m[k] = b
		tapsCache.bytes += len(b)
	}
	return b
}
