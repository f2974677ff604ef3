package output

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gpupipe/gpupipe/stages/walk"
)

// victim makes a folder outside the output folder with one file in it, and returns the
// folder and a check that the file is untouched and nothing was added beside it.
func victim(t *testing.T) (string, func()) {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "important.jpg"), []byte("precious"), 0o644))
	return dir, func() {
		t.Helper()
		if got := readString(t, filepath.Join(dir, "important.jpg")); got != "precious" {
			t.Errorf("the victim's file now holds %q", got)
		}
		if files := names(t, dir); !slices.Equal(files, []string{"important.jpg"}) {
			t.Errorf("files in the victim's folder: %q", files)
		}
	}
}

// Links inside the output folder that lead out of it are refused, with an error naming the
// link, whether absolute, relative or deeper; nothing is written through them.
func TestRootRefusesLinksOut(t *testing.T) {
	vdir, check := victim(t)
	out := t.TempDir()
	must(t, os.Symlink(vdir, filepath.Join(out, "abs")))
	rel, err := filepath.Rel(out, vdir)
	must(t, err)
	must(t, os.Symlink(rel, filepath.Join(out, "rel")))
	must(t, os.MkdirAll(filepath.Join(out, "a"), 0o755))
	must(t, os.Symlink(filepath.Join("..", rel), filepath.Join(out, "a", "up")))
	must(t, os.Symlink("../../../../../../../../../..", filepath.Join(out, "dots")))

	for _, overwrite := range []bool{false, true} {
		w := &Writer{Dir: out, Ext: ".jpg", Options: Options{Overwrite: overwrite}}
		defer w.Close()
		for _, link := range []string{"abs", "rel", "a/up", "dots"} {
			f := walkFile(t.TempDir(), link+"/important.png")
			if done, err := w.Done(f); done || !errors.Is(err, ErrOutside) {
				t.Errorf("Done through %s: %v, %v; want ErrOutside", link, done, err)
			}
			_, err := w.Write(context.Background(), f, writeString("thumbnail"))
			if !errors.Is(err, ErrOutside) {
				t.Fatalf("Write through %s (overwrite %v): %v, want ErrOutside", link, overwrite, err)
			}
			linkPath := filepath.Join(out, filepath.FromSlash(link))
			if msg := err.Error(); !strings.Contains(msg, linkPath+" is a symbolic link") {
				t.Errorf("message %q does not name the link %s", msg, linkPath)
			}
			var oe *OutsideError
			if !errors.As(err, &oe) || oe.Link != linkPath {
				t.Errorf("error %#v, want an *OutsideError for %s", err, linkPath)
			}
		}
	}
	// Deeper: the output's folder would be made through the link.
	w := &Writer{Dir: out, Ext: ".jpg"}
	defer w.Close()
	if _, err := w.Write(context.Background(), walkFile(t.TempDir(), "abs/new/deeper/x.png"), writeString("x")); !errors.Is(err, ErrOutside) {
		t.Fatalf("Write through a link to a new folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(vdir, "new")); err == nil {
		t.Fatal("a folder was made in the victim's folder")
	}
	check()
	if tmp := tempNames(t, out); len(tmp) > 0 {
		t.Errorf("temporary files left: %q", tmp)
	}
}

func tempNames(t *testing.T, dir string) []string {
	var found []string
	for _, n := range names(t, dir) {
		if strings.Contains(n, tempMarker) {
			found = append(found, n)
		}
	}
	return found
}

// A link at the output's own name is replaced (with Overwrite) or counted as existing
// (without); what it points to is never written.
func TestRootReplacesALinkNotItsTarget(t *testing.T) {
	vdir, check := victim(t)
	out := t.TempDir()
	must(t, os.Symlink(filepath.Join(vdir, "important.jpg"), filepath.Join(out, "a.jpg")))
	w := &Writer{Dir: out, Ext: ".jpg"}
	defer w.Close()
	f := walkFile(t.TempDir(), "a.png")
	if _, err := w.Write(context.Background(), f, writeString("thumb")); !errors.Is(err, ErrExists) {
		t.Fatalf("without Overwrite: %v", err)
	}
	w.Overwrite = true
	if _, err := w.Write(context.Background(), f, writeString("thumb")); err != nil {
		t.Fatal(err)
	}
	info, err := os.Lstat(filepath.Join(out, "a.jpg"))
	must(t, err)
	if !info.Mode().IsRegular() || readString(t, filepath.Join(out, "a.jpg")) != "thumb" {
		t.Fatalf("a.jpg is %v", info.Mode())
	}
	check()
}

// Links inside the output folder that stay inside it are followed; the folder named as the
// output may itself be a link.
func TestRootFollowsLinksThatStayInside(t *testing.T) {
	real := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(real, "data", "2024"), 0o755))
	must(t, os.Symlink(filepath.Join("data", "2024"), filepath.Join(real, "current")))
	out := filepath.Join(t.TempDir(), "out-link")
	must(t, os.Symlink(real, out))
	w := &Writer{Dir: out, Ext: ".jpg"}
	defer w.Close()
	path, err := w.Write(context.Background(), walkFile(t.TempDir(), "current/a.png"), writeString("x"))
	if err != nil || path != filepath.Join(out, "current", "a.jpg") {
		t.Fatalf("Write = %q, %v", path, err)
	}
	if got := readString(t, filepath.Join(real, "data", "2024", "a.jpg")); got != "x" {
		t.Fatalf("content %q", got)
	}
}

// A link loop in the output tree fails the one write that meets it, and nothing escapes.
func TestRootLinkLoop(t *testing.T) {
	out := t.TempDir()
	must(t, os.Symlink("loop", filepath.Join(out, "loop")))
	must(t, os.Symlink("b", filepath.Join(out, "a")))
	must(t, os.Symlink("a", filepath.Join(out, "b")))
	w := &Writer{Dir: out, Ext: ".jpg"}
	defer w.Close()
	for _, rel := range []string{"loop/x.png", "a/x.png"} {
		if _, err := w.Write(context.Background(), walkFile(t.TempDir(), rel), writeString("x")); err == nil {
			t.Errorf("Write through %s succeeded", rel)
		}
	}
	if _, err := w.Write(context.Background(), walkFile(t.TempDir(), "ok.png"), writeString("x")); err != nil {
		t.Fatal(err)
	}
	if tmp := tempNames(t, out); len(tmp) > 0 {
		t.Errorf("temporary files left: %q", tmp)
	}
}

func TestRootRefusesNamesOutsideIt(t *testing.T) {
	out := t.TempDir()
	r, err := OpenRoot(out)
	must(t, err)
	defer r.Close()
	for _, rel := range []string{"../x", "/etc/x", "a/../../x", ""} {
		if err := r.WriteFile(context.Background(), rel, Options{}, writeString("x")); err == nil {
			t.Errorf("WriteFile(%q) succeeded", rel)
		}
		if _, err := r.Lstat(rel); err == nil && rel != "" {
			t.Errorf("Lstat(%q) succeeded", rel)
		}
	}
	if files := names(t, filepath.Dir(out)); len(files) != 0 {
		t.Errorf("files around the root: %q", files)
	}
}

// An output never replaces an input of the run: with Overwrite it fails, without it fails
// too rather than count the input as an output already there.
func TestWriterProtectsInputs(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "a.jpg"), []byte("original a"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "b.png"), []byte("original png"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "ax.jpg"), []byte("original ax"), 0o644))
	var inputs []walk.File
	must(t, walk.Walk(context.Background(), []string{dir}, walk.Options{}, func(f walk.File) error {
		inputs = append(inputs, f)
		return nil
	}))
	tmpl, err := ParseTemplate("{name}x.{ext}") // a.jpg → ax.jpg, which is an input
	must(t, err)
	for _, overwrite := range []bool{false, true} {
		w := &Writer{Dir: dir, Template: tmpl, Ext: ".jpg", Options: Options{Overwrite: overwrite}}
		plan, err := w.Plan(context.Background(), slices2seq(inputs))
		must(t, err)
		w.Protect = plan.Protect
		a := inputs[0] // a.jpg
		if done, err := w.Done(a); done || !errors.Is(err, ErrInput) {
			t.Errorf("overwrite %v: Done = %v, %v; want ErrInput", overwrite, done, err)
		}
		if _, err := w.Write(context.Background(), a, writeString("thumb")); !errors.Is(err, ErrInput) {
			t.Errorf("overwrite %v: Write = %v; want ErrInput", overwrite, err)
		}
		w.Close()
	}
	// Its own input, with the default template: refused even without a plan.
	w := &Writer{Dir: dir, Ext: ".jpg", Options: Options{Overwrite: true}}
	defer w.Close()
	if _, err := w.Write(context.Background(), walkFile(dir, "a.jpg"), writeString("thumb")); !errors.Is(err, ErrInput) ||
		!strings.Contains(err.Error(), "its own input") {
		t.Errorf("own input: %v", err)
	}
	for name, want := range map[string]string{"a.jpg": "original a", "b.png": "original png", "ax.jpg": "original ax"} {
		if got := readString(t, filepath.Join(dir, name)); got != want {
			t.Errorf("%s holds %q", name, got)
		}
	}
	if files := names(t, dir); len(files) != 3 {
		t.Errorf("files %q", files)
	}
}

// A hard link to an input, at an output's name in another folder, is an input by identity.
func TestProtectByIdentityNotPath(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	must(t, os.WriteFile(filepath.Join(in, "b.jpg"), []byte("original"), 0o644))
	must(t, os.Link(filepath.Join(in, "b.jpg"), filepath.Join(out, "b.jpg")))
	var inputs []walk.File
	must(t, walk.Walk(context.Background(), []string{in}, walk.Options{}, func(f walk.File) error {
		inputs = append(inputs, f)
		return nil
	}))
	w := &Writer{Dir: out, Ext: ".jpg", Options: Options{Overwrite: true}}
	defer w.Close()
	plan, err := w.Plan(context.Background(), slices2seq(inputs))
	must(t, err)
	w.Protect = plan.Protect
	if _, err := w.Write(context.Background(), walkFile(t.TempDir(), "b.png"), writeString("x")); !errors.Is(err, ErrInput) {
		t.Fatalf("Write over a hard link to an input: %v", err)
	}
	info, _ := os.Stat(filepath.Join(out, "b.jpg"))
	if !plan.IsInput(info) || readString(t, filepath.Join(out, "b.jpg")) != "original" {
		t.Fatal("the link was replaced")
	}
}

func slices2seq(files []walk.File) func(func(walk.File, error) bool) {
	return func(yield func(walk.File, error) bool) {
		for _, f := range files {
			if !yield(f, nil) {
				return
			}
		}
	}
}

// The error os.Root gives for a path that leaves it is the one escapes recognises: this
// fails first if a Go release changes it.
func TestEscapesRecognisesOsRoot(t *testing.T) {
	out := t.TempDir()
	must(t, os.Symlink("..", filepath.Join(out, "up")))
	r, err := os.OpenRoot(out)
	must(t, err)
	defer r.Close()
	_, err = r.Lstat(filepath.Join("up", "x"))
	if err == nil || !escapes(err) {
		t.Fatalf("os.Root says %v; escapes does not recognise it", err)
	}
	if escapes(fs.ErrNotExist) {
		t.Fatal("escapes(ErrNotExist)")
	}
}

// Names in errors reach a terminal escaped.
func TestErrorsEscapeNames(t *testing.T) {
	out := t.TempDir()
	bad := filepath.Join(out, "clear\x1b[2J\nx.jpg")
	must(t, os.WriteFile(bad, nil, 0o644))
	err := WriteFile(context.Background(), bad, Options{}, writeString("x"))
	if !errors.Is(err, ErrExists) || strings.ContainsAny(err.Error(), "\x1b\n") || !strings.Contains(err.Error(), `\x1b[2J\nx.jpg`) {
		t.Fatalf("error %q", err)
	}
	tm, _ := ParseTemplate("../{name}.{ext}")
	_, err = tm.Expand(walk.File{Root: "/in", Rel: "a\x1b.png"}, ".jpg")
	if err == nil || strings.Contains(err.Error(), "\x1b") {
		t.Fatalf("template error %q", err)
	}
	link := filepath.Join(out, "sub\x1b]0;title\a")
	must(t, os.Symlink("/", link))
	w := &Writer{Dir: out, Ext: ".jpg"}
	defer w.Close()
	_, err = w.Write(context.Background(), walk.File{Root: "/in", Rel: filepath.Join(filepath.Base(link), "a.png")}, writeString("x"))
	if !errors.Is(err, ErrOutside) || strings.ContainsAny(err.Error(), "\x1b\a") {
		t.Fatalf("outside error %q", err)
	}
}
