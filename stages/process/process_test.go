package process_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/process"
	"github.com/gpupipe/gpupipe/stages/walk"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// inputs makes n decoded images of random sizes and channel counts, named in-000 ….
func inputs(t *testing.T, rng *rand.Rand, n int) []*imageio.Decoded {
	t.Helper()
	ds := make([]*imageio.Decoded, n)
	for i := range ds {
		m, err := raster.NewImage(1+rng.IntN(90), 1+rng.IntN(70), []int{1, 3, 4}[rng.IntN(3)])
		if err != nil {
			t.Fatal(err)
		}
		for j := range m.Pix {
			m.Pix[j] = byte(rng.UintN(256))
		}
		ds[i] = &imageio.Decoded{Image: m, File: walk.File{Rel: fmt.Sprintf("in-%03d", i)}}
	}
	return ds
}

func devices(t *testing.T, n int, opts ...cpu.Option) []gpu.Device {
	t.Helper()
	devs := make([]gpu.Device, n)
	for i := range devs {
		d, err := cpu.New(append([]cpu.Option{cpu.Name(fmt.Sprintf("cpu%d", i))}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if live := d.Live(); live != (cpu.Live{}) {
				t.Errorf("device %d still holds %+v after the run", i, live)
			}
			d.Close()
		})
		devs[i] = d
	}
	return devs
}

// want is what plan makes of each input on the host, computed before the run releases the
// inputs' pixels.
func want(t *testing.T, plan *kernels.Plan, ds []*imageio.Decoded) []kernels.Output {
	t.Helper()
	outs := make([]kernels.Output, len(ds))
	for i, d := range ds {
		o, err := plan.Run([]raster.Image{d.Image})
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = o
	}
	return outs
}

func run(t *testing.T, ds []*imageio.Decoded, devs []gpu.Device, plan *kernels.Plan, opts process.Options) ([]process.Result, error) {
	t.Helper()
	p := pipeline.New()
	res := pipeline.Collect(process.Images(pipeline.FromSlice(p, ds), devs, plan, opts))
	err := p.Run(context.Background())
	return res.Value(), err
}

// Every result is what the plan computes on the host for its own input, in input order,
// whatever the devices' delays, batch sizes and device count; every input's pixels are
// released; every device buffer is freed.
func TestResultsMatchTheHostInOrder(t *testing.T) {
	chains := map[string]kernels.Chain{
		"images":  kernels.NewChain().ResizeFit(17, 13, raster.Lanczos3).FlipH(),
		"tensors": kernels.NewChain().ResizeFill(9, 11, raster.Linear).Normalize(kernels.ImageNet),
	}
	for name, chain := range chains {
		for _, ndev := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/%d devices", name, ndev), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(ndev), 7))
				plan, err := chain.Plan()
				if err != nil {
					t.Fatal(err)
				}
				ds := inputs(t, rng, 61)
				wants := want(t, plan, ds)
				devs := devices(t, ndev, cpu.RandomDelays(int64(ndev), 300*time.Microsecond))
				got, err := run(t, ds, devs, plan, process.Options{Batch: 1 + rng.IntN(7), Engine: engineSlots(3)})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(ds) {
					t.Fatalf("%d results for %d inputs", len(got), len(ds))
				}
				for i, r := range got {
					if r.Source != ds[i] {
						t.Fatalf("result %d comes from %s", i, r.Label())
					}
					checkResult(t, r, wants[i])
					if ds[i].Image.Pix != nil {
						t.Errorf("%s: pixels not released", ds[i].Label())
					}
				}
			})
		}
	}
}

func checkResult(t *testing.T, r process.Result, w kernels.Output) {
	t.Helper()
	if w.Tensors != nil {
		if !slices.Equal(r.Tensor.Data, w.Tensors[0].Data) || r.Image.Pix != nil {
			t.Errorf("%s: tensor differs from the host's", r.Label())
		}
		return
	}
	wi := w.Images[0]
	if r.Image.Width != wi.Width || r.Image.Height != wi.Height || r.Image.Channels != wi.Channels {
		t.Fatalf("%s: %dx%dx%d, want %dx%dx%d", r.Label(), r.Image.Width, r.Image.Height, r.Image.Channels, wi.Width, wi.Height, wi.Channels)
	}
	c, _ := wi.Clone()
	if !bytes.Equal(r.Image.Pix, c.Pix) {
		t.Errorf("%s: pixels differ from the host's", r.Label())
	}
}

// An image the chain cannot process (here, one the crop misses) fails alone, reported
// once under its own name; the others come out.
func TestBadImageFailsAlone(t *testing.T) {
	plan, err := kernels.NewChain().Crop(10, 10, 8, 8).Plan()
	if err != nil {
		t.Fatal(err)
	}
	ds := inputs(t, rand.New(rand.NewPCG(1, 2)), 20)
	bad := map[*imageio.Decoded]bool{}
	for i, d := range ds {
		if i%5 == 2 {
			d.Image, _ = raster.NewImage(4, 4, 3)
			bad[d] = true
		} else {
			d.Image, _ = raster.NewImage(20+i, 19, 3)
		}
	}
	var mu sync.Mutex
	var failed []string
	got, err := run(t, ds, devices(t, 1), plan, process.Options{Batch: 4, OnError: func(e *pipeline.StageError) {
		mu.Lock()
		defer mu.Unlock()
		failed = append(failed, e.ItemLabel())
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ds)-len(bad) || len(failed) != len(bad) {
		t.Fatalf("%d results and %d failures (%v), want %d and %d", len(got), len(failed), failed, len(ds)-len(bad), len(bad))
	}
	for _, r := range got {
		if bad[r.Source] {
			t.Errorf("%s came out", r.Label())
		}
	}
	for _, d := range ds {
		if d.Image.Pix != nil {
			t.Errorf("%s: pixels not released", d.Label())
		}
	}
}

// A batch the device cannot hold fails as one failure per image, each named, and the run
// goes on with the batches that fit.
func TestBatchFailureIsReportedPerImage(t *testing.T) {
	plan, err := kernels.NewChain().ResizeFit(8, 8, raster.Box).Plan()
	if err != nil {
		t.Fatal(err)
	}
	ds := make([]*imageio.Decoded, 12)
	for i := range ds {
		side := 16
		if i >= 4 && i < 8 {
			side = 400 // the second batch needs more than the device has
		}
		m, _ := raster.NewImage(side, side, 3)
		ds[i] = &imageio.Decoded{Image: m, File: walk.File{Rel: fmt.Sprintf("f%02d", i)}}
	}
	var failed []string
	got, err := run(t, ds, devices(t, 1, cpu.MemoryLimit(64<<10)), plan, process.Options{Batch: 4, MaxWait: time.Hour,
		OnError: func(e *pipeline.StageError) { failed = append(failed, e.ItemLabel()) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 8 || !slices.Equal(failed, []string{"f04", "f05", "f06", "f07"}) {
		t.Fatalf("%d results, failures %v; want 8 results and f04 … f07 failed", len(got), failed)
	}
}

// Without OnError the first failure stops the run with an error that names the image.
func TestFailFastNamesTheImage(t *testing.T) {
	plan, _ := kernels.NewChain().Crop(10, 10, 8, 8).Plan()
	ds := inputs(t, rand.New(rand.NewPCG(3, 4)), 10)
	for _, d := range ds {
		d.Image, _ = raster.NewImage(20, 20, 3)
	}
	ds[6].Image, _ = raster.NewImage(3, 3, 1)
	_, err := run(t, ds, devices(t, 1), plan, process.Options{Batch: 3})
	var se *pipeline.StageError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "in-006") || !errors.Is(err, raster.ErrImage) {
		t.Fatalf("Run returned %v, want a StageError naming in-006", err)
	}
}

// A run cancelled midway ends promptly, leaks no goroutine (TestMain checks) and frees every
// device buffer (devices checks).
func TestCancelledRunEnds(t *testing.T) {
	plan, _ := kernels.NewChain().ResizeFit(16, 16, raster.Lanczos3).Plan()
	for i := range 20 {
		rng := rand.New(rand.NewPCG(uint64(i), 9))
		ds := inputs(t, rng, 40)
		devs := devices(t, 2, cpu.RandomDelays(int64(i), time.Millisecond))
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(20))*time.Millisecond)
		p := pipeline.New()
		pipeline.Discard(process.Images(pipeline.FromSlice(p, ds), devs, plan, process.Options{Batch: 4}))
		err := p.Run(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("run %d: %v", i, err)
		}
	}
}

func engineSlots(n int) engine.Options { return engine.Options{Slots: n} }

// Each image goes through its own colour map (Options.Color), shared or not, or none, in
// batches that mix them.
func TestColorMapsPerImage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	plan, err := kernels.NewChain().ToSRGB().ResizeFit(19, 15, raster.CatmullRom).Plan()
	if err != nil {
		t.Fatal(err)
	}
	maps := make([]*kernels.ColorMap, 2)
	for i := range maps {
		var curves [3][256]float64
		for ch := range curves {
			for v := range curves[ch] {
				curves[ch][v] = float64(v) / 255 * float64(2+i) / 3
			}
		}
		if maps[i], err = kernels.NewColorMap(&curves, [3][3]float64{{0.2, 0.8, 0}, {0, 1, 0}, {0.5, 0, 0.6}}); err != nil {
			t.Fatal(err)
		}
	}
	ds := inputs(t, rng, 23)
	colors := map[*imageio.Decoded]*kernels.ColorMap{}
	wants := make([]kernels.Output, len(ds))
	for i, d := range ds {
		if k := i % 3; k < 2 {
			colors[d] = maps[k]
		}
		o, err := plan.RunColors([]raster.Image{d.Image}, []*kernels.ColorMap{colors[d]})
		if err != nil {
			t.Fatal(err)
		}
		wants[i] = o
	}
	got, err := run(t, ds, devices(t, 2), plan, process.Options{Batch: 4,
		Color: func(d *imageio.Decoded) *kernels.ColorMap { return colors[d] }})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		checkResult(t, r, wants[i])
	}
}
