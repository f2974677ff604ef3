package kernels

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// The Go side of csrc/resample.cu. Every expression mirrors the C one, operation for
// operation; float32(a*b) keeps the Go compiler from fusing a multiply and an add into one
// FMA instruction (it does so on arm64, and on amd64 with GOAMD64=v3), which would round once
// where the kernels round twice.

var resampleH = &kernelDef{name: "resample_h", module: "resample", prepare: prepareH, row: rowH}

var resampleV = &kernelDef{name: "resample_v", module: "resample", prepare: prepareV, row: rowV}

var resampleVNorm = &kernelDef{name: "resample_v_norm", module: "resample", prepare: prepareVNorm, row: rowVNorm}

func prepareH(ln *launch, j *job) error {
	if err := checkChannels(j); err != nil {
		return err
	}
	if j.dh != j.sh {
		return errorf("horizontal pass from %d rows to %d", j.sh, j.dh)
	}
	if err := j.source(ln, j.sw, j.sh, j.sw*j.c, 1); err != nil {
		return err
	}
	if err := j.dest(ln, j.dw, j.dh, 4*j.dw*j.c, 4); err != nil {
		return err
	}
	return decodeJobTaps(ln, j, 0, j.dw, j.sw)
}

func prepareV(ln *launch, j *job) error {
	if err := prepareVSource(ln, j); err != nil {
		return err
	}
	if err := j.dest(ln, j.dw, j.dh, j.dw*j.c, 1); err != nil {
		return err
	}
	return decodeJobTaps(ln, j, 0, j.dh, j.sh)
}

func prepareVNorm(ln *launch, j *job) error {
	if err := prepareVSource(ln, j); err != nil {
		return err
	}
	if err := checkPlanes(ln, j); err != nil {
		return err
	}
	return decodeJobTaps(ln, j, normSize, j.dh, j.sh)
}

func prepareVSource(ln *launch, j *job) error {
	if err := checkChannels(j); err != nil {
		return err
	}
	if j.dw != j.sw {
		return errorf("vertical pass from %d columns to %d", j.sw, j.dw)
	}
	return j.source(ln, j.sw, j.sh, 4*j.sw*j.c, 4)
}

// decodeJobTaps decodes the job's filter table at table offset extra: n outputs over in
// input samples.
func decodeJobTaps(ln *launch, j *job, extra int64, n, in int) error {
	off := j.tab + extra
	if off < 0 || off > int64(len(ln.tab)) {
		return errorf("filter table at offset %d outside a %d-byte buffer", off, len(ln.tab))
	}
	t, err := decodeTaps(ln.tab[off:], n, in)
	if err != nil {
		return err
	}
	j.taps = &t
	j.memory = append(j.memory, viewRegion(ln.tab, off, 1, 0, tapsSize(t.n, t.taps, t.rows), false))
	return nil
}

// rowH is resample_h: dst(x, y) = Σk w[k]·src(start+k, y), with colours premultiplied by alpha
// for four channels.
func rowH(wk *worker, ln *launch, j *job, y, x0, x1 int) {
	src := ln.src[j.src+int64(y)*int64(j.ss):]
	dst := f32row(ln.dst, j.dst+int64(y)*int64(j.ds), j.dw*j.c)
	t := j.taps
	switch j.c {
	case 1:
		for x := x0; x < x1; x++ {
			s, w := t.weights(x)
			p := src[s : s+len(w)]
			var a0 float32
			for k, wk := range w {
				a0 += float32(wk * float32(p[k]))
			}
			dst[x] = a0
		}
	case 3:
		rowH3(wk, src, dst, t, x0, x1)
	default:
		for x := x0; x < x1; x++ {
			s, w := t.weights(x)
			p := src[4*s : 4*(s+len(w))]
			var a0, a1, a2, a3 float32
			for k, wk := range w {
				q := p[4*k : 4*k+4 : 4*k+4]
				a := int(q[3])
				// Colour times alpha is an exact integer below 2^16.
				a0 += float32(wk * float32(int(q[0])*a))
				a1 += float32(wk * float32(int(q[1])*a))
				a2 += float32(wk * float32(int(q[2])*a))
				a3 += float32(wk * float32(a))
			}
			d := dst[4*x : 4*x+4 : 4*x+4]
			d[0], d[1], d[2], d[3] = a0, a1, a2, a3
		}
	}
}

// rowH3 is rowH for three channels. It first converts the source pixels the outputs read to
// float32 once, where the sums would convert each of them once per tap (about six times for
// Lanczos-3), then computes two output pixels at a time: each pixel's sums are added in the
// same order as one at a time, so the results are the same, bit for bit, as the CUDA
// kernel's, and the six running sums are independent, so their additions overlap (a
// 1000×750 to 256×192 Lanczos-3 resize: see BenchmarkResizeDecoded).
func rowH3(wr *worker, src []byte, dst []float32, t *taps, x0, x1 int) {
	lo, hi := t.span(x0, x1)
	f := wr.row(3 * (hi - lo))
	for i, b := range src[3*lo : 3*hi] {
		f[i] = float32(b)
	}
	x := x0
	for ; x+1 < x1; x += 2 {
		s, w := t.weights(x)
		s2, w2 := t.weights(x + 1)
		p := floats3(f[3*(s-lo) : 3*(s-lo+len(w))])[:len(w)]
		p2 := floats3(f[3*(s2-lo) : 3*(s2-lo+len(w))])[:len(w)]
		w2 = w2[:len(w)]
		var a0, a1, a2, b0, b1, b2 float32
		for k, wk := range w {
			q, r, vk := &p[k], &p2[k], w2[k]
			a0 += float32(wk * q[0])
			b0 += float32(vk * r[0])
			a1 += float32(wk * q[1])
			b1 += float32(vk * r[1])
			a2 += float32(wk * q[2])
			b2 += float32(vk * r[2])
		}
		d := dst[3*x : 3*x+6 : 3*x+6]
		d[0], d[1], d[2], d[3], d[4], d[5] = a0, a1, a2, b0, b1, b2
	}
	for ; x < x1; x++ {
		s, w := t.weights(x)
		p := floats3(f[3*(s-lo) : 3*(s-lo+len(w))])[:len(w)]
		var a0, a1, a2 float32
		for k, wk := range w {
			q := &p[k]
			a0 += float32(wk * q[0])
			a1 += float32(wk * q[1])
			a2 += float32(wk * q[2])
		}
		d := dst[3*x : 3*x+3 : 3*x+3]
		d[0], d[1], d[2] = a0, a1, a2
	}
}

// floats3 views packed 3-float pixels as an array per pixel, so that a loop over pixels
// indexes each pixel once, with one bounds check the compiler can prove, rather than slicing
// three values out of the row at every step.
func floats3(f []float32) [][3]float32 {
	if len(f) < 3 {
		return nil
	}
	return unsafe.Slice((*[3]float32)(unsafe.Pointer(&f[0])), len(f)/3)
}

// vsum filters columns x0..x1-1 of the intermediate at output row y and returns the sums,
// interleaved, in worker scratch.
func vsum(w *worker, ln *launch, j *job, y, x0, x1 int) []float32 {
	n := (x1 - x0) * j.c
	acc := w.floats(n)
	s, ws := j.taps.weights(y)
	off := j.src + int64(s)*int64(j.ss) + int64(4*x0*j.c)
	row := func(k int) []float32 { return f32row(ln.src, off+int64(k)*int64(j.ss), n)[:len(acc)] }
	// Four rows at a time: each sum still adds its terms in row order (the CUDA kernel's,
	// bit for bit), with a quarter of the loads and stores of the sums.
	k := 0
	for ; k+3 < len(ws); k += 4 {
		w0, w1, w2, w3 := ws[k], ws[k+1], ws[k+2], ws[k+3]
		p0, p1, p2, p3 := row(k), row(k+1), row(k+2), row(k+3)
		for i := range acc {
			a := acc[i]
			a += float32(w0 * p0[i])
			a += float32(w1 * p1[i])
			a += float32(w2 * p2[i])
			a += float32(w3 * p3[i])
			acc[i] = a
		}
	}
	for ; k < len(ws); k++ {
		wk, p := ws[k], row(k)
		for i := range acc {
			acc[i] += float32(wk * p[i])
		}
	}
	return acc
}

// finishPixel rounds one pixel's sums to bytes, dividing colours by alpha for four
// channels, as vsum does in C.
func finishPixel(acc []float32, c int, out []byte) {
	switch c {
	case 1:
		out[0] = toU8(acc[0])
	case 3:
		out[0], out[1], out[2] = toU8(acc[0]), toU8(acc[1]), toU8(acc[2])
	default:
		a := acc[3]
		if a > 0 {
			out[0], out[1], out[2] = toU8(acc[0]/a), toU8(acc[1]/a), toU8(acc[2]/a)
		} else {
			out[0], out[1], out[2] = 0, 0, 0
		}
		out[3] = toU8(a)
	}
}

// rowV is resample_v: dst(x, y) = round(Σk w[k]·src(x, start+k)).
func rowV(w *worker, ln *launch, j *job, y, x0, x1 int) {
	acc := vsum(w, ln, j, y, x0, x1)
	c := j.c
	dst := ln.dst[j.dst+int64(y)*int64(j.ds)+int64(x0*c):]
	if c == 3 {
		for i := 0; i+2 < len(acc); i += 3 {
			d := dst[i : i+3 : i+3]
			d[0], d[1], d[2] = toU8(acc[i]), toU8(acc[i+1]), toU8(acc[i+2])
		}
		return
	}
	for i := 0; i < len(acc); i += c {
		finishPixel(acc[i:i+c], c, dst[i:i+c])
	}
}

// rowVNorm is resample_v_norm: resample_v, then planar normalisation.
func rowVNorm(w *worker, ln *launch, j *job, y, x0, x1 int) {
	acc := vsum(w, ln, j, y, x0, x1)
	var v [4]byte
	for x := x0; x < x1; x++ {
		finishPixel(acc[(x-x0)*j.c:], j.c, v[:])
		putPlanes(ln, j, x, y, v)
	}
}

// toU8 rounds half up and clamps to 0..255, like to_u8 in csrc/common.cuh.
func toU8(v float32) uint8 {
	t := v + 0.5
	if !(t > 0) {
		return 0
	}
	if t >= 255 {
		return 255
	}
	return uint8(int32(t))
}

// floatPool recycles the intermediate images of the host functions.
var floatPool = sync.Pool{New: func() any { return new([]byte) }}

func getFloats(n int) *[]byte {
	p := floatPool.Get().(*[]byte)
	if cap(*p) < n {
		*p = make([]byte, n)
	}
	*p = (*p)[:n]
	return p
}

// resample runs the two passes that filter src into dst: along x with table tx (dst.Width
// outputs over src.Width samples), then along y with table ty.
func resample(dst, src raster.Image, tx, ty []byte) error {
	c := src.Channels
	tmp := getFloats(4 * dst.Width * src.Height * c)
	defer floatPool.Put(tmp)
	h := job{sw: src.Width, sh: src.Height, ss: src.Stride, dw: dst.Width, dh: src.Height, ds: 4 * dst.Width * c, c: c}
	if err := runJobs(resampleH, []job{h}, src.Pix, *tmp, tx); err != nil {
		return err
	}
	v := job{sw: dst.Width, sh: src.Height, ss: h.ds, dw: dst.Width, dh: dst.Height, ds: dst.Stride, c: c}
	return runJobs(resampleV, []job{v}, *tmp, dst.Pix, ty)
}

// Resize resamples src to the size of dst with filter f, antialiased when downscaling: the
// filter's support grows with the scale factor so that every source pixel contributes.
// Four-channel images are filtered with premultiplied alpha. It uses all cores.
func Resize(dst, src raster.Image, f raster.Filter) error {
	if err := checkPair(dst, src); err != nil {
		return err
	}
	if !f.Valid() {
		return fmt.Errorf("kernels: Resize: unknown filter %v", f)
	}
	tx := cachedTaps(tapsKey{a: axis{in: src.Width, out: dst.Width, n: dst.Width}, filter: f})
	ty := cachedTaps(tapsKey{a: axis{in: src.Height, out: dst.Height, n: dst.Height}, filter: f})
	return resample(dst, src, tx, ty)
}

// Resized returns src resized to w×h with filter f.
func Resized(src raster.Image, w, h int, f raster.Filter) (raster.Image, error) {
	if err := src.Check(); err != nil {
		return raster.Image{}, err
	}
	dst, err := raster.NewImage(w, h, src.Channels)
	if err != nil {
		return raster.Image{}, err
	}
	return dst, Resize(dst, src, f)
}

// checkPair checks two images that an operation reads and writes: both well formed, with the
// same number of channels.
func checkPair(dst, src raster.Image) error {
	if err := src.Check(); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if err := dst.Check(); err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	if dst.Channels != src.Channels {
		return fmt.Errorf("%w: %d-channel destination for a %d-channel source", raster.ErrImage, dst.Channels, src.Channels)
	}
	return nil
}
