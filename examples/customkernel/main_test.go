package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/internal/ptxcheck"

	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/internal/samples"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/walk"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// reference is the vignette computed directly on an image: for each pixel, its squared
// distance from the centre over the squared half-diagonal, both in half pixels.
func reference(src raster.Image, strength int) raster.Image {
	dst, _ := raster.NewImage(src.Width, src.Height, src.Channels)
	w, h := int64(src.Width), int64(src.Height)
	for y := range src.Height {
		for x := range src.Width {
			dx, dy := 2*int64(x)+1-w, 2*int64(y)+1-h
			gain := 256 - int64(strength)*(dx*dx+dy*dy)/(w*w+h*h)
			for c := range src.Channels {
				v := int64(src.Pix[y*src.Stride+x*src.Channels+c])
				if c < 3 || src.Channels != 4 { // alpha is copied
					v = (v*gain + 128) >> 8
				}
				dst.Pix[y*dst.Stride+x*dst.Channels+c] = byte(v)
			}
		}
	}
	return dst
}

// TestVignetteFiles runs the example on sample files, writing PNG so that nothing is lost,
// and compares every output with the reference on the decoded input.
func TestVignetteFiles(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	inputs, err := samples.Write(in, samples.Options{Count: 5, Width: 48, Height: 36, Seed: 9,
		Formats: []string{"jpeg", "png"}, Folders: []string{"", "sub"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "broken.png"), []byte("not a PNG"), 0o644); err != nil {
		t.Fatal(err)
	}
	dev := newDevice(t)
	cfg := config{In: in, Out: out, Strength: 200, Format: imageio.PNG, Batch: 2}

	res, err := vignette(context.Background(), dev, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Written) != 5 || len(res.Failures) != 1 || !strings.Contains(res.Failures[0].Error(), "broken.png") {
		t.Fatalf("%d written, failures %v; want 5 written and broken.png failed", len(res.Written), res.Failures)
	}
	for _, path := range inputs {
		rel, _ := filepath.Rel(in, path)
		src, err := (&imageio.Decoder{}).Decode(context.Background(), walk.File{Root: in, Rel: rel})
		if err != nil {
			t.Fatal(err)
		}
		got := decodeFile(t, filepath.Join(out, strings.TrimSuffix(rel, filepath.Ext(rel))+".png"))
		if !bytes.Equal(pixels(got), reference(src.Image, cfg.Strength).Pix) {
			t.Errorf("%s: the output differs from the reference", rel)
		}
	}
}

// TestVignetteWork drives the Work through engine.Stage on batches of grey, RGB and RGBA
// images with padded rows and odd sizes, from one pixel to 257×190, and checks every result,
// in order, against the reference.
func TestVignetteWork(t *testing.T) {
	dev := newDevice(t)
	work, err := newVignetteWork(256)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var batches [][]*imageio.Decoded
	var want []raster.Image
	for i := range 6 {
		var b []*imageio.Decoded
		for j := range 3 {
			src := randomImage(r, 1+r.IntN(40), 1+r.IntN(30), []int{1, 3, 4}[(i+j)%3])
			b = append(b, &imageio.Decoded{Image: src, File: walk.File{Rel: fmt.Sprintf("%d-%d", i, j)}})
			want = append(want, reference(src, 256))
		}
		batches = append(batches, b)
	}
	// One image large enough for ParallelFor to split its threads between goroutines.
	big := randomImage(r, 257, 190, 3)
	batches = append(batches, []*imageio.Decoded{{Image: big, File: walk.File{Rel: "big"}}})
	want = append(want, reference(big, 256))

	p := pipeline.New()
	done := engine.Stage(pipeline.FromSlice(p, batches), []gpu.Device{dev}, work, engine.Options{Slots: 2})
	got := pipeline.Collect(pipeline.Unbatch(done))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got.Value()) != len(want) {
		t.Fatalf("%d images out, %d in", len(got.Value()), len(want))
	}
	for i, v := range got.Value() {
		if !bytes.Equal(v.Image.Pix, want[i].Pix) {
			t.Errorf("image %s (%d×%d, %d channels): differs from the reference",
				v.Label(), want[i].Width, want[i].Height, want[i].Channels)
		}
	}
}

// TestVignetteHostGrid launches the Go implementation on grids that cover less of the image
// than it holds, and more: only the pixels of threads that exist change, as on a GPU.
func TestVignetteHostGrid(t *testing.T) {
	dev := newDevice(t)
	if err := errRegister; err != nil {
		t.Fatal(err)
	}
	k, err := dev.Kernel(kernelName)
	if err != nil {
		t.Fatal(err)
	}
	const w, h, c = 37, 21, 3
	src := randomImage(rand.New(rand.NewPCG(3, 4)), w, h, c)
	full := reference(src, 200)
	for _, blocks := range []gpu.Dim3{{X: 1, Y: 1}, {X: 2, Y: 1}, {X: 3, Y: 2}} {
		got := runOnce(t, dev, k, src, gpu.Dim3{X: 16, Y: 16}, blocks, 200)
		for y := range h {
			for x := range w {
				covered := x < 16*blocks.X && y < 16*blocks.Y
				for ch := range c {
					i := (y*w+x)*c + ch
					want := byte(0) // the output buffer's zeros, where no thread ran
					if covered {
						want = full.Pix[i]
					}
					if got[i] != want {
						t.Fatalf("grid %v: pixel (%d, %d) is %d, want %d", blocks, x, y, got[i], want)
					}
				}
			}
		}
	}
}

// runOnce uploads src packed, launches the kernel once on grid×block and returns the output.
func runOnce(t *testing.T, dev gpu.Device, k gpu.Kernel, src raster.Image, block, grid gpu.Dim3, strength int) []byte {
	t.Helper()
	packed := pixels(src)
	n := len(packed)
	hostIn, err := dev.AllocHost(n)
	if err != nil {
		t.Fatal(err)
	}
	defer hostIn.Free()
	hostOut, err := dev.AllocHost(n)
	if err != nil {
		t.Fatal(err)
	}
	defer hostOut.Free()
	in, err := dev.AllocDevice(n)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Free()
	out, err := dev.AllocDevice(n)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Free()
	copy(hostIn.Bytes(), packed)
	s, err := dev.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, err := range []error{
		s.CopyHtoD(in, 0, hostIn, 0, n),
		s.CopyHtoD(out, 0, hostOut, 0, n), // zeros: what no thread writes stays 0
		s.Launch(k, grid, block, gpu.Ptr(in, 0), gpu.Ptr(out, 0), gpu.Int32(int32(src.Width)),
			gpu.Int32(int32(src.Height)), gpu.Int32(int32(src.Channels)), gpu.Int32(int32(strength))),
		s.CopyDtoH(hostOut, 0, out, 0, n),
		s.Synchronize(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return bytes.Clone(hostOut.Bytes())
}

func TestStrengthOutOfRange(t *testing.T) {
	for _, s := range []int{-1, 257} {
		if _, err := newVignetteWork(s); err == nil {
			t.Errorf("strength %d: no error", s)
		}
	}
}

// The embedded PTX defines the registered kernel with the six parameters of its Args,
// assembles for Hopper (sm_90), and is what vignette.go's go:generate line makes of
// vignette.cu.
func TestPTXHasTheKernel(t *testing.T) { ptxcheck.HasEntry(t, vignettePTX, kernelName, 6) }
func TestPTXAssembles(t *testing.T)    { ptxcheck.Assembles(t, "vignette.ptx") }
func TestPTXIsCurrent(t *testing.T)    { ptxcheck.IsCurrent(t, "vignette.go", vignettePTX) }

func newDevice(t *testing.T) gpu.Device {
	t.Helper()
	dev, err := cpu.New(cpu.RandomDelays(3, 200*time.Microsecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	return dev
}

// randomImage is a w×h image of random bytes whose rows are padded with bytes that must not
// be read.
func randomImage(r *rand.Rand, w, h, channels int) raster.Image {
	stride := w*channels + r.IntN(5)
	img := raster.Image{Pix: make([]byte, stride*h), Width: w, Height: h, Stride: stride, Channels: channels}
	for i := range img.Pix {
		img.Pix[i] = byte(r.Uint32())
	}
	return img
}

// pixels returns img's pixels without row padding.
func pixels(img raster.Image) []byte {
	row := img.Width * img.Channels
	out := make([]byte, 0, row*img.Height)
	for y := range img.Height {
		out = append(out, img.Pix[y*img.Stride:y*img.Stride+row]...)
	}
	return out
}

func decodeFile(t *testing.T, path string) raster.Image {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := (&imageio.Decoder{}).DecodeBytes(path, data)
	if err != nil {
		t.Fatal(err)
	}
	return d.Image
}
