package job

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/stages/npy"
)

// readShards reads the shards, index and manifest of dir.
func readShards(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
	}
	return out
}

// A tensor run cancelled at any moment and run again ends with the shards, index and
// manifest an uninterrupted run writes, byte for byte, and its counts add up: the rows of
// the first run are already there, the others done.
func TestTensorRunResumes(t *testing.T) {
	in := t.TempDir()
	names := writePNGs(t, in, 30, 8)
	cfg := func(out string, dev gpu.Device) Config {
		return Config{Inputs: []string{in}, Output: out, Chain: mustChain(t, "fill=8x6"), Devices: []gpu.Device{dev},
			Tensors: &Tensors{Layout: npy.HWCUint8, RowsPerShard: 4}, Batch: 3, DecodeWorkers: 2}
	}
	want := t.TempDir()
	rep, err := Run(context.Background(), cfg(want, cpuDevice(t)))
	if err != nil || rep.Counts.Done != int64(len(names)) {
		t.Fatalf("uninterrupted run: %v, counts %+v", err, rep.Counts)
	}
	wantFiles := readShards(t, want)

	for _, after := range []time.Duration{0, 5 * time.Millisecond, 20 * time.Millisecond, 60 * time.Millisecond, 150 * time.Millisecond} {
		out := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(after, cancel)
		dev := cpuDevice(t, cpu.RandomDelays(3, time.Millisecond))
		first, err := Run(ctx, cfg(out, dev))
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled after %v: %v", after, err)
		}
		c := first.Counts
		t.Logf("cancelled after %v: %d of %d rows committed", after, c.Done, len(names))
		if c.Done%4 != 0 && c.Done != int64(len(names)) {
			t.Errorf("cancelled after %v: %d rows done, but shards hold 4 (a dropped shard's rows counted)", after, c.Done)
		}
		rep, err := Run(context.Background(), cfg(out, dev))
		if err != nil {
			t.Fatalf("rerun after %v: %v", after, err)
		}
		c2 := rep.Counts
		if c2.Found != int64(len(names)) || c2.SkippedExisting != c.Done || c2.Done+c2.SkippedExisting+c2.Failed != c2.Found {
			t.Errorf("rerun after %v: counts %+v, the first run's %+v", after, c2, c)
		}
		got := readShards(t, out)
		if len(got) != len(wantFiles) {
			t.Fatalf("rerun after %v: files %v, want %d", after, keys(got), len(wantFiles))
		}
		for name, data := range wantFiles {
			if !bytes.Equal(got[name], data) {
				t.Errorf("rerun after %v: %s differs from the uninterrupted run's", after, name)
			}
		}
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The parts of a split input write their shards into one folder side by side.
func TestTensorPartsShareAFolder(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	writePNGs(t, in, 9, 9)
	for i := range 2 {
		cfg := Config{Inputs: []string{in}, Output: out, Chain: mustChain(t, "fill=4x4"), Devices: []gpu.Device{cpuDevice(t)},
			Tensors: &Tensors{Layout: npy.HWCUint8, RowsPerShard: 10}}
		cfg.Shard.Index, cfg.Shard.Count = i, 2
		if rep, err := Run(context.Background(), cfg); err != nil || rep.Counts.Done == 0 {
			t.Fatalf("part %d/2: %v, %+v", i, err, rep.Counts)
		}
	}
	got := strings.Join(keys(readShards(t, out)), " ")
	for _, name := range []string{"shard-s0of2-00000.npy", "shard-s1of2-00000.npy", "shard-s0of2-index.jsonl", "shard-s1of2-manifest.json"} {
		if !strings.Contains(got, name) {
			t.Errorf("no %s among %s", name, got)
		}
	}
}

// Shards made by other operations are not resumed: the run says so, and how to start again.
func TestTensorRunRefusesOtherShards(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	writePNGs(t, in, 3, 10)
	run := func(ops string, overwrite bool) error {
		_, err := Run(context.Background(), Config{Inputs: []string{in}, Output: out, Chain: mustChain(t, ops),
			Devices: []gpu.Device{cpuDevice(t)}, Tensors: &Tensors{Layout: npy.HWCUint8}, Overwrite: overwrite})
		return err
	}
	if err := run("fill=4x4", false); err != nil {
		t.Fatal(err)
	}
	if err := run("fill=4x4,fliph", false); !errors.Is(err, npy.ErrNotResumable) || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("other operations: %v", err)
	}
	if err := run("fill=4x4,fliph", true); err != nil {
		t.Errorf("with overwrite: %v", err)
	}
}

// A problem met by the walk counts as found and failed, and its line names the stage once.
func TestWalkFailuresAddUp(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	names := writePNGs(t, in, 4, 11)
	if err := os.Symlink(filepath.Join(in, "nowhere.png"), filepath.Join(in, "broken.png")); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	rep, err := Run(context.Background(), Config{Inputs: []string{in}, Output: out, Chain: mustChain(t, "fit=8"),
		Format: "png", Devices: []gpu.Device{cpuDevice(t)}, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Counts
	if c.Found != int64(len(names))+1 || c.Failed != 1 || c.Done+c.SkippedExisting+c.Failed != c.Found {
		t.Errorf("counts %+v", c)
	}
	line := strings.TrimSpace(log.String())
	if !strings.HasPrefix(line, "imgpipe: "+filepath.Join(in, "broken.png")+": walk: broken link") ||
		strings.Count(line, "walk") != 1 {
		t.Errorf("failure line %q", line)
	}
}
