package kernels

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/raster"
)

// applyOps applies operations one at a time with the plain functions, with no fusion: the
// meaning of a chain.
func applyOps(ops []op, m raster.Image, cm *ColorMap) (raster.Image, *raster.Tensor, error) {
	for _, o := range ops {
		var err error
		switch o.kind {
		case opResize:
			var w, h int
			if w, h, err = o.resizeSize(m.Width, m.Height); err == nil {
				m, err = Resized(m, w, h, o.filter)
			}
		case opCrop, opCenterCrop:
			var r rect
			if r, err = o.cropRect(m.Width, m.Height); err == nil {
				m, err = m.Sub(r.x, r.y, r.w, r.h)
			}
		case opOrient:
			m, err = raster.Oriented(m, o.o)
		case opColor:
			if cm != nil {
				d, _ := raster.NewImage(m.Width, m.Height, m.Channels)
				m, err = d, ApplyColorMap(d, m, cm)
			}
		case opGrey:
			g, _ := raster.NewImage(m.Width, m.Height, 1)
			m, err = g, Grey(g, m)
		case opCurve:
			d, _ := raster.NewImage(m.Width, m.Height, m.Channels)
			m, err = d, ApplyCurve(d, m, o.curve)
		case opBlur:
			d, _ := raster.NewImage(m.Width, m.Height, m.Channels)
			m, err = d, Blur(d, m, o.sigma)
		case opSharpen:
			d, _ := raster.NewImage(m.Width, m.Height, m.Channels)
			m, err = d, Sharpen(d, m, o.sigma, o.amount, o.threshold)
		case opNormalize:
			t := raster.NewTensor(o.norm.planes(), m.Height, m.Width)
			return raster.Image{}, &t, Normalize(t, m, o.norm)
		}
		if err != nil {
			return raster.Image{}, nil, err
		}
	}
	return m, nil, nil
}

func sameTensors(a, b raster.Tensor) error {
	if a.Channels != b.Channels || a.Height != b.Height || a.Width != b.Width {
		return fmt.Errorf("%d×%d×%d vs %d×%d×%d", a.Channels, a.Height, a.Width, b.Channels, b.Height, b.Width)
	}
	for i := range a.Channels * a.Height * a.Width {
		if math.Float32bits(a.Data[i]) != math.Float32bits(b.Data[i]) {
			return fmt.Errorf("element %d: %v vs %v", i, a.Data[i], b.Data[i])
		}
	}
	return nil
}

// TestPlanEqualsUnfusedChain checks every fusion: running the plan gives exactly the bytes of
// applying its (simplified) operations one by one.
func TestPlanEqualsUnfusedChain(t *testing.T) {
	r := newRand(t)
	ran := 0
	for range 400 {
		c := randChain(r)
		p, err := c.Plan()
		if err != nil {
			t.Fatal(err)
		}
		batch := randBatch(r)
		colors := randColors(r, len(batch))
		res, err := p.RunColors(batch, colors)
		ops := simplify(expand(c.ops))
		var want []raster.Image
		var wantT []raster.Tensor
		bad := -1
		for i, m := range batch {
			im, tn, uerr := applyOps(ops, m, colorOf(colors, i))
			_, serr := p.Shape(m.Width, m.Height, m.Channels)
			if (uerr == nil) != (serr == nil) {
				t.Fatalf("%v on %d×%d×%d: unfused: %v, Output: %v", c, m.Width, m.Height, m.Channels, uerr, serr)
			}
			if uerr != nil {
				bad = i
				continue
			}
			want = append(want, im)
			if tn != nil {
				wantT = append(wantT, *tn)
			}
		}
		if bad >= 0 {
			if err == nil {
				t.Fatalf("%v: image %d fails alone, the batch does not", c, bad)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		for i, m := range batch {
			shape, _ := p.Shape(m.Width, m.Height, m.Channels)
			if wantT != nil {
				err = sameTensors(res.Tensors[i], wantT[i])
				w := wantT[i]
				if shape != (Shape{w.Width, w.Height, w.Channels, true}) {
					t.Fatalf("%v: Output %+v for a %d×%d×%d tensor", c, shape, w.Channels, w.Height, w.Width)
				}
			} else {
				err = sameImages(res.Images[i], want[i])
				w := want[i]
				if shape != (Shape{w.Width, w.Height, w.Channels, false}) {
					t.Fatalf("%v: Output %+v for a %d×%d×%d image", c, shape, w.Width, w.Height, w.Channels)
				}
			}
			if err != nil {
				t.Fatalf("%v (%s) on %d×%d×%d: %v", c, p, m.Width, m.Height, m.Channels, err)
			}
			ran++
		}
	}
	if ran < 500 {
		t.Errorf("only %d images compared", ran)
	}
}

// TestOrientMovedPastResize checks the one rewrite that is not exact: an orientation before
// a resize moves after it, which changes the order of float sums but by at most one level.
func TestOrientMovedPastResize(t *testing.T) {
	r := newRand(t)
	for range 200 {
		o := raster.Orientation(1 + r.IntN(8))
		f := allFilters[1+r.IntN(len(allFilters)-1)] // not Box, which is not moved
		w, h := randSide(r, 40), randSide(r, 40)
		c := NewChain().Orient(o).Resize(w, h, f)
		if r.IntN(2) == 0 {
			c = NewChain().Orient(o).ResizeFit(w, h, f)
		}
		m := randImage(r, randSide(r, 40), randSide(r, 40), channelCounts[r.IntN(3)])
		want, _, err := applyOps(c.ops, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := c.Plan()
		got, err := p.Run([]raster.Image{m})
		if err != nil {
			t.Fatal(err)
		}
		g := got.Images[0]
		if g.Width != want.Width || g.Height != want.Height {
			t.Fatalf("%v: %d×%d, want %d×%d", c, g.Width, g.Height, want.Width, want.Height)
		}
		for y := range g.Height {
			for x := range g.Width {
				for ch := range g.Channels {
					if want.Channels == 4 && ch < 3 && px(want, x, y, 3) < 8 {
						continue // colour of a nearly transparent pixel: see compareRef
					}
					if d := int(px(g, x, y, ch)) - int(px(want, x, y, ch)); d < -1 || d > 1 {
						t.Fatalf("%v: (%d,%d,%d) = %d, want %d", c, x, y, ch, px(g, x, y, ch), px(want, x, y, ch))
					}
				}
			}
		}
	}
}

func TestFusion(t *testing.T) {
	for _, tc := range []struct {
		c    Chain
		want []string
	}{
		{NewChain(), []string{"orient"}},
		{NewChain().ResizeShorter(256, raster.Lanczos3).CenterCrop(224, 224).FlipH().Normalize(ImageNet),
			[]string{"resample_h", "resample_v_norm"}},
		{NewChain().Orient(raster.Rotate90).ResizeFit(256, 256, raster.Linear), []string{"resample_h", "resample_v", "orient"}},
		{NewChain().Orient(raster.Rotate180).Crop(1, 1, 10, 10).Resize(5, 5, raster.Box).FlipV(), []string{"orient", "resample_h", "resample_v"}},
		{NewChain().Crop(3, 3, 50, 50).Resize(20, 20, raster.Linear).Rotate(), []string{"resample_h", "resample_v"}},
		{NewChain().FlipH().Normalize(ImageNet), []string{"normalize"}},
		{NewChain().Crop(0, 0, 5, 5), []string{"orient"}},
		{NewChain().Levels(0.1, 1, 1).Levels(0, 1.2, 1).Grey(), []string{"lut", "grey"}},
		{NewChain().FlipH().FlipH().Orient(raster.Rotate90).Orient(raster.Rotate270), []string{"orient"}},
		{NewChain().Sharpen(1, 1, 0).Normalize(ImageNet), []string{"resample_h", "resample_v", "unsharp", "normalize"}},
	} {
		p, err := tc.c.Plan()
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Launches(); !slices.Equal(got, tc.want) {
			t.Errorf("%v: launches %v, want %v", tc.c, got, tc.want)
		}
	}
}

// Rotate is Orient(Rotate180), for the fusion table.
func (c Chain) Rotate() Chain { return c.Orient(raster.Rotate180) }

func TestPlanErrors(t *testing.T) {
	for _, c := range []Chain{
		NewChain().Resize(0, 10, raster.Linear),
		NewChain().Resize(10, 10, raster.Filter(0)),
		NewChain().Normalize(ImageNet).Grey(),
		NewChain().Normalize(Norm{Mean: []float32{0, 0}, Std: []float32{1}}),
		NewChain().Normalize(Norm{Mean: []float32{0}, Std: []float32{0}}),
		NewChain().Blur(-1),
		NewChain().Sharpen(1, math.NaN(), 0),
		NewChain().Crop(-1, 0, 5, 5),
		NewChain().Orient(0),
		NewChain().Levels(0, 1, -2),
		NewChain().ResizeShorter(raster.MaxSide+1, raster.Linear),
	} {
		if _, err := c.Plan(); !errors.Is(err, ErrChain) {
			t.Errorf("%v: %v, want ErrChain", c, err)
		}
	}
	r := newRand(t)
	batch := []raster.Image{randImage(r, 3, 3, 1), randImage(r, 10, 10, 3)}
	for _, tc := range []struct {
		c  Chain
		ok bool
	}{
		{NewChain().Crop(20, 0, 5, 5), false},                                                     // misses the images
		{NewChain().ResizeShorter(raster.MaxSide, raster.Linear), false},                          // too many pixels
		{NewChain().Normalize(Norm{Mean: make([]float32, 4), Std: []float32{1, 1, 1, 1}}), false}, // 4 planes of 3 channels
		{NewChain().Grey().Normalize(ImageNet), true},                                             // a grey image fills every plane
	} {
		p, err := tc.c.Plan()
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Run(batch)
		if tc.ok != (err == nil) {
			t.Errorf("%v: %v", tc.c, err)
		}
		if err != nil && !errors.Is(err, raster.ErrImage) && !errors.Is(err, ErrChain) {
			t.Errorf("%v: %v wraps neither ErrImage nor ErrChain", tc.c, err)
		}
	}
	p, _ := NewChain().Resize(4, 4, raster.Linear).Plan()
	if _, err := p.Run([]raster.Image{{Width: 3}}); !errors.Is(err, raster.ErrImage) {
		t.Errorf("bad image: %v", err)
	}
}

// engineWork is the interface the overlap engine (package gpu/engine) drives: a Plan is
// that work for batches of *Batch and results of Output.
type engineWork[B, R any] interface {
	Sizes(b B) (gpu.Sizes, error)
	Pack(b B, host []byte) error
	Enqueue(s gpu.Stream, b B, bufs gpu.SlotBuffers) error
	Result(b B, out []byte) (R, error)
}

var _ engineWork[*Batch, Output] = (*Plan)(nil)

// slotBuffers is one slot of the engine, made by hand: host buffers for the input and the
// output, and device buffers.
type slotBuffers struct {
	in, out gpu.HostBuffer
	dev     gpu.SlotBuffers
}

func newSlot(t testing.TB, dev gpu.Device, s gpu.Sizes) (*slotBuffers, error) {
	var sl slotBuffers
	var errs []error
	allocDev := func(n int) gpu.DeviceBuffer {
		b, err := dev.AllocDevice(max(n, 1))
		errs = append(errs, err)
		return b
	}
	allocHost := func(n int) gpu.HostBuffer {
		b, err := dev.AllocHost(max(n, 1))
		errs = append(errs, err)
		return b
	}
	sl.dev = gpu.SlotBuffers{In: allocDev(s.In), Out: allocDev(s.Out), Scratch: allocDev(s.Scratch)}
	sl.in, sl.out = allocHost(s.In), allocHost(s.Out)
	t.Cleanup(func() {
		for _, b := range []interface{ Free() error }{sl.in, sl.out, sl.dev.In, sl.dev.Out, sl.dev.Scratch} {
			if b != nil {
				_ = b.Free()
			}
		}
	})
	return &sl, errors.Join(errs...)
}

// runOnDevice runs batch b through plan p as the engine would, on stream s: Sizes, Pack,
// DropPixels, upload, Enqueue, download, Synchronize. It returns the output bytes, which
// belong to the slot.
func runOnDevice(t testing.TB, dev gpu.Device, s gpu.Stream, p *Plan, b *Batch) ([]byte, error) {
	sizes, err := p.Sizes(b)
	if err != nil {
		return nil, err
	}
	sl, err := newSlot(t, dev, sizes)
	if err != nil {
		return nil, err
	}
	if err := p.Pack(b, sl.in.Bytes()[:sizes.In]); err != nil {
		return nil, err
	}
	b.DropPixels() // everything after Pack works from the layout alone
	if sizes.In > 0 {
		if err := s.CopyHtoD(sl.dev.In, 0, sl.in, 0, sizes.In); err != nil {
			return nil, err
		}
	}
	if err := p.Enqueue(s, b, sl.dev); err != nil {
		return nil, err
	}
	if sizes.Out > 0 {
		if err := s.CopyDtoH(sl.out, 0, sl.dev.Out, 0, sizes.Out); err != nil {
			return nil, err
		}
	}
	if err := s.Synchronize(); err != nil {
		return nil, err
	}
	return sl.out.Bytes()[:sizes.Out], nil
}

// sameOutput compares two outputs byte for byte.
func sameOutput(got, want Output) error {
	if len(got.Images) != len(want.Images) || len(got.Tensors) != len(want.Tensors) {
		return fmt.Errorf("%d images and %d tensors, want %d and %d", len(got.Images), len(got.Tensors), len(want.Images), len(want.Tensors))
	}
	for k := range got.Images {
		if err := sameImages(got.Images[k], want.Images[k]); err != nil {
			return fmt.Errorf("image %d: %w", k, err)
		}
	}
	for k := range got.Tensors {
		if err := sameTensors(got.Tensors[k], want.Tensors[k]); err != nil {
			return fmt.Errorf("tensor %d: %w", k, err)
		}
	}
	return nil
}

// aliases reports whether any output of o shares memory with out.
func aliases(o Output, out []byte) bool {
	if len(out) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(&out[0]))
	hi := lo + uintptr(len(out))
	in := func(b []byte) bool {
		if len(b) == 0 {
			return false
		}
		p := uintptr(unsafe.Pointer(&b[0]))
		return p < hi && p+uintptr(len(b)) > lo
	}
	for _, m := range o.Images {
		if in(m.Pix) {
			return true
		}
	}
	for _, t := range o.Tensors {
		if in(floatBytes(t.Data)) {
			return true
		}
	}
	return false
}

// TestPlanIsTheDevicesWork runs random batches through a plan on the CPU device by hand, as
// the engine does, several streams at once under random delays, and compares Result and
// Views with Run byte for byte. The batches' pixels are dropped once packed, and Result's
// outputs must not share memory with the slot.
func TestPlanIsTheDevicesWork(t *testing.T) {
	r := newRand(t)
	dev, err := cpu.New(cpu.RandomDelays(int64(r.Uint64()), 200*time.Microsecond))
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	chains := []Chain{
		NewChain().ResizeShorter(24, raster.Lanczos3).CenterCrop(20, 20).FlipH().Normalize(ImageNet),
		NewChain().Orient(raster.Rotate270).ResizeShrink(30, 20, raster.CatmullRom).Sharpen(1, 0.7, 1),
		NewChain().Blur(1.5).Levels(0.05, 1.1, 0.9).Grey().Crop(1, 1, 10, 10),
	}
	for range 5 {
		chains = append(chains, randChain(r))
	}
	ran := 0
	for ci, c := range chains {
		p, err := c.Plan()
		if err != nil {
			t.Fatal(err)
		}
		type job struct {
			want Output
			b    *Batch
		}
		var jobs []job
		for range 8 {
			imgs := make([]raster.Image, 1+r.IntN(5))
			for k := range imgs {
				imgs[k] = randImage(r, 1+randSide(r, 60), 1+randSide(r, 60), channelCounts[r.IntN(3)])
			}
			want, err := p.Run(imgs)
			if err != nil {
				continue // a chain some image cannot take: Run says so, as Sizes would
			}
			jobs = append(jobs, job{want, NewBatch(imgs)})
		}
		var wg sync.WaitGroup
		errs := make(chan error, 5*len(jobs)) // room for every error a batch reports
		for ji, jb := range jobs {
			s, err := dev.NewStream()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			wg.Go(func() {
				out, err := runOnDevice(t, dev, s, p, jb.b)
				if err != nil {
					errs <- err
					return
				}
				res, err := p.Result(jb.b, out)
				if err != nil {
					errs <- err
					return
				}
				views, err := p.Views(jb.b, out)
				if err != nil {
					errs <- err
					return
				}
				if aliases(res, out) || !aliases(views, out) && len(out) > 0 {
					errs <- fmt.Errorf("%v batch %d: Result shares the slot's memory, or Views does not", c, ji)
				}
				if err := sameOutput(res, jb.want); err != nil {
					errs <- fmt.Errorf("%v (chain %d) batch %d: Result: %w", c, ci, ji, err)
				}
				if err := sameOutput(views, jb.want); err != nil {
					errs <- fmt.Errorf("%v (chain %d) batch %d: Views: %w", c, ci, ji, err)
				}
				// The slot is reused: Result's outputs stay.
				clear(out)
				if err := sameOutput(res, jb.want); err != nil {
					errs <- fmt.Errorf("%v batch %d: Result after the slot was reused: %w", c, ji, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		ran += len(jobs)
	}
	t.Logf("%d batches", ran)
	if ran < 24 {
		t.Errorf("only %d batches ran", ran)
	}
}

// A batch keeps its layout: after Sizes its pixels may go, and Enqueue and Result still
// work; only Pack needs pixels. Another plan lays it out again.
func TestBatchLayoutIsKept(t *testing.T) {
	r := newRand(t)
	imgs := []raster.Image{randImage(r, 40, 30, 3), randImage(r, 7, 9, 4)}
	b := NewBatch(imgs)
	if b.Len() != 2 {
		t.Fatalf("Len %d", b.Len())
	}
	p := mustPlan(t, NewChain().ResizeFit(16, 16, raster.Linear))
	s1, err := p.Sizes(b)
	if err != nil {
		t.Fatal(err)
	}
	l1, _ := b.layoutFor(p)
	host := make([]byte, s1.In)
	if err := p.Pack(b, host); err != nil {
		t.Fatal(err)
	}
	b.DropPixels()
	if imgs[0].Pix == nil {
		t.Error("DropPixels changed the caller's slice")
	}
	if l2, _ := b.layoutFor(p); l2 != l1 {
		t.Error("the layout was worked out again")
	}
	if err := p.Pack(b, host); !errors.Is(err, raster.ErrImage) {
		t.Errorf("Pack without pixels: %v", err)
	}
	out, err := p.Views(b, make([]byte, s1.Out))
	if err != nil || len(out.Images) != 2 || out.Images[0].Width != 16 || out.Images[0].Height != 12 || out.Images[1].Channels != 4 {
		t.Errorf("Views after DropPixels: %+v %v", out, err)
	}
	if _, err := p.Result(b, make([]byte, s1.Out-1)); err == nil {
		t.Error("Result of a short output: no error")
	}
	other := mustPlan(t, NewChain().Resize(3, 3, raster.Box))
	if s2, err := other.Sizes(b); err != nil || s2.Out == s1.Out {
		t.Errorf("another plan: %+v %v", s2, err)
	}
	if _, err := p.Sizes(NewBatch([]raster.Image{{Width: 5, Height: 5, Channels: 2}})); !errors.Is(err, raster.ErrImage) {
		t.Errorf("a two-channel image: %v", err)
	}
}

func TestOutputViews(t *testing.T) {
	r := newRand(t)
	batch := []raster.Image{randImage(r, 40, 30, 3), randImage(r, 7, 9, 4)}
	p, _ := NewChain().ResizeFit(16, 16, raster.Linear).Plan()
	res, err := p.Run(batch)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := res.Images[0], res.Images[1]; a.Width != 16 || a.Height != 12 || b.Width != 12 || b.Height != 16 || b.Channels != 4 {
		t.Errorf("fit 16×16: %d×%d and %d×%d×%d", a.Width, a.Height, b.Width, b.Height, b.Channels)
	}
	if res.Tensors != nil {
		t.Error("an image plan made tensors")
	}
	if _, err := p.Views(NewBatch(batch), make([]byte, 10)); err == nil {
		t.Error("Views of a short output: no error")
	}
	empty, err := p.Run(nil)
	if err != nil || len(empty.Images) != 0 {
		t.Errorf("empty batch: %v, %d images", err, len(empty.Images))
	}
}

func TestResizeCoverCoversTheBox(t *testing.T) {
	for _, c := range []struct{ w, h, bw, bh, ww, wh int }{
		{400, 300, 100, 100, 133, 100}, // wide: height limits
		{300, 400, 100, 100, 100, 133}, // tall: width limits
		{400, 300, 160, 90, 160, 120},  // box wider than the image's aspect
		{1000, 10, 64, 64, 6400, 64},   // extreme: the long side grows
		{7, 5, 7, 5, 7, 5},             // same size
	} {
		p, err := NewChain().ResizeCover(c.bw, c.bh, raster.Linear).CenterCrop(c.bw, c.bh).Plan()
		if err != nil {
			t.Fatal(err)
		}
		o := op{kind: opResize, mode: sizeCover, w: c.bw, h: c.bh}
		if w, h, err := o.resizeSize(c.w, c.h); err != nil || w != c.ww || h != c.wh {
			t.Errorf("cover %dx%d in %dx%d: %dx%d %v, want %dx%d", c.w, c.h, c.bw, c.bh, w, h, err, c.ww, c.wh)
		}
		s, err := p.Shape(c.w, c.h, 3)
		if err != nil || s.Width != c.bw || s.Height != c.bh {
			t.Errorf("cover and crop %dx%d to %dx%d gives %+v %v", c.w, c.h, c.bw, c.bh, s, err)
		}
	}
}

// colorOf is colors[i], or nil when colors is.
func colorOf(colors []*ColorMap, i int) *ColorMap {
	if colors == nil {
		return nil
	}
	return colors[i]
}
