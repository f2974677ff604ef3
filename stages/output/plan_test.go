package output

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gpupipe/gpupipe/stages/walk"
)

// files writes empty files under a fresh folder and returns it.
func files(t *testing.T, rels ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, rel := range rels {
		p := filepath.Join(root, filepath.FromSlash(rel))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(rel), 0o644))
	}
	return root
}

func plan(t *testing.T, w *Writer, roots ...string) (*Plan, error) {
	t.Helper()
	return w.Plan(context.Background(), walk.Seq(context.Background(), roots, walk.Options{}))
}

func TestPlanWithoutCollisions(t *testing.T) {
	in := files(t, "a.jpg", "b.png", "d/a.jpg", "d/e/a.gif")
	w := &Writer{Dir: t.TempDir(), Ext: ".jpg"}
	p, err := plan(t, w, in)
	if err != nil || p.Files() != 4 {
		t.Fatalf("Plan = %v, %v", p, err)
	}
	for _, rel := range []string{"a.jpg", "d/e/a.gif"} {
		info, err := os.Stat(filepath.Join(in, rel))
		must(t, err)
		if !p.IsInput(info) || !errors.Is(p.Protect(info), ErrInput) {
			t.Errorf("%s is not an input", rel)
		}
	}
	other := filepath.Join(t.TempDir(), "other.jpg")
	must(t, os.WriteFile(other, nil, 0o644))
	info, _ := os.Stat(other)
	if p.IsInput(info) || p.Protect(info) != nil {
		t.Error("another file is an input")
	}
}

// Inputs that share an output are named, every one of them, with the output and a template
// that tells them apart; the suggestion is checked against every input.
func TestPlanFindsCollisions(t *testing.T) {
	in := files(t, "good.jpg", "good.png", "good.webp", "ok.jpg", "sub/x.jpg", "sub/x.PNG")
	out := t.TempDir()
	w := &Writer{Dir: out, Ext: ".jpg"}
	_, err := plan(t, w, in)
	var ce *CollisionError
	if !errors.As(err, &ce) {
		t.Fatalf("Plan = %v, want a *CollisionError", err)
	}
	want := []Collision{
		{Output: filepath.Join(out, "good.jpg"), Inputs: []string{
			filepath.Join(in, "good.jpg"), filepath.Join(in, "good.png"), filepath.Join(in, "good.webp")}},
		{Output: filepath.Join(out, "sub", "x.jpg"), Inputs: []string{
			filepath.Join(in, "sub", "x.PNG"), filepath.Join(in, "sub", "x.jpg")}},
	}
	if ce.Total != 2 || !slices.EqualFunc(ce.Collisions, want, func(a, b Collision) bool {
		return a.Output == b.Output && slices.Equal(a.Inputs, b.Inputs)
	}) {
		t.Fatalf("collisions %+v, want %+v", ce.Collisions, want)
	}
	if ce.Template != DefaultTemplate || ce.Suggestion != "{dir}/{name}.{srcext}.{ext}" {
		t.Errorf("template %q, suggestion %q", ce.Template, ce.Suggestion)
	}
	msg := err.Error()
	for _, s := range append(want[0].Inputs, want[0].Output, want[1].Output, "{srcext}") {
		if !strings.Contains(msg, s) {
			t.Errorf("message lacks %q:\n%s", s, msg)
		}
	}
	// The suggestion works.
	tmpl, err := ParseTemplate(ce.Suggestion)
	must(t, err)
	if _, err := plan(t, &Writer{Dir: out, Ext: ".jpg", Template: tmpl}, in); err != nil {
		t.Fatalf("the suggestion: %v", err)
	}
}

// Two roots with one name in each: {root} tells them apart; roots of the same base name
// cannot be told apart by any template the suggestion tries.
func TestPlanCollisionsAcrossRoots(t *testing.T) {
	a, b := files(t, "x.jpg", "y.jpg"), files(t, "x.jpg")
	_, err := plan(t, &Writer{Dir: t.TempDir(), Ext: ".jpg"}, a, b)
	var ce *CollisionError
	if !errors.As(err, &ce) || ce.Total != 1 || len(ce.Collisions[0].Inputs) != 2 || ce.Suggestion != "{root}/{dir}/{name}.{ext}" {
		t.Fatalf("Plan = %#v", err)
	}
	// Both kinds at once: {root} and {srcext}.
	c := files(t, "x.jpg", "x.png")
	_, err = plan(t, &Writer{Dir: t.TempDir(), Ext: ".jpg"}, b, c)
	if !errors.As(err, &ce) || ce.Suggestion != "{root}/{dir}/{name}.{srcext}.{ext}" {
		t.Fatalf("Plan = %v (suggestion %q)", err, ce.Suggestion)
	}
	// Same base names: nothing to suggest.
	p, q := filepath.Join(t.TempDir(), "photos"), filepath.Join(t.TempDir(), "photos")
	must(t, os.MkdirAll(p, 0o755))
	must(t, os.MkdirAll(q, 0o755))
	must(t, os.WriteFile(filepath.Join(p, "x.jpg"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(q, "x.jpg"), nil, 0o644))
	_, err = plan(t, &Writer{Dir: t.TempDir(), Ext: ".jpg"}, p, q)
	if !errors.As(err, &ce) || ce.Suggestion != "" || strings.Contains(err.Error(), "gives each") {
		t.Fatalf("Plan = %v", err)
	}
}

func TestPlanListsAtMostMaxCollisions(t *testing.T) {
	var rels []string
	for i := range MaxCollisions + 5 {
		rels = append(rels, fmt.Sprintf("f%03d.jpg", i), fmt.Sprintf("f%03d.png", i))
	}
	in := files(t, rels...)
	_, err := plan(t, &Writer{Dir: t.TempDir(), Ext: ".jpg"}, in)
	var ce *CollisionError
	if !errors.As(err, &ce) || ce.Total != MaxCollisions+5 || len(ce.Collisions) != MaxCollisions ||
		!strings.Contains(err.Error(), "and 5 more") {
		t.Fatalf("Plan = %v", err)
	}
}

// Hashes that collide where names do not are no collision: the names decide.
func TestPlanHashCollisionIsNotACollision(t *testing.T) {
	in := files(t, "a.jpg", "b.jpg")
	w := &Writer{Dir: t.TempDir(), Ext: ".jpg"}
	seed := maphash.MakeSeed()
	dups := map[uint64]bool{maphash.String(seed, "a.jpg"): true, maphash.String(seed, "b.jpg"): true}
	got, total, err := w.name(context.Background(), w.template(), seed, dups,
		walk.Seq(context.Background(), []string{in}, walk.Options{}))
	if err != nil || total != 0 || len(got) != 0 {
		t.Fatalf("name = %v, %d, %v", got, total, err)
	}
}

func TestPlanStopsOnWalkErrors(t *testing.T) {
	_, err := plan(t, &Writer{Dir: t.TempDir(), Ext: ".jpg"}, filepath.Join(t.TempDir(), "missing"))
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("Plan = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := files(t, "a.jpg")
	w := &Writer{Dir: t.TempDir(), Ext: ".jpg"}
	if _, err := w.Plan(ctx, walk.Seq(context.Background(), []string{in}, walk.Options{})); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Plan = %v", err)
	}
}

// Names the template cannot give are left to fail alone; they collide with nothing.
func TestPlanSkipsNamesTheTemplateCannotGive(t *testing.T) {
	in := files(t, "a.jpg", "b.jpg")
	tmpl, err := ParseTemplate("../{name}.{ext}")
	must(t, err)
	p, err := plan(t, &Writer{Dir: t.TempDir(), Ext: ".jpg", Template: tmpl}, in)
	if err != nil || p.Files() != 2 {
		t.Fatalf("Plan = %v, %v", p, err)
	}
}

// Planning keeps a few bytes per input, not its names: 20,000 files of long names stay far
// below what keeping the names would cost (about 130 bytes each here), and what it allocates
// on the way is short-lived (an output name per file).
func TestPlanMemoryPerFile(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const n = 20000
	long := strings.Repeat("long-folder-name/", 6)
	seq := func(yield func(walk.File, error) bool) {
		for i := range n {
			f := walk.File{Root: "/data", Rel: fmt.Sprintf("%sphoto-%06d.png", long, i), ID: walk.ID{Dev: 1, Ino: uint64(i + 1)}}
			if !yield(f, nil) {
				return
			}
		}
	}
	w := &Writer{Dir: "/out", Ext: ".jpg"}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p, err := w.Plan(context.Background(), seq)
	must(t, err)
	runtime.GC()
	runtime.ReadMemStats(&after)
	kept := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	allocated := after.TotalAlloc - before.TotalAlloc
	if p.Files() != n || kept > 40*n || allocated > 1000*n {
		t.Fatalf("%d files: %d bytes kept (%d per file), %d allocated (%d per file)",
			p.Files(), kept, kept/n, allocated, allocated/n)
	}
	runtime.KeepAlive(p)
}
