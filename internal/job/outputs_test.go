package job

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/output"
	"github.com/gpupipe/gpupipe/stages/process"
	"github.com/gpupipe/gpupipe/stages/walk"
)

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Inputs sharing an output stop the run before any work: no device is opened, nothing is
// written, not even the output folder.
func TestCollisionsStopTheRunBeforeWork(t *testing.T) {
	in := t.TempDir()
	names := writePNGs(t, in, 3, 7)
	copyFile(t, filepath.Join(in, names[0]), filepath.Join(in, strings.TrimSuffix(names[0], ".png")+".gif"))
	out := filepath.Join(t.TempDir(), "out")
	rep, err := Run(context.Background(), Config{
		Inputs: []string{in}, Output: out, Chain: mustChain(t, "fit=8"), Format: "png", Device: "no-such-device",
	})
	var ce *output.CollisionError
	if !errors.As(err, &ce) || ce.Total != 1 || len(ce.Collisions[0].Inputs) != 2 {
		t.Fatalf("Run = %v, want a collision", err)
	}
	if !strings.Contains(ce.Suggestion, "{srcext}") {
		t.Errorf("suggestion %q", ce.Suggestion)
	}
	if rep.Counts.Done != 0 {
		t.Errorf("counts %+v", rep.Counts)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the output folder was made: %v", err)
	}
}

// Shards plan the whole input: inputs that collide across shards stop every shard.
func TestShardsPlanTheWholeInput(t *testing.T) {
	in := t.TempDir()
	names := writePNGs(t, in, 6, 8)
	last := names[len(names)-1]
	copyFile(t, filepath.Join(in, last), filepath.Join(in, strings.TrimSuffix(last, ".png")+".gif"))
	for i := range 3 {
		_, err := Run(context.Background(), Config{
			Inputs: []string{in}, Output: t.TempDir(), Chain: mustChain(t, "fit=8"), Format: "png",
			Shard: walk.Shard{Index: i, Count: 3}, Devices: []gpu.Device{cpuDevice(t)},
		})
		var ce *output.CollisionError
		if !errors.As(err, &ce) {
			t.Errorf("shard %d/3: %v, want a collision", i, err)
		}
	}
}

// An output folder inside the input folder is not read back: reruns find the same inputs.
func TestOutputInsideInputIsLeftOut(t *testing.T) {
	in := t.TempDir()
	names := writePNGs(t, in, 4, 9)
	out := filepath.Join(in, "thumbs")
	for run := range 3 {
		rep, err := Run(context.Background(), Config{
			Inputs: []string{in}, Output: out, Chain: mustChain(t, "fit=8"), Format: "png",
			Devices: []gpu.Device{cpuDevice(t)},
		})
		if err != nil || rep.Counts.Found != int64(len(names)) || rep.Counts.Failed != 0 {
			t.Fatalf("run %d: %v, counts %+v", run, err, rep.Counts)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "thumbs")); err == nil {
		t.Fatal("thumbs/thumbs was made")
	}
}

// An output that appears between the pending check and the final link, made by another
// run, is already there, not a failure.
func TestOutputMadeMeanwhileIsAlreadyThere(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	writePNGs(t, in, 1, 10)
	r, err := newRun(Config{Inputs: []string{in}, Output: out, Chain: mustChain(t, "fit=8"), Format: "png"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	f := walk.File{Root: in, Rel: filepath.Join("d0", "i000.png")}
	path, err := r.writer.Path(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("theirs"), 0o644); err != nil {
		t.Fatal(err)
	}
	img := raster.Image{Width: 1, Height: 1, Channels: 3, Stride: 3, Pix: []byte{1, 2, 3}}
	err = r.writeImage(context.Background(), process.Result{Source: &imageio.Decoded{File: f}, Image: img})
	if c := r.rec.Counts(); err != nil || c.SkippedExisting != 1 || c.Done != 0 {
		t.Fatalf("writeImage = %v, counts %+v", err, c)
	}
	if data, _ := os.ReadFile(path); string(data) != "theirs" {
		t.Fatalf("the other run's output holds %q", data)
	}
}

// Two runs on one output folder at once: every file is done by one of them and already
// there for the other, and neither reports a failure.
func TestTwoRunsAtOnce(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	names := writePNGs(t, in, 40, 11)
	var wg sync.WaitGroup
	var counts [2]struct{ found, done, skipped, failed int64 }
	var errs [2]error
	for i := range 2 {
		wg.Go(func() {
			rep, err := Run(context.Background(), Config{
				Inputs: []string{in}, Output: out, Chain: mustChain(t, "fit=8"), Format: "png",
				Devices: []gpu.Device{cpuDevice(t)}, Batch: 2, DecodeWorkers: 1, EncodeWorkers: 2,
			})
			c := rep.Counts
			counts[i] = struct{ found, done, skipped, failed int64 }{c.Found, c.Done, c.SkippedExisting, c.Failed}
			errs[i] = err
		})
	}
	wg.Wait()
	n := int64(len(names))
	for i, c := range counts {
		if errs[i] != nil || c.found != n || c.failed != 0 || c.done+c.skipped != n {
			t.Errorf("run %d: %v, counts %+v", i, errs[i], c)
		}
	}
	if counts[0].done+counts[1].done < n {
		t.Errorf("%d + %d done, want at least %d", counts[0].done, counts[1].done, n)
	}
}

// A dry run changes nothing: no output folder, no sweep of stale temporaries.
func TestDryRunChangesNothing(t *testing.T) {
	in := t.TempDir()
	writePNGs(t, in, 3, 12)
	out := filepath.Join(t.TempDir(), "out")
	var log strings.Builder
	if _, err := Run(context.Background(), Config{Inputs: []string{in}, Output: out, Chain: mustChain(t, "fit=8"),
		Format: "png", DryRun: true, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("the dry run made the output folder")
	}
	stale := filepath.Join(t.TempDir(), ".a.png.tmp-00000000-1-0123456789ab")
	if err := os.WriteFile(stale, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * output.DefaultSweepAge) // a run would sweep it
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), Config{Inputs: []string{in}, Output: filepath.Dir(stale), Chain: mustChain(t, "fit=8"),
		Format: "png", DryRun: true, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err != nil {
		t.Fatal("the dry run swept a temporary file")
	}
}
