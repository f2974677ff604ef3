package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/internal/samples"
	"github.com/gpupipe/gpupipe/pipeline/progress"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/walk"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestThumbnails checks every thumbnail, written as PNG so that nothing is lost, against the
// plan run on the host on the same decoded pixels. Tiny inputs and large thumbnails, one per
// batch, make writing the slowest stage, so that a thumbnail that still pointed into a slot
// the device had reused would come out wrong (under the race detector, as CI runs it, it
// would every time). A broken file fails alone, and a rerun finds every thumbnail in place.
func TestThumbnails(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	inputs, err := samples.Write(in, samples.Options{Count: 12, Width: 40, Height: 30, Seed: 3,
		Formats: []string{"jpeg", "png"}, Folders: []string{"", "sub"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "broken.jpg"), []byte("not a JPEG"), 0o644); err != nil {
		t.Fatal(err)
	}
	dev, err := cpu.New(cpu.RandomDelays(1, time.Microsecond))
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	cfg := config{In: in, Out: out, Size: 200, Batch: 1, Format: imageio.PNG, Progress: progress.None}

	res, err := thumbnails(context.Background(), dev, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 12 || res.Skipped != 0 || len(res.Failures) != 1 {
		t.Fatalf("%d written, %d skipped, %d failed; want 12, 0, 1", res.Written, res.Skipped, len(res.Failures))
	}
	if f := res.Failures[0]; f.Stage != "decode" || !strings.HasSuffix(f.ItemLabel(), "broken.jpg") {
		t.Errorf("failure in %q of %q, want decode of broken.jpg", f.Stage, f.ItemLabel())
	}
	var report strings.Builder
	printResult(&report, res)
	if b := bottleneck(report.String()); !stageNamed(res, b) {
		t.Errorf("the report names %q as the bottleneck, not a stage of the run:\n%s", b, report.String())
	}
	for _, p := range inputs {
		checkThumbnail(t, cfg, p)
	}

	// A rerun finds every thumbnail in place.
	again, err := thumbnails(context.Background(), dev, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again.Written != 0 || again.Skipped != 12 {
		t.Errorf("rerun: %d written, %d skipped; want 0 and 12", again.Written, again.Skipped)
	}
}

// checkThumbnail compares input's thumbnail with the plan run on the host on the same
// decoded pixels.
func checkThumbnail(t *testing.T, cfg config, input string) {
	t.Helper()
	rel, err := filepath.Rel(cfg.In, input)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := kernels.NewChain().ResizeFit(cfg.Size, cfg.Size, raster.Lanczos3).Plan()
	if err != nil {
		t.Fatal(err)
	}
	src, err := newDecoder(plan).Decode(context.Background(), walk.File{Root: cfg.In, Rel: rel})
	if err != nil {
		t.Fatal(err)
	}
	want, err := plan.Run([]raster.Image{src.Image})
	if err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(cfg.Out, strings.TrimSuffix(rel, filepath.Ext(rel))+".png")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("thumbnail of %s: %v", rel, err)
	}
	got, err := (&imageio.Decoder{}).DecodeBytes(path, data)
	if err != nil {
		t.Fatal(err)
	}
	w := want.Images[0]
	if got.Image.Width != w.Width || got.Image.Height != w.Height || max(w.Width, w.Height) != cfg.Size {
		t.Fatalf("%s is %d×%d, want %d×%d", path, got.Image.Width, got.Image.Height, w.Width, w.Height)
	}
	if !bytes.Equal(pixels(got.Image), pixels(w)) {
		t.Errorf("%s differs from the host's thumbnail", path)
	}
}

// bottleneck is the stage the report names as the bottleneck.
func bottleneck(report string) string {
	_, after, _ := strings.Cut(report, "bottleneck: ")
	name, _, _ := strings.Cut(after, ",")
	return name
}

func stageNamed(r result, name string) bool {
	for _, s := range r.Stages {
		if s.Name == name {
			return true
		}
	}
	return false
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
