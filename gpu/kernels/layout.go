package kernels

import (
	"fmt"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/raster"
)

// A batch's bytes are laid out in areas, placed in the three buffers of a slot:
//
//	In:      [input pixels][jobs and tables]     copied host→device in one piece
//	Scratch: [float temp][ping][pong][blurred]   intermediates, never leave the device
//	Out:     [outputs]                           copied device→host
//
// Steps write their outputs alternately to ping and pong (the last to Out), so two image
// areas serve chains of any length; a step reads only the area the step before wrote. Every
// image and table starts on an aligned boundary.
type area uint8

const (
	areaPix area = iota
	areaTab
	areaTemp
	areaPing
	areaPong
	areaBlur
	areaOut
	numAreas
)

// buffer is the slot buffer an area lives in.
type buffer uint8

const (
	bufIn buffer = iota
	bufScratch
	bufOut
)

var areaBuffer = [numAreas]buffer{bufIn, bufIn, bufScratch, bufScratch, bufScratch, bufScratch, bufOut}

const (
	imageAlign = 256 // as CUDA allocations: rows start on cache-line boundaries
	tableAlign = 16
)

func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }

// view is an image inside an area, at an offset relative to the area's start until the
// layout is final.
type view struct {
	area      area
	off       int64
	w, h      int
	stride, c int
	tensor    bool // planar float32 with c planes
}

// crop narrows a byte view to r.
func (v view) crop(r rect) view {
	v.off += int64(r.y)*int64(v.stride) + int64(r.x*v.c)
	v.w, v.h = r.w, r.h
	return v
}

// plannedLaunch is one kernel launch over the batch.
type plannedLaunch struct {
	k             *kernelDef
	jobs          []job
	jobsAt        int64 // offset of the encoded jobs in areaTab
	grid          int
	src, dst, tab area
}

// tableWrite is a table Pack copies into areaTab.
type tableWrite struct {
	at   int64
	data []byte
}

// layout is where everything of one batch goes.
type layout struct {
	sizes    gpu.Sizes
	launches []*plannedLaunch
	tables   []tableWrite
	inputs   []view
	outputs  []view
	base     [numAreas]int64
	size     [numAreas]int64
	tabDedup map[any]int64
	shapes   bool        // only the output shapes are wanted: no filter tables
	colors   []*ColorMap // per image, or nil
}

// layout plans batch b: shapes through every step, launches, tables and buffer sizes.
func (p *Plan) layout(b []raster.Image) (*layout, error) {
	return p.plan(b, nil, false)
}

// plan lays out batch b from the images' shapes alone: their pixels are not read, and may be
// gone (Pack checks them). With shapes set, it skips the filter tables, so that only the
// output views are right.
//
// colors, when not nil, holds each image's colour map for ToSRGB (nil: not converted).
func (p *Plan) plan(b []raster.Image, colors []*ColorMap, shapes bool) (*layout, error) {
	l := &layout{tabDedup: map[any]int64{}, shapes: shapes}
	if colors != nil {
		if len(colors) != len(b) {
			return nil, fmt.Errorf("kernels: %d colour maps for %d images", len(colors), len(b))
		}
		l.colors = colors
	}
	cur := make([]view, len(b))
	l.inputs = make([]view, len(b))
	for i, m := range b {
		if err := m.CheckShape(); err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		cur[i] = view{area: areaPix, off: l.size[areaPix], w: m.Width, h: m.Height, stride: rowBytes(m), c: m.Channels}
		l.inputs[i] = cur[i]
		l.size[areaPix] = alignUp(l.size[areaPix]+int64(rowBytes(m)*m.Height), imageAlign)
	}
	if len(b) > 0 {
		for si := range p.steps {
			out := areaOut
			if si < len(p.steps)-1 {
				out = areaPing + area(si%2)
			}
			if err := l.addStep(&p.steps[si], cur, out); err != nil {
				return nil, err
			}
		}
	}
	l.outputs = cur
	l.finish()
	return l, nil
}

// stepState allocates one step's outputs and temporaries.
type stepState struct {
	l      *layout
	used   [numAreas]int64
	launch []*plannedLaunch
}

func (st *stepState) alloc(a area, n int64) int64 {
	off := st.used[a]
	st.used[a] = alignUp(off+n, imageAlign)
	return off
}

func (l *layout) addStep(s *step, cur []view, out area) error {
	st := &stepState{l: l}
	kernels := s.kernels()
	st.launch = make([]*plannedLaunch, len(kernels))
	for k, def := range kernels {
		st.launch[k] = &plannedLaunch{k: def, jobs: make([]job, len(cur)), tab: areaTab}
	}
	for i := range cur {
		v := cur[i]
		for ci := range s.crops {
			r, err := s.crops[ci].cropRect(v.w, v.h)
			if err != nil {
				return fmt.Errorf("image %d: %w", i, err)
			}
			v = v.crop(r)
		}
		nv, err := st.image(s, i, v, out)
		if err != nil {
			return fmt.Errorf("image %d: %w", i, err)
		}
		cur[i] = nv
	}
	for _, pl := range st.launch {
		pl.jobsAt = l.reserve(int64(jobSize * len(pl.jobs)))
		for i := range pl.jobs {
			pl.jobs[i].block = pl.grid
			pl.grid += pl.jobs[i].blocks()
		}
		l.launches = append(l.launches, pl)
	}
	for a := range numAreas {
		if a != areaPix && a != areaTab {
			l.size[a] = max(l.size[a], st.used[a])
		}
	}
	return nil
}

// image plans step s for image i, read from v, and returns the view of its output.
func (st *stepState) image(s *step, i int, v view, out area) (view, error) {
	switch s.kind {
	case stepResample:
		return st.resample(s, i, v, out)
	case stepBlur, stepSharpen:
		return st.blur(s, i, v, out)
	}
	w, h, c := v.w, v.h, v.c
	j := job{src: v.off, sw: v.w, sh: v.h, ss: v.stride, c: v.c}
	switch s.kind {
	case stepOrient:
		w, h = s.o.Size(v.w, v.h)
		j.i0 = int(s.o)
	case stepGrey:
		c = 1
	case stepLUT:
		j.tab = st.l.addLUT(s, v.c)
	case stepColor:
		if cm := st.l.color(i); cm != nil {
			j.tab, j.i0 = st.l.addTable(cm, cm.rec), 1
		}
	case stepNormalize:
		if err := s.norm.check(v.c); err != nil {
			return view{}, fmt.Errorf("%w: %v", raster.ErrImage, err)
		}
		j.tab = st.l.addNorm(s)
		if s.mirror {
			j.i0 = 1
		}
	}
	o := st.output(s, out, w, h, c)
	j.dst, j.dw, j.dh, j.ds, j.i1 = o.off, o.w, o.h, o.stride, o.planes()
	st.place(0, i, j, v.area, out)
	return o, nil
}

// output allocates a w×h image with c channels, or the step's tensor, in area a.
func (st *stepState) output(s *step, a area, w, h, c int) view {
	if s.norm != nil {
		planes := s.norm.planes()
		return view{area: a, off: st.alloc(a, int64(4*w*h*planes)), w: w, h: h, stride: 4 * w, c: planes, tensor: true}
	}
	return view{area: a, off: st.alloc(a, int64(w*h*c)), w: w, h: h, stride: w * c, c: c}
}

// planes is the i1 parameter of a job writing v: the number of tensor planes.
func (v view) planes() int {
	if v.tensor {
		return v.c
	}
	return 0
}

// place stores job j as image i of launch k, reading src and writing dst, offsets relative to
// the areas' starts.
func (st *stepState) place(k, i int, j job, src, dst area) {
	pl := st.launch[k]
	pl.jobs[i] = j
	pl.src, pl.dst = src, dst
}

// resample plans the two passes of a resize of v.
func (st *stepState) resample(s *step, i int, v view, out area) (view, error) {
	rw, rh, err := s.resize.resizeSize(v.w, v.h)
	if err != nil {
		return view{}, err
	}
	ax := axis{in: v.w, out: rw, n: rw}
	ay := axis{in: v.h, out: rh, n: rh}
	for pi := range s.post {
		o := &s.post[pi]
		if o.kind == opOrient {
			fx, fy := o.o.Mirrors()
			ax.reverse = ax.reverse != fx
			ay.reverse = ay.reverse != fy
			continue
		}
		r, err := o.cropRect(ax.n, ay.n)
		if err != nil {
			return view{}, err
		}
		ax, ay = ax.crop(r.x, r.w), ay.crop(r.y, r.h)
	}
	tx := tapsKey{a: ax, filter: s.resize.filter}
	ty := tapsKey{a: ay, filter: s.resize.filter}
	if s.norm != nil {
		if err := s.norm.check(v.c); err != nil {
			return view{}, fmt.Errorf("%w: %v", raster.ErrImage, err)
		}
	}
	return st.passes(s, i, v, out, tx, ty), nil
}

// crop narrows the computed outputs of an axis to [x, x+n) of the current ones.
func (a axis) crop(x, n int) axis {
	if a.reverse {
		a.first += a.n - x - n
	} else {
		a.first += x
	}
	a.n = n
	return a
}

// blur plans a Gaussian blur of v, and for sharpening the unsharp step after it.
func (st *stepState) blur(s *step, i int, v view, out area) (view, error) {
	tx := tapsKey{a: axis{in: v.w, out: v.w, n: v.w}, sigma: s.sigma}
	ty := tapsKey{a: axis{in: v.h, out: v.h, n: v.h}, sigma: s.sigma}
	if s.kind == stepBlur {
		return st.passes(s, i, v, out, tx, ty), nil
	}
	b := st.passes(s, i, v, areaBlur, tx, ty)
	o := st.output(s, out, v.w, v.h, v.c)
	j := job{src: v.off, sw: v.w, sh: v.h, ss: v.stride, dst: o.off, dw: o.w, dh: o.h, ds: o.stride, c: v.c,
		tab: b.off, i0: b.stride, i1: s.threshold, f0: float32(s.amount)}
	st.place(2, i, j, v.area, out)
	st.launch[2].tab = areaBlur
	return o, nil
}

// passes plans the horizontal pass of v into the float temporary and the vertical pass from
// it into area out, with filter tables tx and ty.
func (st *stepState) passes(s *step, i int, v view, out area, tx, ty tapsKey) view {
	w, h := tx.a.n, ty.a.n
	tmp := view{area: areaTemp, off: st.alloc(areaTemp, int64(4*w*v.h*v.c)), w: w, h: v.h, stride: 4 * w * v.c, c: v.c}
	hj := job{src: v.off, sw: v.w, sh: v.h, ss: v.stride, dst: tmp.off, dw: w, dh: v.h, ds: tmp.stride, c: v.c}
	hj.tab = st.l.addTaps(tx, nil)
	st.place(0, i, hj, v.area, areaTemp)
	o := st.output(s, out, w, h, v.c)
	vj := job{src: tmp.off, sw: w, sh: v.h, ss: tmp.stride, dst: o.off, dw: w, dh: h, ds: o.stride, c: v.c, i1: o.planes()}
	switch cm := st.l.color(i); {
	case o.tensor:
		vj.tab = st.l.addTaps(ty, s)
	case s.color && cm != nil:
		vj.tab, vj.i0 = st.l.addColorTaps(ty, cm), 1
	default:
		vj.tab = st.l.addTaps(ty, nil)
	}
	st.place(1, i, vj, areaTemp, out)
	return o
}

// reserve sets aside n bytes of areaTab and returns their offset.
func (l *layout) reserve(n int64) int64 {
	off := l.size[areaTab]
	l.size[areaTab] = alignUp(off+n, tableAlign)
	return off
}

// addTable appends data to areaTab, once per key (no dedup for a nil key), and returns its
// offset.
func (l *layout) addTable(key any, data []byte) int64 {
	if key != nil {
		if off, ok := l.tabDedup[key]; ok {
			return off
		}
	}
	off := l.reserve(int64(len(data)))
	l.tables = append(l.tables, tableWrite{at: off, data: data})
	if key != nil {
		l.tabDedup[key] = off
	}
	return off
}

// addLUT adds the lookup table of step s for images of c channels, once.
func (l *layout) addLUT(s *step, c int) int64 {
	key := [2]any{s, c}
	if off, ok := l.tabDedup[key]; ok {
		return off
	}
	t := make([]byte, 256*c)
	s.curve.table(t, c)
	return l.addTable(key, t)
}

// addTaps adds the filter table of k, preceded by the Norm record of step s when s is not
// nil (the table layout of resample_v_norm).
func (l *layout) addTaps(k tapsKey, s *step) int64 {
	key := [2]any{k, s}
	if off, ok := l.tabDedup[key]; ok {
		return off
	}
	var t []byte
	if !l.shapes {
		t = cachedTaps(k)
	}
	var off int64
	if s != nil {
		off = l.addNormRecord(s, int64(normSize+len(t)))
		l.tables = append(l.tables, tableWrite{at: off + normSize, data: t})
	} else {
		off = l.addTable(nil, t)
	}
	l.tabDedup[key] = off
	return off
}

// color is image i's colour map, or nil.
func (l *layout) color(i int) *ColorMap {
	if l.colors == nil {
		return nil
	}
	return l.colors[i]
}

// addColorTaps adds cm's Color record followed by the filter table of k (the table layout of
// resample_v_color), once per pair.
func (l *layout) addColorTaps(k tapsKey, cm *ColorMap) int64 {
	key := [2]any{k, cm}
	if off, ok := l.tabDedup[key]; ok {
		return off
	}
	var t []byte
	if !l.shapes {
		t = cachedTaps(k)
	}
	off := l.reserve(int64(colorSize + len(t)))
	l.tables = append(l.tables, tableWrite{at: off, data: cm.rec}, tableWrite{at: off + colorSize, data: t})
	l.tabDedup[key] = off
	return off
}

// addNorm adds the Norm record of step s once and returns its offset.
func (l *layout) addNorm(s *step) int64 {
	key := [2]any{"norm", s}
	if off, ok := l.tabDedup[key]; ok {
		return off
	}
	off := l.addNormRecord(s, normSize)
	l.tabDedup[key] = off
	return off
}

// addNormRecord reserves size bytes in areaTab starting with step s's Norm record.
func (l *layout) addNormRecord(s *step, size int64) int64 {
	rec := s.norm.record()
	b := make([]byte, normSize)
	rec.put(b)
	off := l.reserve(size)
	l.tables = append(l.tables, tableWrite{at: off, data: b})
	return off
}

// finish places the areas in the buffers and makes every offset absolute.
func (l *layout) finish() {
	var end [3]int64
	for a := range numAreas {
		buf := areaBuffer[a]
		l.base[a] = alignUp(end[buf], imageAlign)
		if l.size[a] > 0 {
			end[buf] = l.base[a] + l.size[a]
		}
	}
	l.sizes = gpu.Sizes{In: int(end[bufIn]), Scratch: int(end[bufScratch]), Out: int(end[bufOut])}
	for _, pl := range l.launches {
		pl.jobsAt += l.base[areaTab]
		for i := range pl.jobs {
			j := &pl.jobs[i]
			j.src += l.base[pl.src]
			j.dst += l.base[pl.dst]
			j.tab += l.base[pl.tab]
		}
	}
	for i := range l.tables {
		l.tables[i].at += l.base[areaTab]
	}
	for i := range l.inputs {
		l.inputs[i].off += l.base[areaPix]
	}
	for i := range l.outputs {
		l.outputs[i].off += l.base[l.outputs[i].area]
	}
}
