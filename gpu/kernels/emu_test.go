//go:build cgo

package kernels

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/kernels/csrc"
	"github.com/gpupipe/gpupipe/gpu/raster"
)

// These tests compile the CUDA sources with g++ (package csrc) and check that every kernel
// computes exactly, byte for byte, what its Go implementation computes.

func TestEmulatorHasEveryKernel(t *testing.T) {
	got, want := csrc.Kernels(), Names()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("emulator kernels %v, Go kernels %v", got, want)
	}
}

// TestNoFusedMultiplyAdd checks that neither the C++ compiler nor the Go compiler turned
// a*b+c into a fused multiply-add: with a = b = 1+2⁻¹², a*b = 1+2⁻¹¹+2⁻²⁴ rounds to 1+2⁻¹¹ in
// float32, so a*b-1 is 2⁻¹¹ with two roundings and 2⁻¹¹+2⁻²⁴ with one.
func TestNoFusedMultiplyAdd(t *testing.T) {
	a := float32(1 + math.Ldexp(1, -12))
	want := float32(math.Ldexp(1, -11))
	if got := csrc.ContractProbe(a, a, -1); got != want {
		t.Errorf("emulated a*b+c = %g, want %g: the C++ compiler fuses multiply-adds", got, want)
	}
	var acc float32 = -1
	acc += float32(a * a)
	if acc != want {
		t.Errorf("Go a*b+c = %g, want %g", acc, want)
	}
}

// guard is the number of bytes after each buffer that the emulated kernels must not touch.
const guard = 64

// buffers are the three buffers of a batch, each followed by a guard zone.
type buffers [3][]byte

func newBuffers(r *rand.Rand, l *layout, in []byte) buffers {
	var b buffers
	for i, n := range []int{l.sizes.In, l.sizes.Scratch, l.sizes.Out} {
		b[i] = make([]byte, n+guard)
		for k := range b[i] {
			b[i][k] = byte(r.IntN(256)) // garbage, as device memory holds
		}
	}
	copy(b[bufIn], in)
	return b
}

func (b buffers) clone() buffers {
	var c buffers
	for i := range b {
		c[i] = bytes.Clone(b[i])
	}
	return c
}

// trimmed is the buffers without their guard zones.
func (b buffers) trimmed() [3][]byte {
	var t [3][]byte
	for i := range b {
		t[i] = b[i][:len(b[i])-guard]
	}
	return t
}

// runBoth runs launch pl through the Go implementation on goB and the C kernel on cB, with
// grid blocks (the full grid when 0), and reports the first difference.
func runBoth(t *testing.T, pl *plannedLaunch, grid int, goB, cB buffers) {
	t.Helper()
	if grid == 0 {
		grid = pl.grid
	}
	gm, cm := goB.trimmed(), cB.trimmed()
	hl := hostLaunch(pl, grid, gm)
	if err := pl.k.host(hl); err != nil {
		t.Fatalf("%s: Go: %v", pl.k.name, err)
	}
	jobs := cm[bufIn][pl.jobsAt:]
	err := csrc.Launch(pl.k.name, grid, blockSize, jobs, len(pl.jobs),
		cm[areaBuffer[pl.src]], cm[areaBuffer[pl.dst]], cm[areaBuffer[pl.tab]])
	if err != nil {
		t.Fatal(err)
	}
	for i := range goB {
		if !bytes.Equal(goB[i], cB[i]) {
			k := 0
			for goB[i][k] == cB[i][k] {
				k++
			}
			where := "inside"
			if k >= len(goB[i])-guard {
				where = "in the guard zone after"
			}
			t.Fatalf("%s: buffer %d byte %d (%s the buffer of %d): Go %d, C %d",
				pl.k.name, i, k, where, len(goB[i])-guard, goB[i][k], cB[i][k])
		}
	}
}

func TestKernelsMatchEmulator(t *testing.T) {
	r := newRand(t)
	launches := map[string]int{}
	for iter := 0; iter < 400; iter++ {
		p, err := randChain(r).Plan()
		if err != nil {
			t.Fatal(err)
		}
		batch := randBatch(r)
		l, err := p.plan(batch, randColors(r, len(batch)), false)
		if err != nil {
			continue // a crop that misses an image, or too many planes for grey images
		}
		in := make([]byte, l.sizes.In)
		if err := l.pack(batch, in); err != nil {
			t.Fatal(err)
		}
		goB := newBuffers(r, l, in)
		cB := goB.clone()
		for _, pl := range l.launches {
			grid := 0
			if r.IntN(8) == 0 {
				grid = r.IntN(pl.grid + 1) // a grid that misses some pixels
			}
			runBoth(t, pl, grid, goB, cB)
			launches[pl.k.name]++
		}
	}
	for _, name := range Names() {
		if launches[name] == 0 {
			t.Errorf("no chain launched %s", name)
		}
	}
	t.Logf("launches compared: %v", launches)
}

// TestKernelsMatchEmulatorOnLargerImages runs fewer, larger images, with extreme scale
// factors.
func TestKernelsMatchEmulatorOnLargerImages(t *testing.T) {
	r := newRand(t)
	chains := []Chain{
		NewChain().Resize(1, 1, raster.Lanczos3),
		NewChain().Resize(997, 3, raster.CatmullRom),
		NewChain().ResizeShorter(17, raster.Linear).CenterCrop(15, 13).FlipH().Normalize(ImageNet),
		NewChain().Orient(raster.Rotate90).ResizeFit(60, 60, raster.Box).Sharpen(1.2, 0.8, 2),
		NewChain().Blur(4.5).Grey(),
		NewChain().ToSRGB().ResizeFit(40, 40, raster.Lanczos3),
		NewChain().ToSRGB().Blur(1),
	}
	for _, c := range chains {
		p, err := c.Plan()
		if err != nil {
			t.Fatal(err)
		}
		batch := []raster.Image{randImage(r, 1+r.IntN(300), 1+r.IntN(200), 3), randImage(r, 251, 1, 4), randImage(r, 1, 97, 1)}
		l, err := p.plan(batch, []*ColorMap{randColorMap(r), nil, randColorMap(r)}, false)
		if err != nil {
			t.Fatal(err)
		}
		in := make([]byte, l.sizes.In)
		if err := l.pack(batch, in); err != nil {
			t.Fatal(err)
		}
		goB := newBuffers(r, l, in)
		cB := goB.clone()
		for _, pl := range l.launches {
			runBoth(t, pl, 0, goB, cB)
		}
	}
}
