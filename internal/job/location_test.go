package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/stages/blob"
	"github.com/gpupipe/gpupipe/stages/output"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// memBucketName names a memory bucket for one run of one test: buckets outlive tests.
func memBucketName(t *testing.T) string {
	return fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
}

// copyToBucket copies the files of a local folder to a memory bucket under prefix.
func copyToBucket(t *testing.T, dir, bucket, prefix string) {
	t.Helper()
	b := blob.MemBucket(bucket)
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		return b.WriteAll(context.Background(), prefix+filepath.ToSlash(rel), data, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRunBetweenBuckets runs a job from a bucket to a bucket: every input gets its output,
// byte for byte what a local run writes, a rerun finds them there, outputs written into the
// input's prefix are not read back, an output that would replace an input is refused.
func TestRunBetweenBuckets(t *testing.T) {
	ctx := context.Background()
	in, local := t.TempDir(), t.TempDir()
	names := writePNGs(t, in, 12, 11)
	bucket := memBucketName(t)
	copyToBucket(t, in, bucket, "in/")
	dev := cpuDevice(t, cpu.Name("cpu"))
	cfg := Config{Chain: mustChain(t, "fit=16x16"), Format: "png", Devices: []gpu.Device{dev}, Batch: 4}

	c := cfg
	c.Inputs, c.Output = []string{in}, local
	if _, err := Run(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.Inputs, c.Output = []string{"mem://" + bucket + "/in"}, "mem://"+bucket+"/in/out"
	rep, err := Run(ctx, c)
	if err != nil || rep.Counts.Done != int64(len(names)) {
		t.Fatalf("bucket to bucket: %+v, %v, failures %v", rep.Counts, err, rep.Failures)
	}
	src, err := blob.OpenSource(ctx, "mem://"+bucket+"/in/out")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = src.Walk(ctx, walk.Options{}, func(f walk.File) error {
		n++
		want, err := os.ReadFile(filepath.Join(local, f.Rel))
		if err != nil {
			return err
		}
		r, _, err := f.Store.Open(ctx, f.Rel)
		if err != nil {
			return err
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s differs from the local run's output (%v)", f.Path(), err)
		}
		return nil
	})
	if err != nil || n != len(names) {
		t.Fatalf("%d outputs, %v", n, err)
	}
	rep, err = Run(ctx, c)
	if err != nil || rep.Counts.Found != int64(len(names)) || rep.Counts.SkippedExisting != int64(len(names)) {
		t.Errorf("rerun: %+v, %v (the outputs inside the input prefix must not be read back)", rep.Counts, err)
	}

	// Into the input's own prefix, PNG to PNG: every output would replace its input (the
	// outputs under in/out are inputs now too, the output being the whole prefix).
	c.Output, c.Overwrite = "mem://"+bucket+"/in", true
	rep, err = Run(ctx, c)
	if err != nil || rep.Counts.Done != 0 || rep.Counts.Failed != int64(2*len(names)) || rep.Counts.Found != rep.Counts.Failed || !strings.Contains(rep.Failures[0].Reason, output.ErrInput.Error()) {
		t.Errorf("outputs over inputs: %+v, %v, %v", rep.Counts, err, rep.Failures)
	}

	c.Overwrite, c.Output = false, "mem://"+bucket+"/shards"
	c.Tensors = &Tensors{RowsPerShard: 4}
	if _, err := Run(ctx, c); err == nil || !strings.Contains(err.Error(), "local folder") {
		t.Errorf("tensor shards into a bucket: %v", err)
	}
}

// TestRunCollisionsInBucket: two inputs with one output in a bucket stop the run before any
// work, naming the output by its URL.
func TestRunCollisionsInBucket(t *testing.T) {
	ctx := context.Background()
	bucket := memBucketName(t)
	in := t.TempDir()
	writePNGs(t, in, 2, 1)
	copyToBucket(t, in, bucket, "a/")
	copyToBucket(t, in, bucket, "b/")
	dev := cpuDevice(t)
	_, err := Run(ctx, Config{Inputs: []string{"mem://" + bucket + "/a", "mem://" + bucket + "/b"}, Output: "mem://" + bucket + "/out",
		Chain: mustChain(t, "fit=8x8"), Format: "png", Devices: []gpu.Device{dev}})
	var ce *output.CollisionError
	if !errors.As(err, &ce) || !strings.HasPrefix(ce.Collisions[0].Output, "mem://"+bucket+"/out/") || ce.Suggestion != "{root}/{dir}/{name}.{ext}" {
		t.Fatalf("colliding inputs: %v", err)
	}
}

// TestWalkInputsMixed walks a local folder and a bucket prefix as one list: in order, and
// split into shards that together give the list once.
func TestWalkInputsMixed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writePNGs(t, dir, 7, 2)
	bucket := memBucketName(t)
	copyToBucket(t, dir, bucket, "p/")
	ins, err := OpenInputs(ctx, []string{dir, "mem://" + bucket + "/p"})
	if err != nil {
		t.Fatal(err)
	}
	defer CloseInputs(ins)
	list := func(opts walk.Options) []string {
		var out []string
		if err := WalkInputs(ctx, ins, opts, func(f walk.File) error { out = append(out, f.Path()); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := list(walk.Options{})
	if len(all) != 14 || !strings.HasPrefix(all[7], "mem://") || strings.HasPrefix(all[6], "mem://") {
		t.Fatalf("walk: %v", all)
	}
	var parts []string
	for i := range 4 {
		parts = append(parts, list(walk.Options{Shard: walk.Shard{Index: i, Count: 4}})...)
	}
	if !slices.Equal(parts, all) {
		t.Errorf("shards give %v, want %v", parts, all)
	}
	if n, err := CountInputs(ctx, ins, walk.Options{}); n != 14 || err != nil {
		t.Errorf("CountInputs = %d, %v", n, err)
	}
	f, err := ins[1].Stat(ctx, filepath.ToSlash(strings.TrimPrefix(all[8], "mem://"+bucket+"/p/")))
	if err != nil || f.Path() != all[8] {
		t.Errorf("Stat: %v, %v", f.Path(), err)
	}
	lf, err := ins[0].Stat(ctx, strings.TrimPrefix(all[1], dir+"/"))
	if err != nil || lf.Path() != all[1] || lf.ID.IsZero() {
		t.Errorf("local Stat: %+v, %v", lf, err)
	}
	if _, err := ins[0].Stat(ctx, "../x.png"); err == nil {
		t.Error("a local Stat outside the input")
	}
}
