package imagebatch_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/internal/samples"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/imagebatch"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// Images of several sizes go through the device in batches; each output must be what the
// plan computes on the host for its own input, though the inputs' pixels are released as
// soon as they are uploaded.
func TestBatchesThroughTheDevice(t *testing.T) {
	dev, err := cpu.New(cpu.RandomDelays(3, 200*time.Microsecond))
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	plan, err := kernels.NewChain().ResizeFit(20, 20, raster.Lanczos3).Grey().Plan()
	if err != nil {
		t.Fatal(err)
	}
	pool := &imageio.Pool{}
	var inputs []*imageio.Decoded
	var want []raster.Image
	for i := range 11 {
		img, err := samples.Image(5, i, 30+7*i, 25+3*i)
		if err != nil {
			t.Fatal(err)
		}
		pix := pool.Get(len(img.Pix))
		copy(pix, img.Pix)
		img.Pix = pix
		res, err := plan.Run([]raster.Image{img})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, res.Images[0])
		inputs = append(inputs, &imageio.Decoded{Image: img})
	}

	p := pipeline.New()
	batches := pipeline.Map(pipeline.Batch(pipeline.FromSlice(p, inputs), 3, 0), imagebatch.New)
	w, err := imagebatch.Bind(plan)(dev)
	if err != nil {
		t.Fatal(err)
	}
	done := gpu.Stage(batches, dev, w, gpu.EngineOptions{Slots: 2})
	var got []raster.Image
	pipeline.ForEach(done, func(_ context.Context, d *gpu.Done[*imagebatch.Batch]) error {
		defer d.Release()
		for _, im := range d.Batch.Images {
			if im.Pix != nil {
				t.Error("a batch came out with its input pixels still held")
			}
		}
		outs, err := imagebatch.Work{Plan: plan}.Result(d.Batch, d.Out)
		if err != nil {
			return err
		}
		got = append(got, outs.Images...)
		return nil
	})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d outputs, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Width != want[i].Width || got[i].Height != want[i].Height || !bytes.Equal(got[i].Pix, want[i].Pix) {
			t.Errorf("output %d differs from the host computation", i)
		}
	}
}

func TestReleaseOnceAndLabel(t *testing.T) {
	pool := &imageio.Pool{}
	decoded := func(name string) *imageio.Decoded {
		img := raster.Image{Pix: pool.Get(12), Width: 2, Height: 2, Stride: 6, Channels: 3}
		return &imageio.Decoded{Image: img, File: walk.File{Root: "in", Rel: name}}
	}
	b, _ := imagebatch.New(context.Background(), []*imageio.Decoded{decoded("a.jpg"), decoded("b.jpg"), decoded("c.jpg")})
	if l := b.Label(); l != "3 images, in/a.jpg … in/c.jpg" {
		t.Errorf("label %q", l)
	}
	b.Release()
	b.Release() // a second release must not give the buffers to the pool twice
	if b.Images[0].Pix != nil || b.Images[0].Width != 2 || b.Files[1].Image.Pix != nil {
		t.Errorf("after Release: %+v", b.Images[0])
	}
	one, _ := imagebatch.New(context.Background(), []*imageio.Decoded{decoded("x.png")})
	empty, _ := imagebatch.New(context.Background(), nil)
	if one.Label() != "in/x.png" || empty.Label() != "empty batch" {
		t.Errorf("labels %q and %q", one.Label(), empty.Label())
	}
}

// Decode refuses, alone and before batching, an image the plan cannot make an output of.
func TestDecodeChecksThePlan(t *testing.T) {
	dir := t.TempDir()
	paths, err := samples.Write(dir, samples.Options{Count: 2, Width: 40, Height: 30, Formats: []string{"png"}})
	if err != nil || len(paths) != 2 {
		t.Fatal(paths, err)
	}
	small := walk.File{Root: dir, Rel: filepath.Base(paths[0])}
	inside, err := kernels.NewChain().Crop(10, 10, 5, 5).Plan()
	if err != nil {
		t.Fatal(err)
	}
	outside, err := kernels.NewChain().Crop(100, 100, 5, 5).Plan()
	if err != nil {
		t.Fatal(err)
	}
	dec := &imageio.Decoder{Pool: &imageio.Pool{}}
	d, err := imagebatch.Decode(dec, inside)(context.Background(), small)
	if err != nil || d.Image.Width != 40 {
		t.Fatalf("a crop inside the image: %v", err)
	}
	imagebatch.ReleaseItem(d)
	if d.Image.Pix != nil {
		t.Error("ReleaseItem left the pixels with the item")
	}
	imagebatch.ReleaseItem("not an image") // other items are left alone
	if _, err := imagebatch.Decode(dec, outside)(context.Background(), small); err == nil || !strings.Contains(err.Error(), small.Label()) {
		t.Errorf("a crop outside the image: %v, want an error naming %s", err, small.Label())
	}
}
