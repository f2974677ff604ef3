package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/internal/samples"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/npy"
	"github.com/gpupipe/gpupipe/stages/walk"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPrepare writes six images of three sizes and two formats, and one broken file, into
// shards of two rows, and checks the shards' headers, the index's order and every row against
// the chain run on the host on the full-size image, bit for bit. The 400×300 JPEG is large
// enough for libjpeg-turbo to shrink it while decoding (to 100×75 for a shorter side of 32),
// which the example must not do: the rows would differ.
func TestPrepare(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	if _, err := samples.Write(in, samples.Options{Count: 3, Width: 120, Height: 90, Prefix: "a", Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := samples.Write(in, samples.Options{Count: 1, Width: 400, Height: 300, Prefix: "c", Seed: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := samples.Write(in, samples.Options{Count: 2, Width: 70, Height: 100, Prefix: "b", Seed: 2,
		Formats: []string{"png"}, Folders: []string{"sub"}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "a-0001-broken.jpg"), []byte("not a JPEG"), 0o644); err != nil {
		t.Fatal(err)
	}
	dev, err := cpu.New(cpu.RandomDelays(1, 100*time.Microsecond))
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	cfg := config{In: in, Out: out, Resize: 32, Crop: 28, Batch: 2, RowsPerShard: 2}

	res, err := prepare(context.Background(), dev, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 6 || len(res.Shards) != 3 || len(res.Failures) != 1 {
		t.Fatalf("%d rows in %d shards, %d failures; want 6 in 3, 1", res.Rows, len(res.Shards), len(res.Failures))
	}
	if label := res.Failures[0].ItemLabel(); !strings.HasSuffix(label, "a-0001-broken.jpg") {
		t.Errorf("the failure is %q, want the broken file", label)
	}

	sources := goodFiles(t, in)
	if got := indexPaths(t, res.Index); !slices.Equal(got, paths(sources)) {
		t.Errorf("index lists %q, want the input order %q", got, paths(sources))
	}
	for i, f := range sources {
		shard, row := res.Shards[i/2], i%2
		wantRows := min(2, len(sources)-i+row)
		got := readRow(t, shard, row, []int{wantRows, 3, cfg.Crop, cfg.Crop})
		want := hostTensor(t, cfg, f)
		if !slices.EqualFunc(got, want, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
			t.Errorf("row %d of %s (%s) differs from the host's tensor", row, shard, f.Rel)
		}
	}
}

// TestCropLargerThanResize checks that a chain whose tensors would not all have one shape is
// refused before anything is written: the plan answers it from its operations alone.
func TestCropLargerThanResize(t *testing.T) {
	dev, err := cpu.New()
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	out := t.TempDir()
	_, err = prepare(context.Background(), dev, config{In: t.TempDir(), Out: out, Resize: 20, Crop: 28, Batch: 2, RowsPerShard: 2})
	if err == nil || !strings.Contains(err.Error(), "one shape") {
		t.Fatalf("prepare returned %v, want an error about the tensors' shape", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("%d files written", len(entries))
	}
}

// goodFiles lists the decodable inputs in walk order: the order the rows must follow.
func goodFiles(t *testing.T, in string) []walk.File {
	var files []walk.File
	for f, err := range walk.Seq(context.Background(), []string{in}, walk.Options{Exts: walk.ImageExts}) {
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(f.Rel, "broken") {
			files = append(files, f)
		}
	}
	return files
}

func paths(files []walk.File) []string {
	var ps []string
	for _, f := range files {
		ps = append(ps, f.Path())
	}
	return ps
}

func indexPaths(t *testing.T, index string) []string {
	f, err := os.Open(index)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ps []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var e npy.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, e.Path)
	}
	return ps
}

// readRow reads row i of a shard after checking that its header has the shape wanted.
func readRow(t *testing.T, path string, i int, shape []int) []float32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := npy.ReadHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	if h.Descr != npy.Float32 || h.FortranOrder || !slices.Equal(h.Shape, shape) {
		t.Fatalf("%s: header %+v, want %s of shape %v", path, h, npy.Float32, shape)
	}
	n := shape[1] * shape[2] * shape[3]
	row := make([]float32, n)
	if _, err := f.Seek(h.DataOffset+int64(4*n*i), 0); err != nil {
		t.Fatal(err)
	}
	if err := binary.Read(f, binary.LittleEndian, row); err != nil {
		t.Fatal(err)
	}
	return row
}

// hostTensor runs the chain on the host on the file decoded at full size, as torchvision
// decodes it.
func hostTensor(t *testing.T, cfg config, f walk.File) []float32 {
	t.Helper()
	d, err := (&imageio.Decoder{Channels: 3}).Decode(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := chain(cfg.Resize, cfg.Crop).Plan()
	if err != nil {
		t.Fatal(err)
	}
	res, err := plan.Run([]raster.Image{d.Image})
	if err != nil {
		t.Fatal(err)
	}
	return res.Tensors[0].Data
}
