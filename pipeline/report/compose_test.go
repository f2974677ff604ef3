package report_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/pipeline/report"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/output"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// job is a CPU-only folder conversion made of the stages' building blocks: walk, skip what
// is done, decode, encode and write, with failures recorded.
type job struct {
	in, out string
	// afterWrite is called after each output is written (to cancel mid-run).
	afterWrite func()
}

func (j job) run(ctx context.Context) (report.Report, error) {
	rec := report.NewRecorder()
	rec.Inputs, rec.Output = []string{j.in}, j.out
	pool := &imageio.Pool{}
	dec := &imageio.Decoder{Pool: pool}
	enc := &imageio.Encoder{Format: imageio.PNG, Pool: pool}
	w := &output.Writer{Dir: j.out, Ext: enc.Ext()}

	p := pipeline.New()
	files := pipeline.Generate(p, func(ctx context.Context, emit func(walk.File) error) error {
		return walk.Walk(ctx, []string{j.in}, walk.Options{Exts: walk.ImageExts}, func(f walk.File) error {
			rec.Found(1)
			return emit(f)
		})
	}, pipeline.Name("walk"))
	todo := pipeline.Filter(files, func(ctx context.Context, f walk.File) (bool, error) {
		pending, err := w.Pending(ctx, f)
		if err == nil && !pending {
			rec.Skipped()
		}
		return pending, err
	}, pipeline.Name("skip-done"))
	images := pipeline.Map(todo, dec.Decode, pipeline.Name("decode"), pipeline.Workers(2),
		pipeline.SkipErrors(rec.FailStage))
	pipeline.ForEach(images, func(ctx context.Context, d *imageio.Decoded) error {
		defer d.Release()
		_, err := w.Write(ctx, d.File, func(dst io.Writer) error { return enc.Encode(dst, d.Image) })
		switch {
		case errors.Is(err, output.ErrExists):
			rec.Skipped()
			return nil
		case err != nil:
			return err
		}
		rec.Done()
		if j.afterWrite != nil {
			j.afterWrite()
		}
		return nil
	}, pipeline.Name("write"), pipeline.Workers(2), pipeline.SkipErrors(rec.FailStage))
	err := p.Run(ctx)
	return rec.Report(p.Stats(), err), err
}

func testImage(i int) []byte {
	m := image.NewNRGBA(image.Rect(0, 0, 16+i, 9))
	for p := range m.Pix {
		m.Pix[p] = uint8(p * (i + 1))
	}
	m.SetNRGBA(0, 0, color.NRGBA{1, 2, 3, 255})
	var b bytes.Buffer
	png.Encode(&b, m)
	return b.Bytes()
}

func makeInputs(t *testing.T, n int) string {
	t.Helper()
	in := t.TempDir()
	for i := range n {
		p := filepath.Join(in, fmt.Sprintf("d%d", i%3), fmt.Sprintf("img%02d.png", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, testImage(i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(in, "d0", "corrupt.png"), testImage(0)[:60], 0o644)
	os.WriteFile(filepath.Join(in, "d1", "empty.jpg"), nil, 0o644)
	os.WriteFile(filepath.Join(in, "notes.txt"), []byte("not an image"), 0o644)
	return in
}

func outputs(t *testing.T, root string) (done, temps []string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			if strings.Contains(d.Name(), ".tmp-") {
				temps = append(temps, rel)
			} else {
				done = append(done, rel)
			}
		}
		return nil
	})
	return done, temps
}

// A full run converts every good image, reports the two bad ones by path, and a rerun skips
// everything.
func TestComposedRun(t *testing.T) {
	in, out := makeInputs(t, 12), t.TempDir()
	rep, err := job{in: in, out: out}.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := report.Counts{Found: 14, Done: 12, SkippedExisting: 0, Failed: 2}
	if rep.Counts != want || rep.Interrupted {
		t.Fatalf("counts %+v, interrupted %v", rep.Counts, rep.Interrupted)
	}
	if len(rep.Failures) != 2 || rep.Failures[0].Path != filepath.Join(in, "d0", "corrupt.png") ||
		rep.Failures[0].Stage != "decode" || !strings.Contains(rep.Failures[0].Reason, "corrupt image") ||
		rep.Failures[1].Reason != "empty file" {
		t.Fatalf("failures %+v", rep.Failures)
	}
	if len(rep.Stages) != 4 || rep.Bottleneck == "" {
		t.Fatalf("stages %+v, bottleneck %q", rep.Stages, rep.Bottleneck)
	}
	done, temps := outputs(t, out)
	if len(done) != 12 || len(temps) != 0 || !slices.Contains(done, filepath.Join("d1", "img04.png")) {
		t.Fatalf("outputs %q, temporaries %q", done, temps)
	}
	// The output is the input's pixels.
	d, err := (&imageio.Decoder{}).Decode(context.Background(), walk.File{Root: out, Rel: filepath.Join("d1", "img04.png")})
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := (&imageio.Decoder{}).DecodeBytes("orig", testImage(4))
	if !bytes.Equal(d.Image.Pix, orig.Image.Pix) {
		t.Fatal("output pixels differ from the input's")
	}

	again, err := job{in: in, out: out}.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := (report.Counts{Found: 14, SkippedExisting: 12, Failed: 2}); again.Counts != want {
		t.Fatalf("rerun counts %+v", again.Counts)
	}
}

// A run cancelled midway leaves only complete outputs; the rerun does the rest.
func TestComposedCancelAndResume(t *testing.T) {
	in, out := makeInputs(t, 30), t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var written atomic.Int32
	rep, err := job{in: in, out: out, afterWrite: func() {
		if written.Add(1) == 5 {
			cancel()
		}
	}}.run(ctx)
	if !errors.Is(err, context.Canceled) || !rep.Interrupted {
		t.Fatalf("err %v, interrupted %v", err, rep.Interrupted)
	}
	done, temps := outputs(t, out)
	if len(temps) != 0 || len(done) < 5 || len(done) >= 30 || int64(len(done)) != rep.Counts.Done {
		t.Fatalf("after cancel: %d outputs (report says %d), temporaries %q", len(done), rep.Counts.Done, temps)
	}
	for _, rel := range done {
		if _, err := (&imageio.Decoder{}).Decode(context.Background(), walk.File{Root: out, Rel: rel}); err != nil {
			t.Fatalf("partial output: %v", err)
		}
	}
	rerun, err := job{in: in, out: out}.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rerun.Counts.SkippedExisting != int64(len(done)) || rerun.Counts.Done != int64(30-len(done)) {
		t.Fatalf("rerun counts %+v after %d done", rerun.Counts, len(done))
	}
	if all, _ := outputs(t, out); len(all) != 30 {
		t.Fatalf("%d outputs after the rerun", len(all))
	}
}
