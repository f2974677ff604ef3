package walk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tree creates files (paths ending in "/" are folders) under a fresh folder.
func tree(t *testing.T, paths ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, p := range paths {
		full := filepath.Join(root, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			must(t, os.MkdirAll(full, 0o755))
			continue
		}
		must(t, os.MkdirAll(filepath.Dir(full), 0o755))
		must(t, os.WriteFile(full, []byte(p), 0o644))
	}
	return root
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// rels walks and returns the slash-separated relative paths found.
func rels(t *testing.T, roots []string, opts Options) []string {
	t.Helper()
	var got []string
	err := Walk(context.Background(), roots, opts, func(f File) error {
		got = append(got, filepath.ToSlash(f.Rel))
		return nil
	})
	must(t, err)
	return got
}

func TestOrderRecursionAndFilter(t *testing.T) {
	root := tree(t,
		"b.JPG", "a.png", "c.txt", "sub/z.jpeg", "sub/deeper/y.Webp", "a/x.gif",
		"folder.jpg/inner.bmp", ".hidden.jpg", ".cache/k.jpg", "sub/.h/q.png", "noext",
	)
	got := rels(t, []string{root}, Options{Exts: []string{"jpg", ".JPEG", ".png", "gif", "bmp", "webp"}})
	want := []string{"a/x.gif", "a.png", "b.JPG", "folder.jpg/inner.bmp", "sub/deeper/y.Webp", "sub/z.jpeg"}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}

	all := rels(t, []string{root}, Options{Hidden: true})
	for _, p := range []string{".hidden.jpg", ".cache/k.jpg", "sub/.h/q.png", "c.txt", "noext"} {
		if !slices.Contains(all, p) {
			t.Errorf("Hidden walk misses %s: %q", p, all)
		}
	}
	if again := rels(t, []string{root}, Options{Hidden: true}); !slices.Equal(all, again) {
		t.Fatalf("two walks differ:\n%q\n%q", all, again)
	}
}

func TestFileFields(t *testing.T) {
	root := tree(t, "d/e.jpg")
	var got []File
	must(t, Walk(context.Background(), []string{root + "/"}, Options{}, func(f File) error {
		got = append(got, f)
		return nil
	}))
	if len(got) != 1 {
		t.Fatalf("got %v", got)
	}
	f := got[0]
	if f.Root != root || f.Rel != filepath.Join("d", "e.jpg") || f.Size != int64(len("d/e.jpg")) {
		t.Fatalf("got %+v", f)
	}
	if f.Path() != filepath.Join(root, "d", "e.jpg") || f.Label() != f.Path() {
		t.Fatalf("Path %q Label %q", f.Path(), f.Label())
	}
}

func TestMissingRoot(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	err := Walk(context.Background(), []string{missing}, Options{}, func(File) error { return nil })
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
	if !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("error does not name the folder and reason: %v", err)
	}
}

func TestRootIsFile(t *testing.T) {
	root := tree(t, "one.dat")
	var got []File
	must(t, Walk(context.Background(), []string{filepath.Join(root, "one.dat")}, Options{Exts: ImageExts},
		func(f File) error { got = append(got, f); return nil }))
	if len(got) != 1 || got[0].Root != root || got[0].Rel != "one.dat" {
		t.Fatalf("got %+v", got)
	}
}

func TestSymlinkLoopsAndDuplicates(t *testing.T) {
	root := tree(t, "a/1.jpg", "b/2.jpg", "outside/3.jpg")
	must(t, os.Symlink("..", filepath.Join(root, "a", "up")))               // loop to the root
	must(t, os.Symlink(filepath.Join(root, "a"), filepath.Join(root, "c"))) // second way into a
	must(t, os.Symlink("2.jpg", filepath.Join(root, "b", "link.jpg")))      // link to a file
	must(t, os.Symlink("b", filepath.Join(root, "b", "self")))              // b/self -> b/b (broken)
	got := rels(t, []string{root}, Options{Exts: []string{".jpg"}})
	want := []string{"a/1.jpg", "b/2.jpg", "b/link.jpg", "outside/3.jpg"}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}

	// A link to a folder outside the root is followed.
	other := tree(t, "x/4.png")
	must(t, os.Symlink(other, filepath.Join(root, "ext")))
	got = rels(t, []string{root}, Options{Exts: []string{".png"}})
	if !slices.Equal(got, []string{"ext/x/4.png"}) {
		t.Fatalf("got %q", got)
	}
}

func TestOverlappingRootsVisitOnce(t *testing.T) {
	root := tree(t, "a/1.jpg", "a/b/2.jpg")
	var n int
	must(t, Walk(context.Background(), []string{filepath.Join(root, "a", "b"), root}, Options{},
		func(File) error { n++; return nil }))
	if n != 2 {
		t.Fatalf("found %d files, want 2", n)
	}
}

func TestProblemsGoToOnError(t *testing.T) {
	root := tree(t, "ok.jpg")
	must(t, os.Symlink("missing.jpg", filepath.Join(root, "broken.jpg")))
	must(t, os.Symlink("missing.txt", filepath.Join(root, "broken.txt"))) // not asked for: silent
	must(t, syscall.Mkfifo(filepath.Join(root, "pipe.jpg"), 0o644))

	var problems []string
	opts := Options{Exts: []string{".jpg"}, OnError: func(path string, err error) error {
		problems = append(problems, fmt.Sprintf("%s: %v", filepath.Base(path), err))
		return nil
	}}
	got := rels(t, []string{root}, opts)
	if !slices.Equal(got, []string{"ok.jpg"}) {
		t.Fatalf("got %q", got)
	}
	if len(problems) != 2 || !strings.Contains(problems[0], "broken.jpg") ||
		!strings.Contains(problems[0], "broken link") || !strings.Contains(problems[1], "pipe.jpg: walk:") ||
		!strings.Contains(problems[1], "not a regular file") {
		t.Fatalf("problems %q", problems)
	}

	// Without OnError the first problem stops the walk, naming the path.
	err := Walk(context.Background(), []string{root}, Options{Exts: []string{".jpg"}}, func(File) error { return nil })
	var we *Error
	if !errors.As(err, &we) || filepath.Base(we.Path) != "broken.jpg" {
		t.Fatalf("err = %v", err)
	}
}

func TestUnreadableFolder(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("permissions do not apply to root")
	}
	root := tree(t, "a/1.jpg", "b/2.jpg")
	locked := filepath.Join(root, "a")
	must(t, os.Chmod(locked, 0))
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	var problems []string
	got := rels(t, []string{root}, Options{OnError: func(path string, err error) error {
		problems = append(problems, path)
		return nil
	}})
	if !slices.Equal(got, []string{"b/2.jpg"}) || len(problems) != 1 || problems[0] != locked {
		t.Fatalf("got %q, problems %q", got, problems)
	}
}

func TestCallbackErrorStops(t *testing.T) {
	root := tree(t, "1.jpg", "2.jpg", "3.jpg")
	boom := errors.New("boom")
	var n int
	err := Walk(context.Background(), []string{root}, Options{}, func(File) error {
		n++
		if n == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 2 {
		t.Fatalf("err %v after %d files", err, n)
	}
}

func TestCancellation(t *testing.T) {
	root := tree(t, "1.jpg", "2.jpg", "3.jpg", "4.jpg")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n int
	err := Walk(ctx, []string{root}, Options{}, func(File) error {
		n++
		if n == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 2 {
		t.Fatalf("err %v after %d files", err, n)
	}
}

func TestSeq(t *testing.T) {
	root := tree(t, "1.jpg", "2.jpg", "3.jpg")
	var got []string
	for f, err := range Seq(context.Background(), []string{root}, Options{}) {
		must(t, err)
		got = append(got, f.Rel)
		if len(got) == 2 {
			break
		}
	}
	if !slices.Equal(got, []string{"1.jpg", "2.jpg"}) {
		t.Fatalf("got %q", got)
	}
	var errs int
	for _, err := range Seq(context.Background(), []string{filepath.Join(root, "none")}, Options{}) {
		if err == nil {
			t.Fatal("missing root yielded a file")
		}
		errs++
	}
	if errs != 1 {
		t.Fatalf("%d errors", errs)
	}
}

func TestShardsPartitionTheList(t *testing.T) {
	var paths []string
	for i := range 23 {
		paths = append(paths, fmt.Sprintf("d%d/f%02d.jpg", i%4, i))
	}
	root := tree(t, paths...)
	all := rels(t, []string{root}, Options{})
	if n, err := Count(context.Background(), []string{root}, Options{}); err != nil || n != len(all) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(all))
	}
	for _, n := range []int{1, 2, 3, 5, 23, 30} {
		var joined []string
		for i := range n {
			part := rels(t, []string{root}, Options{Shard: Shard{Index: i, Count: n}})
			lo, hi := Shard{i, n}.Range(len(all))
			if !slices.Equal(part, all[lo:hi]) {
				t.Fatalf("shard %d/%d = %q, want %q", i, n, part, all[lo:hi])
			}
			if d := len(part) - len(all)/n; d < 0 || d > 1 {
				t.Fatalf("shard %d/%d has %d of %d files", i, n, len(part), len(all))
			}
			joined = append(joined, part...)
		}
		if !slices.Equal(joined, all) {
			t.Fatalf("%d shards join to %q", n, joined)
		}
	}
}

func TestShardProblemsReportedOnce(t *testing.T) {
	root := tree(t, "a.jpg", "b.jpg", "d.jpg", "e.jpg")
	must(t, os.Symlink("nowhere", filepath.Join(root, "c.jpg")))
	total := 0
	for i := range 3 {
		rels(t, []string{root}, Options{Shard: Shard{i, 3}, OnError: func(string, error) error {
			total++
			return nil
		}})
	}
	if total != 1 {
		t.Fatalf("broken link reported %d times over 3 shards", total)
	}
}

func TestParseShard(t *testing.T) {
	for in, want := range map[string]Shard{"": {}, "0/1": {0, 1}, "2/4": {2, 4}, " 1 / 3 ": {1, 3}} {
		got, err := ParseShard(in)
		if err != nil || got != want {
			t.Errorf("ParseShard(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"4/4", "-1/3", "1/0", "a/b", "3", "1/2/3"} {
		if _, err := ParseShard(in); err == nil {
			t.Errorf("ParseShard(%q) accepted", in)
		}
	}
	if s := (Shard{1, 4}).String(); s != "1/4" {
		t.Errorf("String = %q", s)
	}
	if err := Walk(context.Background(), nil, Options{Shard: Shard{5, 2}}, nil); err == nil {
		t.Error("Walk accepted shard 5/2")
	}
}

// An output folder inside the input folder is left out, under any path that reaches it; a
// root is never left out, and a folder that does not exist changes nothing.
func TestExclude(t *testing.T) {
	root := tree(t, "a.jpg", "sub/b.jpg", "thumbs/a.jpg", "thumbs/thumbs/a.jpg", "other/c.jpg")
	out := filepath.Join(root, "thumbs")
	must(t, os.Symlink(out, filepath.Join(root, "again"))) // a second way into the output
	opts := Options{Exclude: []string{out, filepath.Join(root, "missing")}}
	want := []string{"a.jpg", "other/c.jpg", "sub/b.jpg"}
	if got := rels(t, []string{root}, opts); !slices.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if n, err := Count(context.Background(), []string{root}, opts); err != nil || n != len(want) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(want))
	}
	// Named by another path: still the same folder.
	opts.Exclude = []string{filepath.Join(root, "sub", "..", "again")}
	if got := rels(t, []string{root}, opts); !slices.Equal(got, want) {
		t.Fatalf("excluded through a link: got %q", got)
	}
	// A root is walked even when excluded: out equal to in.
	if got := rels(t, []string{out}, Options{Exclude: []string{out}}); !slices.Equal(got, []string{"a.jpg", "thumbs/a.jpg"}) {
		t.Fatalf("excluded root: got %q", got)
	}
}

func TestFileIdentity(t *testing.T) {
	root := tree(t, "a.jpg", "b.jpg")
	must(t, os.Link(filepath.Join(root, "a.jpg"), filepath.Join(root, "hard.jpg")))
	must(t, os.Symlink("b.jpg", filepath.Join(root, "soft.jpg")))
	ids := map[string]ID{}
	must(t, Walk(context.Background(), []string{root}, Options{}, func(f File) error {
		ids[filepath.ToSlash(f.Rel)] = f.ID
		info, err := os.Stat(f.Path())
		must(t, err)
		if id, ok := IDOf(info); !ok || id != f.ID || f.ID.IsZero() {
			t.Errorf("%s: ID %v, want %v", f.Rel, f.ID, id)
		}
		return nil
	}))
	if ids["a.jpg"] != ids["hard.jpg"] || ids["b.jpg"] != ids["soft.jpg"] || ids["a.jpg"] == ids["b.jpg"] {
		t.Fatalf("ids %v", ids)
	}
	// A root that is a file has its identity too.
	must(t, Walk(context.Background(), []string{filepath.Join(root, "a.jpg")}, Options{}, func(f File) error {
		if f.ID != ids["a.jpg"] {
			t.Errorf("root file ID %v, want %v", f.ID, ids["a.jpg"])
		}
		return nil
	}))
}

// Names in errors are printable: a control character in a file name does not reach the
// terminal raw.
func TestErrorsEscapeNames(t *testing.T) {
	root := tree(t)
	bad := filepath.Join(root, "clear\x1b[2J\nx.jpg")
	must(t, syscall.Mkfifo(bad, 0o644))
	err := Walk(context.Background(), []string{root}, Options{}, func(File) error { return nil })
	var we *Error
	if !errors.As(err, &we) || we.Path != bad {
		t.Fatalf("err = %v", err)
	}
	if msg := err.Error(); strings.ContainsAny(msg, "\x1b\n") || !strings.Contains(msg, `\x1b[2J\nx.jpg`) {
		t.Fatalf("message %q", msg)
	}
	err = Walk(context.Background(), []string{filepath.Join(root, "missing\x1b")}, Options{}, func(File) error { return nil })
	if err == nil || strings.Contains(err.Error(), "\x1b") {
		t.Fatalf("missing root: %q", err)
	}
}
