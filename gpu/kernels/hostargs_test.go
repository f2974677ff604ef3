package kernels

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/raster"
)

// A kernel's Go implementation runs inside a device and must answer arguments it cannot use
// with an error, never a panic (a panic in one of its worker goroutines would take the whole
// process down). These tests corrupt real launches and check just that.

// corruptible is a planned batch whose launches can be corrupted and rerun.
type corruptible struct {
	l   *layout
	mem [3][]byte
}

func newCorruptible(t testing.TB, r *rand.Rand) *corruptible {
	for {
		if c := corruptibleOf(t, randChain(r), randBatch(r)); c != nil {
			return c
		}
	}
}

// corruptibleOf lays out chain c for batch b, or returns nil if the batch does not fit it.
func corruptibleOf(t testing.TB, ch Chain, b []raster.Image) *corruptible {
	p, err := ch.Plan()
	if err != nil {
		t.Fatal(err)
	}
	l, err := p.layout(b)
	if err != nil {
		return nil
	}
	c := &corruptible{l: l}
	for i, n := range []int{l.sizes.In, l.sizes.Scratch, l.sizes.Out} {
		c.mem[i] = make([]byte, n)
	}
	if err := l.pack(b, c.mem[bufIn]); err != nil {
		t.Fatal(err)
	}
	return c
}

// mutate changes the 32-bit word at a random position of a launch's jobs or of the tables to
// a value chosen to break something: negative, huge, off by one, or random.
func mutate(r *rand.Rand, c *corruptible, pl *plannedLaunch) {
	in := c.mem[bufIn]
	var pos int
	if r.IntN(2) == 0 {
		pos = int(pl.jobsAt) + 4*r.IntN(len(pl.jobs)*jobSize/4)
	} else {
		tabStart := int(c.l.base[areaTab])
		pos = tabStart + 4*r.IntN((len(in)-tabStart)/4)
	}
	old := int32(binary.LittleEndian.Uint32(in[pos:]))
	v := []int32{-1, -1 << 31, 1<<31 - 1, old + 1, old - 1, 0, int32(r.Uint32()), old * 1000, 1 << 20}[r.IntN(9)]
	binary.LittleEndian.PutUint32(in[pos:], uint32(v))
}

func TestCorruptLaunchesAreErrorsNotPanics(t *testing.T) {
	r := newRand(t)
	errs := 0
	for range 3000 {
		c := newCorruptible(t, r)
		pl := c.l.launches[r.IntN(len(c.l.launches))]
		for range 1 + r.IntN(3) {
			mutate(r, c, pl)
		}
		grid := pl.grid
		if r.IntN(4) == 0 {
			grid = r.IntN(2 * (pl.grid + 1))
		}
		err := pl.k.host(hostLaunch(pl, grid, c.mem))
		if err != nil {
			errs++
			if !errors.Is(err, gpu.ErrBadArg) {
				t.Fatalf("%s: %v does not wrap gpu.ErrBadArg", pl.k.name, err)
			}
		}
	}
	if errs == 0 {
		t.Error("no corruption was refused")
	}
	t.Logf("%d of 3000 corrupted launches refused", errs)
}

func TestMalformedArguments(t *testing.T) {
	r := newRand(t)
	c := corruptibleOf(t, NewChain().Resize(7, 5, raster.Lanczos3), randBatch(r))
	pl := c.l.launches[0] // resample_h, which reads src, dst and tables
	good := hostLaunch(pl, pl.grid, c.mem)
	if err := pl.k.host(good); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(l *gpu.HostLaunch){
		"too few args":    func(l *gpu.HostLaunch) { l.Args = l.Args[:4] },
		"int for ptr":     func(l *gpu.HostLaunch) { l.Args[0] = gpu.HostArg{Kind: gpu.KindInt32} },
		"negative n":      func(l *gpu.HostLaunch) { l.Args[1].Bits = uint64(uint32(0xffffffff)) },
		"n past jobs":     func(l *gpu.HostLaunch) { l.Args[0].Mem = l.Args[0].Mem[:jobSize-1] },
		"2-D block":       func(l *gpu.HostLaunch) { l.Block.Y = 2 },
		"zero block":      func(l *gpu.HostLaunch) { l.Block.X = 0 },
		"short src":       func(l *gpu.HostLaunch) { l.Args[2].Mem = l.Args[2].Mem[:1] },
		"short dst":       func(l *gpu.HostLaunch) { l.Args[3].Mem = nil },
		"short tables":    func(l *gpu.HostLaunch) { l.Args[4].Mem = l.Args[4].Mem[:8] },
		"negative grid":   func(l *gpu.HostLaunch) { l.Grid.X = -1 },
		"float for int n": func(l *gpu.HostLaunch) { l.Args[1].Kind = gpu.KindFloat32 },
	}
	for name, mod := range cases {
		l := *good
		l.Args = append([]gpu.HostArg(nil), good.Args...)
		mod(&l)
		before := bytes.Clone(c.mem[bufOut])
		if err := pl.k.host(&l); !errors.Is(err, gpu.ErrBadArg) {
			t.Errorf("%s: %v, want gpu.ErrBadArg", name, err)
		}
		if !bytes.Equal(before, c.mem[bufOut]) {
			t.Errorf("%s: refused, but wrote output", name)
		}
	}
}

func FuzzHostLaunch(f *testing.F) {
	f.Add(uint64(1), uint16(0), int32(-1))
	f.Add(uint64(2), uint16(17), int32(1<<20))
	f.Add(uint64(3), uint16(300), int32(0))
	f.Fuzz(func(t *testing.T, seed uint64, at uint16, v int32) {
		r := rand.New(rand.NewPCG(seed, seed))
		c := newCorruptible(t, r)
		pl := c.l.launches[r.IntN(len(c.l.launches))]
		in := c.mem[bufIn]
		pos := int(pl.jobsAt) + int(at)%max(len(in)-int(pl.jobsAt)-3, 1)
		if pos+4 <= len(in) {
			binary.LittleEndian.PutUint32(in[pos:], uint32(v))
		}
		_ = pl.k.host(hostLaunch(pl, pl.grid, c.mem))
	})
}

// TestOverlapsAreRefused: a launch whose outputs overlap each other or its inputs would give
// a result that depends on thread order; the Go implementation refuses it.
func TestOverlapsAreRefused(t *testing.T) {
	r := newRand(t)
	m := randImage(r, 20, 10, 3)
	j := job{sw: 20, sh: 10, ss: m.Stride, dw: 20, dh: 10, ds: m.Stride, c: 3, i0: int(raster.FlipH)}
	if err := runJobs(orientK, []job{j}, m.Pix, m.Pix, nil); !errors.Is(err, gpu.ErrBadArg) {
		t.Errorf("orient in place: %v, want gpu.ErrBadArg", err)
	}
	half, _ := m.Sub(0, 0, 10, 10)
	other, _ := m.Sub(5, 0, 10, 10)
	if err := ApplyCurve(other, half, IdentityCurve()); !errors.Is(err, gpu.ErrBadArg) {
		t.Errorf("overlapping source and destination: %v, want gpu.ErrBadArg", err)
	}
	left, _ := m.Sub(0, 0, 10, 10)
	right, _ := m.Sub(10, 0, 10, 10)
	if err := ApplyCurve(right, left, IdentityCurve()); err != nil {
		t.Errorf("side by side in one buffer: %v", err)
	}

	c := corruptibleOf(t, NewChain().Grey(), []raster.Image{randImage(r, 9, 9, 3), randImage(r, 9, 9, 3)})
	pl := c.l.launches[0]
	pl.jobs[1].dst = pl.jobs[0].dst + 3 // the second image lands inside the first
	encodeJobs(c.mem[bufIn][pl.jobsAt:], pl.jobs)
	if err := pl.k.host(hostLaunch(pl, pl.grid, c.mem)); !errors.Is(err, gpu.ErrBadArg) {
		t.Errorf("two jobs writing the same bytes: %v, want gpu.ErrBadArg", err)
	}
}

func TestRegionOverlapsMatchesBytes(t *testing.T) {
	r := newRand(t)
	for range 20000 {
		var a, b region
		for _, g := range []*region{&a, &b} {
			g.rows = 1 + r.IntN(4)
			g.row = uintptr(1 + r.IntN(6))
			g.stride = g.row + uintptr(r.IntN(5))
			if g.rows == 1 && r.IntN(2) == 0 {
				g.stride = 0
			}
			g.lo = uintptr(r.IntN(30))
		}
		bytesOf := func(g region) map[uintptr]bool {
			m := map[uintptr]bool{}
			for i := range g.rows {
				for k := range g.row {
					m[g.lo+uintptr(i)*g.stride+k] = true
				}
			}
			return m
		}
		want := false
		mb := bytesOf(b)
		for p := range bytesOf(a) {
			want = want || mb[p]
		}
		if got := a.overlaps(b); got != want {
			t.Fatalf("%+v and %+v: overlaps %v, want %v", a, b, got, want)
		}
	}
}
