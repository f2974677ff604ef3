package process_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/process"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// gpuLike is the CPU device saying it is a GPU, so that the stage reserves for it.
type gpuLike struct{ *cpu.Device }

func (gpuLike) Kind() string { return "cuda" }

// On a GPU, slots are sized up front for camera photos decoded at the plan's smallest size:
// a run of such photos never grows a slot. On the CPU device nothing is reserved.
func TestGPUSlotsAreReservedForPhotos(t *testing.T) {
	plan, err := kernels.NewChain().ResizeFit(256, 256, raster.Lanczos3).Plan()
	if err != nil {
		t.Fatal(err)
	}
	r := process.Reserve(plan, 4)
	if r.In < 4*750*500*3 || r.In > 8<<20 || r.Out == 0 {
		t.Fatalf("Reserve(fit 256, 4) = %+v, want room for four 750x500 RGB images and their outputs", r)
	}
	if full, _ := kernels.NewChain().Grey().Plan(); process.Reserve(full, 16) != (gpu.Sizes{}) {
		t.Errorf("a chain that keeps 24 MP images reserved %+v, want nothing", process.Reserve(full, 16))
	}
	for _, kind := range []string{"cpu", "cuda"} {
		d, err := cpu.New()
		if err != nil {
			t.Fatal(err)
		}
		var dev gpu.Device = d
		if kind == "cuda" {
			dev = gpuLike{d}
		}
		ds := make([]*imageio.Decoded, 12)
		for i := range ds {
			w, h := 750, 500 // a 6000x4000 photo decoded at 1/8
			if i%3 == 1 {
				w, h = h, w
			}
			m, _ := raster.NewImage(w, h, 3)
			ds[i] = &imageio.Decoded{Image: m, File: walk.File{Rel: fmt.Sprint(i)}}
		}
		p := pipeline.New()
		pipeline.Discard(process.Images(pipeline.FromSlice(p, ds), []gpu.Device{dev}, plan, process.Options{Batch: 4}))
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		grows := 0.0
		for _, s := range p.Stats() {
			if s.Name == "gpu" {
				grows = s.Extra["grows"]
			}
		}
		// Reserving counts as one growth per slot (2), done before the first batch.
		if kind == "cuda" && grows != 2 || kind == "cpu" && grows == 0 {
			t.Errorf("%s: %v slot growths", kind, grows)
		}
		d.Close()
	}
}
