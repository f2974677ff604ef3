package process_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/engine"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/process"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// With OnError set, every input ends exactly one way: one result, or one OnError call,
// whether it failed alone (the chain cannot crop it) or with its batch (a slot that cannot
// grow on a device with little memory). Images of 1, 3 and 4 channels, and of 1×1 and 1×N,
// share batches.
func TestEveryImageAccountedForOnce(t *testing.T) {
	for iter := range 12 {
		rng := rand.New(rand.NewPCG(uint64(iter), 11))
		chain := kernels.NewChain().Crop(0, 0, 30, 30).ResizeFit(8, 8, raster.Linear)
		if iter%2 == 1 {
			chain = kernels.NewChain().Crop(3, 0, 30, 30).ResizeFill(5, 4, raster.Box).Normalize(kernels.ImageNet)
		}
		plan, err := chain.Plan()
		if err != nil {
			t.Fatal(err)
		}
		ds := inputs(t, rng, 50)
		for i := range 6 { // tiny images: 1×1, 1×N, N×1
			w, h := []int{1, 1, 5, 1, 2, 4}[i], []int{1, 7, 1, 1, 1, 4}[i]
			m, err := raster.NewImage(w, h, []int{1, 3, 4}[i%3])
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, &imageio.Decoded{Image: m, File: walk.File{Rel: fmt.Sprintf("tiny-%d", i)}})
		}
		rng.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
		devs := devices(t, 1+iter%3, cpu.RandomDelays(int64(iter), 200*time.Microsecond), cpu.MemoryLimit(int64(20000+rng.IntN(40000))))
		var mu sync.Mutex
		failed := map[*imageio.Decoded]int{}
		got, err := run(t, ds, devs, plan, process.Options{Batch: 1 + rng.IntN(8), Engine: engineSlots(2),
			OnError: func(e *pipeline.StageError) {
				mu.Lock()
				defer mu.Unlock()
				d, ok := e.Item.(*imageio.Decoded)
				if !ok {
					t.Errorf("OnError got a %T, not an image: %v", e.Item, e)
					return
				}
				failed[d]++
			}})
		if err != nil {
			t.Fatalf("iteration %d: %v", iter, err)
		}
		done := map[*imageio.Decoded]int{}
		for _, r := range got {
			done[r.Source]++
		}
		for _, d := range ds {
			if done[d]+failed[d] != 1 {
				t.Errorf("iteration %d: %s (%dx%dx%d): %d results, %d failures", iter, d.Label(),
					d.Image.Width, d.Image.Height, d.Image.Channels, done[d], failed[d])
			}
		}
	}
}

// A run stopped at a random moment (the consumer fails, or the context is cancelled)
// releases the pixels of every image the pipeline made and what each image holds
// (Decoded.Hold: a memory budget's charge) exactly once, whether the consumer got its result
// or the run dropped it, frees every device buffer (see devices) and leaves no goroutine
// behind (TestMain).
func TestCancelledRunReleasesEveryImage(t *testing.T) {
	plan, err := kernels.NewChain().ResizeFit(9, 9, raster.Linear).Plan()
	if err != nil {
		t.Fatal(err)
	}
	for iter := range 30 {
		rng := rand.New(rand.NewPCG(uint64(iter), 5))
		src := inputs(t, rng, 80)
		var mu sync.Mutex
		var made []*imageio.Decoded
		var held atomic.Int64
		p := pipeline.New()
		idx := make([]int, len(src))
		for i := range idx {
			idx[i] = i
		}
		// Images the pipeline makes (FromSlice items are never released), copies of src.
		decoded := pipeline.Map(pipeline.FromSlice(p, idx), func(_ context.Context, i int) (*imageio.Decoded, error) {
			m := src[i].Image
			m.Pix = append([]byte(nil), m.Pix...)
			d := &imageio.Decoded{Image: m, File: src[i].File}
			held.Add(1)
			d.Hold(func() { held.Add(-1) })
			mu.Lock()
			made = append(made, d)
			mu.Unlock()
			return d, nil
		}, pipeline.Workers(2))
		devs := devices(t, 1+iter%2, cpu.RandomDelays(int64(iter), 300*time.Microsecond))
		res := process.Images(decoded, devs, plan, process.Options{Batch: 1 + rng.IntN(6), Engine: engine.Options{Slots: 2}})
		stopAt := rng.IntN(len(src))
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		pipeline.ForEach(res, func(_ context.Context, r process.Result) error {
			defer r.Release()
			if n++; n == stopAt {
				if iter%2 == 0 {
					cancel()
					return nil
				}
				return errors.New("consumer failed")
			}
			return nil
		})
		_ = p.Run(ctx)
		cancel()
		for _, d := range made {
			if d.Image.Pix != nil {
				t.Fatalf("iteration %d (stop at %d): %s still holds its pixels", iter, stopAt, d.Label())
			}
		}
		if h := held.Load(); h != 0 {
			t.Fatalf("iteration %d (stop at %d): %d images' holds not released (negative: twice)", iter, stopAt, h)
		}
	}
}
