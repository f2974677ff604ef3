package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/walk"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// writePNGs writes n random PNGs of random sizes, some grey, some with alpha.
func writePNGs(t *testing.T, dir string, n int, seed uint64) []string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	var names []string
	for i := range n {
		w, h := 1+r.IntN(90), 1+r.IntN(90)
		var m image.Image
		switch i % 3 {
		case 0:
			g := image.NewGray(image.Rect(0, 0, w, h))
			fill(r, g.Pix)
			m = g
		case 1:
			c := image.NewNRGBA(image.Rect(0, 0, w, h))
			fill(r, c.Pix)
			m = c
		default:
			c := image.NewRGBA(image.Rect(0, 0, w, h))
			fill(r, c.Pix)
			for j := 3; j < len(c.Pix); j += 4 {
				c.Pix[j] = 255
			}
			m = c
		}
		name := fmt.Sprintf("d%d/i%03d.png", i%2, i)
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

func fill(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
}

func cpuDevice(t *testing.T, opts ...cpu.Option) gpu.Device {
	t.Helper()
	dev, err := cpu.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	return dev
}

func mustChain(t *testing.T, text string) kernels.Chain {
	t.Helper()
	c, err := kernels.ParseChain(text)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Every output must be exactly what the chain computes on the host for its own input: a
// file mixed up with another, or a slot reused too early under the device's random delays,
// shows as a difference.
func TestOutputsMatchTheHostComputation(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	names := writePNGs(t, in, 40, 1)
	ops := mustChain(t, "fit=24x20,sharpen=1:0.7,fliph")
	dev := cpuDevice(t, cpu.RandomDelays(7, 300*time.Microsecond))
	rep, err := Run(context.Background(), Config{
		Inputs: []string{in}, Output: out, Chain: ops, Format: "png", Devices: []gpu.Device{dev},
		Batch: 3, Slots: 3, DecodeWorkers: 3, EncodeWorkers: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.Done != int64(len(names)) || rep.Counts.Failed != 0 {
		t.Fatalf("counts %+v, failures %v", rep.Counts, rep.Failures)
	}
	plan, err := ops.Plan()
	if err != nil {
		t.Fatal(err)
	}
	dec := &imageio.Decoder{}
	for _, name := range names {
		src, err := dec.Decode(context.Background(), walk.File{Root: in, Rel: name})
		if err != nil {
			t.Fatal(err)
		}
		want, err := plan.Run([]raster.Image{src.Image})
		if err != nil {
			t.Fatal(err)
		}
		got := readPNG(t, filepath.Join(out, strings.TrimSuffix(name, ".png")+".png"))
		if !sameImage(got, want.Images[0]) {
			t.Errorf("%s: the output differs from the host computation", name)
		}
	}
}

func readPNG(t *testing.T, path string) raster.Image {
	t.Helper()
	dec := &imageio.Decoder{}
	d, err := dec.Decode(context.Background(), walk.File{Root: filepath.Dir(path), Rel: filepath.Base(path)})
	if err != nil {
		t.Fatal(err)
	}
	return d.Image
}

func sameImage(a, b raster.Image) bool {
	if a.Width != b.Width || a.Height != b.Height || a.Channels != b.Channels {
		return false
	}
	row := a.Width * a.Channels
	for y := range a.Height {
		if !bytes.Equal(a.Pix[y*a.Stride:y*a.Stride+row], b.Pix[y*b.Stride:y*b.Stride+row]) {
			return false
		}
	}
	return true
}

func TestDeviceFaultStopsTheRunAndNamesTheBatch(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	writePNGs(t, in, 30, 3)
	dev := cpuDevice(t, cpu.FailLaunch(5))
	_, err := Run(context.Background(), Config{
		Inputs: []string{in}, Output: out, Chain: mustChain(t, "fit=16"), Format: "png",
		Devices: []gpu.Device{dev}, Batch: 4,
	})
	var be *engine.BatchError
	if !errors.As(err, &be) || !errors.Is(err, gpu.ErrDevice) || !strings.Contains(err.Error(), "launch") {
		t.Fatalf("Run returned %v, want a device fault naming the batch and the launch", err)
	}
	if !strings.Contains(err.Error(), "images, ") {
		t.Errorf("error %q does not name the batch's files", err)
	}
}

func TestCancelledRunLeavesNoPartialFiles(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	writePNGs(t, in, 60, 4)
	ctx, cancel := context.WithCancel(context.Background())
	dev := cpuDevice(t, cpu.RandomDelays(1, time.Millisecond))
	go func() { time.Sleep(30 * time.Millisecond); cancel() }()
	rep, err := Run(ctx, Config{
		Inputs: []string{in}, Output: out, Chain: mustChain(t, "fit=40"), Format: "png",
		Devices: []gpu.Device{dev}, Batch: 2, DecodeWorkers: 1, EncodeWorkers: 1,
	})
	if !errors.Is(err, context.Canceled) || !rep.Interrupted {
		t.Fatalf("Run returned %v (interrupted %v)", err, rep.Interrupted)
	}
	filepath.WalkDir(out, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("partial file %s", path)
		}
		return nil
	})
}

func TestTensorShardsNeedAFixedSize(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	writePNGs(t, in, 2, 5)
	_, err := Run(context.Background(), Config{
		Inputs: []string{in}, Output: out, Chain: mustChain(t, "fit=32,normalize=imagenet"),
		Tensors: &Tensors{Layout: 1}, Devices: []gpu.Device{cpuDevice(t)},
	})
	if err == nil || !strings.Contains(err.Error(), "one output size") {
		t.Fatalf("Run returned %v, want an error about the output size", err)
	}
}
