//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Every image kernel of package kernels, run on the GPU, against its Go implementation.

// imageChains launch, between them, every kernel of package kernels (TestImageKernelsMatchHost
// checks that they do). Every chain accepts images of 3 and 4 channels.
var imageChains = []kernels.Chain{
	kernels.NewChain().Resize(97, 61, raster.Lanczos3),
	kernels.NewChain().ResizeFit(64, 80, raster.CatmullRom).Sharpen(1.2, 0.8, 3),
	kernels.NewChain().ResizeShrink(50, 50, raster.Box).FlipV(),
	kernels.NewChain().Orient(raster.Transpose).Grey(),
	kernels.NewChain().Orient(raster.Rotate270),
	kernels.NewChain().Levels(0.1, 1.2, 0.9).Blur(1.5),
	kernels.NewChain().ResizeShorter(48, raster.Linear).CenterCrop(40, 40).FlipH().Normalize(kernels.ImageNet),
	kernels.NewChain().Crop(0, 0, 50, 40).Normalize(kernels.Norm{Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.5, 2}, Mirror: true}),
	kernels.NewChain().ToSRGB().ResizeFit(70, 50, raster.Lanczos3),
	kernels.NewChain().ToSRGB().Blur(1),
}

// randomColors gives the images of a batch colour maps: a gamma 2.2 wide-gamut map, a second
// map, or none, so that ToSRGB meets shared, distinct and absent maps in one launch.
func randomColors(r *rand.Rand, n int) []*kernels.ColorMap {
	maps := make([]*kernels.ColorMap, 2)
	for i := range maps {
		var curves [3][256]float64
		g := 1.8 + 0.4*float64(i)
		for ch := range curves {
			for b := range curves[ch] {
				curves[ch][b] = math.Pow(float64(b)/255, g)
			}
		}
		m := [3][3]float64{{1.2249, -0.2247, 0}, {-0.0420, 1.0419, 0}, {-0.0197, -0.0786, 1.0979}}
		cm, err := kernels.NewColorMap(&curves, m)
		if err != nil {
			panic(err)
		}
		maps[i] = cm
	}
	cs := make([]*kernels.ColorMap, n)
	for i := range cs {
		if k := r.Intn(3); k < 2 {
			cs[i] = maps[k]
		}
	}
	return cs
}

// randomBatch makes n images of random sizes, channels (3 or 4), row padding and pixels.
func randomBatch(r *rand.Rand, n, maxSide int) []raster.Image {
	b := make([]raster.Image, n)
	for i := range b {
		w, h, c := 1+r.Intn(maxSide), 1+r.Intn(maxSide), 3+r.Intn(2)
		stride := w*c + r.Intn(5)
		m := raster.Image{Pix: make([]byte, stride*h), Width: w, Height: h, Stride: stride, Channels: c}
		r.Read(m.Pix)
		b[i] = m
	}
	return b
}

// onDevice runs one batch through p on the GPU as the overlap engine does: upload, the
// plan's launches, download.
func onDevice(t testing.TB, d *Device, s gpu.Stream, p *kernels.Plan, b *kernels.Batch) []byte {
	t.Helper()
	sz, err := p.Sizes(b)
	must(t, err)
	in, out := allocHost(t, d, sz.In, Pinned), allocHost(t, d, sz.Out, Pinned)
	bufs := gpu.SlotBuffers{In: allocDevice(t, d, sz.In), Out: allocDevice(t, d, sz.Out)}
	if sz.Scratch > 0 {
		bufs.Scratch = allocDevice(t, d, sz.Scratch)
	}
	must(t, p.Pack(b, in.Bytes()))
	must(t, s.CopyHtoD(bufs.In, 0, in, 0, sz.In))
	must(t, p.Enqueue(s, b, bufs))
	must(t, s.CopyDtoH(out, 0, bufs.Out, 0, sz.Out))
	must(t, s.Synchronize())
	return append([]byte(nil), out.Bytes()...)
}

func TestImageKernelsMatchHost(t *testing.T) {
	d := openTest(t)
	s := newStream(t, d)
	r := rand.New(rand.NewSource(42))
	launched := map[string]bool{}
	for _, c := range imageChains {
		p, err := c.Plan()
		must(t, err)
		for _, k := range p.Launches() {
			launched[k] = true
		}
		for round := range 3 {
			b := randomBatch(r, 1+r.Intn(6), 300)
			colors := randomColors(r, len(b))
			kb, err := kernels.NewColorBatch(b, colors)
			must(t, err)
			got := onDevice(t, d, s, p, kb)
			want, err := p.RunColors(b, colors)
			must(t, err)
			if err := sameOutput(p, kb, got, want); err != nil {
				t.Errorf("%v, round %d: %v", p, round, err)
			}
		}
	}
	for _, k := range kernels.Names() {
		if !launched[k] {
			t.Errorf("kernel %s is launched by none of the test chains: add one", k)
		}
	}
}

// sameOutput compares the device's output bytes, decoded by the plan, with the host's.
func sameOutput(p *kernels.Plan, b *kernels.Batch, got []byte, want kernels.Output) error {
	res, err := p.Result(b, got)
	if err != nil {
		return err
	}
	if p.Tensor() {
		ts := res.Tensors
		for i := range ts {
			if j := firstDiff(ts[i].Data, want.Tensors[i].Data); j >= 0 {
				return fmt.Errorf("tensor %d element %d: device %v, Go %v", i, j, ts[i].Data[j], want.Tensors[i].Data[j])
			}
		}
		return nil
	}
	for i, m := range res.Images {
		wm := want.Images[i]
		if m.Width != wm.Width || m.Height != wm.Height || m.Channels != wm.Channels {
			return fmt.Errorf("image %d: device %dx%dx%d, Go %dx%dx%d", i, m.Width, m.Height, m.Channels, wm.Width, wm.Height, wm.Channels)
		}
		row := m.Width * m.Channels
		for y := range m.Height {
			g, w := m.Pix[y*m.Stride:][:row], wm.Pix[y*wm.Stride:][:row]
			if j := firstDiff(g, w); j >= 0 {
				return fmt.Errorf("image %d (%dx%dx%d) row %d byte %d: device %d, Go %d", i, m.Width, m.Height, m.Channels, y, j, g[j], w[j])
			}
		}
	}
	return nil
}

// firstDiff is the first index where a and b differ, bit for bit, or -1.
func firstDiff[T byte | float32](a, b []T) int {
	for i := range min(len(a), len(b)) {
		if bits(a[i]) != bits(b[i]) {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func bits[T byte | float32](v T) uint32 {
	if f, ok := any(v).(float32); ok {
		return math.Float32bits(f)
	}
	return uint32(v)
}

// benchChains are typical per-image work, each named by what it does.
var benchChains = []struct {
	name  string
	chain kernels.Chain
}{
	{"grey", kernels.NewChain().Grey()},
	{"levels", kernels.NewChain().Levels(0.05, 1.1, 0.9)},
	{"rotate90", kernels.NewChain().Orient(raster.Rotate90)},
	{"normalize", kernels.NewChain().Normalize(kernels.ImageNet)},
	{"resize half lanczos3", kernels.NewChain().Resize(960, 540, raster.Lanczos3)},
	{"resize 224 crop normalize", kernels.NewChain().ResizeShorter(256, raster.Linear).CenterCrop(224, 224).Normalize(kernels.ImageNet)},
	{"blur 2", kernels.NewChain().Blur(2)},
	{"sharpen", kernels.NewChain().Sharpen(1, 0.6, 2)},
}

// BenchmarkImageKernels measures each chain's launches on a batch of 16 1920×1080 RGB
// images (2 of 240×136 with GPUPIPE_BENCH_SMALL=1), timed with events, and its achieved bandwidth: the bytes it must move at least
// (input read once, scratch written and read once, output written once) over its time,
// against the device's copy bandwidth measured in the same run.
func BenchmarkImageKernels(b *testing.B) {
	d := openTest(b)
	ceiling := deviceCopyRate(b, d)
	record(d, measurement{Group: "kernels", Name: "device copy ceiling", Value: ceiling, Unit: "GB/s",
		Note: "cuMemcpyDtoDAsync " + mib(benchSize(256<<20)) + ", read + write"})
	n, w, h := 16, 1920, 1080
	if smallBenchmarks {
		n, w, h = 2, 240, 136
	}
	batch := make([]raster.Image, n)
	for i := range batch {
		m, err := raster.NewImage(w, h, 3)
		must(b, err)
		rand.New(rand.NewSource(int64(i))).Read(m.Pix)
		batch[i] = m
	}
	for _, c := range benchChains {
		b.Run(c.name, func(b *testing.B) {
			benchChain(b, d, c.name, c.chain, batch, ceiling)
		})
	}
}

func benchChain(b *testing.B, d *Device, name string, c kernels.Chain, batch []raster.Image, ceiling float64) {
	p, err := c.Plan()
	must(b, err)
	kb := kernels.NewBatch(batch)
	sz, err := p.Sizes(kb)
	must(b, err)
	s := newStream(b, d)
	in := allocHost(b, d, sz.In, Pinned)
	bufs := gpu.SlotBuffers{In: allocDevice(b, d, sz.In), Out: allocDevice(b, d, sz.Out)}
	if sz.Scratch > 0 {
		bufs.Scratch = allocDevice(b, d, sz.Scratch)
	}
	must(b, p.Pack(kb, in.Bytes()))
	must(b, s.CopyHtoD(bufs.In, 0, in, 0, sz.In))
	tm := newTimer(b, d, s)
	one := func() error { return p.Enqueue(s, kb, bufs) }
	tm.time(b, one)
	bytes := int64(sz.In) + 2*int64(sz.Scratch) + int64(sz.Out)
	b.SetBytes(bytes)
	b.ResetTimer()
	el := tm.time(b, repeat(b.N, one))
	b.StopTimer()
	per := el / time.Duration(b.N)
	rate := gbps(bytes*int64(b.N), el)
	b.ReportMetric(rate, "GB/s")
	b.ReportMetric(100*rate/ceiling, "%copy")
	record(d, measurement{Group: "kernels", Name: fmt.Sprintf("%s (%d×%dx%d RGB)", name, len(batch), batch[0].Width, batch[0].Height), Value: rate, Unit: "GB/s",
		Note: fmt.Sprintf("%.0f%% of copy; %.3f ms per batch: %s", 100*rate/ceiling, ms(per), perLaunch(b, d, s, p, kb, bufs))})
}

// launchClock is a stream that records an event after every launch, so that one Enqueue of
// a plan can be split into the device times of its launches.
type launchClock struct {
	gpu.Stream
	d      *Device
	events []gpu.Event
	names  []string
}

func (c *launchClock) Launch(k gpu.Kernel, grid, block gpu.Dim3, args ...gpu.Arg) error {
	if err := c.Stream.Launch(k, grid, block, args...); err != nil {
		return err
	}
	e, err := c.d.NewEvent()
	if err != nil {
		return err
	}
	c.events = append(c.events, e)
	c.names = append(c.names, k.Name())
	return c.Stream.Record(e)
}

// perLaunch runs one batch with a launchClock and describes each launch's device time.
func perLaunch(b *testing.B, d *Device, s gpu.Stream, p *kernels.Plan, batch *kernels.Batch, bufs gpu.SlotBuffers) string {
	start := newEvent(b, d)
	clock := &launchClock{Stream: s, d: d}
	must(b, s.Record(start))
	must(b, p.Enqueue(clock, batch, bufs))
	must(b, s.Synchronize())
	parts := make([]string, len(clock.events))
	prev := start
	for i, e := range clock.events {
		el, err := prev.Elapsed(e)
		must(b, err)
		parts[i] = fmt.Sprintf("%s %.3f ms", clock.names[i], ms(el))
		prev = e
	}
	for _, e := range clock.events {
		must(b, e.Close())
	}
	return strings.Join(parts, ", ")
}

// deviceCopyRate measures device memory bandwidth (bytes read + written per second) with a
// device→device copy of 256 MiB.
func deviceCopyRate(b *testing.B, d *Device) float64 {
	size := benchSize(256 << 20)
	src, dst := allocDevice(b, d, size), allocDevice(b, d, size)
	s := newStream(b, d)
	tm := newTimer(b, d, s)
	one := func() error { return s.CopyDtoD(dst, 0, src, 0, size) }
	tm.time(b, one)
	return gbps(2*int64(size)*10, tm.time(b, repeat(10, one)))
}
