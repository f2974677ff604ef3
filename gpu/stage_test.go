package gpu_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/pipeline"
)

// stageRun runs batches through a GPU stage in a pipeline and collects what the sink saw.
func stageRun(ctx context.Context, dev gpu.Device, work gpu.Work[batch], batches []batch, opts ...pipeline.Option) ([]result, *pipeline.Pipeline, error) {
	p := pipeline.New()
	src := pipeline.FromSlice(p, batches)
	done := gpu.Stage(src, dev, work, gpu.EngineOptions{Slots: 3}, append(opts, pipeline.Name("gpu"))...)
	var mu sync.Mutex
	var results []result
	pipeline.ForEach(done, func(_ context.Context, d *gpu.Done[batch]) error {
		defer d.Release()
		mu.Lock()
		defer mu.Unlock()
		results = append(results, result{seq: d.Seq, id: d.Batch.id, out: bytes.Clone(d.Out)})
		return nil
	})
	err := p.Run(ctx)
	return results, p, err
}

func TestStageMatchesSynchronousRun(t *testing.T) {
	batches := randomBatches(20, 120, 4000)
	want := reference(t, batches)
	dev := shaky(t, 20)
	results, p, err := stageRun(context.Background(), dev, newChain(t, dev), batches)
	must(t, err)
	if m := mismatch(results, want); m != "" {
		t.Fatal(m)
	}
	var gpuStats pipeline.StageStats
	for _, s := range p.Stats() {
		if s.Name == "gpu" {
			gpuStats = s
		}
	}
	if gpuStats.In != 120 || gpuStats.Out != 120 || gpuStats.Extra["batches"] != 120 || gpuStats.Extra["slots"] != 3 {
		t.Errorf("gpu stage stats: in %d, out %d, extra %v", gpuStats.In, gpuStats.Out, gpuStats.Extra)
	}
	if gpuStats.Busy <= 0 {
		t.Errorf("gpu stage busy %v, want > 0", gpuStats.Busy)
	}
	checkNoLeaks(t, dev)
}

// A batch that fails alone is skipped and reported under SkipErrors; the rest go through.
func TestStageSkipsBadBatch(t *testing.T) {
	batches := randomBatches(21, 10, 500)
	want := reference(t, batches)
	dev := shaky(t, 21)
	work := newChain(t, dev)
	work.failPack = 4
	var skipped []*pipeline.StageError
	results, _, err := stageRun(context.Background(), dev, work, batches, pipeline.SkipErrors(func(e *pipeline.StageError) {
		skipped = append(skipped, e)
	}))
	must(t, err)
	if len(skipped) != 1 || !errors.Is(skipped[0], errBadBatch) || !strings.Contains(skipped[0].Error(), "b4") {
		t.Fatalf("skipped %v, want batch b4's pack error", skipped)
	}
	if len(results) != 9 {
		t.Fatalf("%d results, want 9", len(results))
	}
	for _, r := range results {
		if !bytes.Equal(r.out, want[r.id]) {
			t.Errorf("batch %d differs from the reference", r.id)
		}
	}
	checkNoLeaks(t, dev)
}

// A device fault stops the run with an error naming the stage, the batch and the operation.
func TestStageDeviceFault(t *testing.T) {
	dev := shaky(t, 22, cpu.FailLaunch(15))
	_, _, err := stageRun(context.Background(), dev, newChain(t, dev), randomBatches(22, 40, 500),
		pipeline.SkipErrors(func(*pipeline.StageError) {})) // device faults are not skippable
	var be *gpu.BatchError
	if !errors.As(err, &be) || !errors.Is(err, cpu.ErrInjected) || !strings.Contains(err.Error(), "gpu") ||
		!strings.Contains(err.Error(), "launch") {
		t.Fatalf("got %v, want the stage to stop with a device BatchError naming the launch", err)
	}
	checkNoLeaks(t, dev)
}

// Cancelling the run mid-way returns promptly; the stage waits for device work in flight and
// frees its streams and device buffers. Outputs dropped in the queue downstream keep only
// their host buffers until the device closes.
func TestStageCancel(t *testing.T) {
	dev := shaky(t, 23, cpu.WithTiming(cpu.Timing{KernelTime: time.Millisecond}))
	ctx, cancel := context.WithCancel(context.Background())
	p := pipeline.New()
	src := pipeline.FromSlice(p, randomBatches(23, 1000, 100))
	done := gpu.Stage(src, dev, newChain(t, dev), gpu.EngineOptions{Slots: 2})
	n := 0
	pipeline.ForEach(done, func(_ context.Context, d *gpu.Done[batch]) error {
		d.Release()
		if n++; n == 10 {
			cancel()
		}
		return nil
	})
	err := p.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v", err)
	}
	live := dev.Live()
	if live.Streams != 0 || live.Events != 0 || live.DeviceBuffers != 0 || live.HostBuffers > 2 {
		t.Errorf("after a cancelled run the device holds %+v", live)
	}
}
