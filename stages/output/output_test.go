package output

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

// names lists every file under root, relative and slash-separated.
func names(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

func readString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteFile(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "a", "b", "out.jpg")
	if err := WriteFile(context.Background(), path, Options{Sync: true}, writeString("hello")); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, path); got != "hello" {
		t.Fatalf("content %q", got)
	}
	if got := names(t, root); !slices.Equal(got, []string{"a/b/out.jpg"}) {
		t.Fatalf("files %q", got)
	}
	umask := syscall.Umask(0)
	syscall.Umask(umask)
	info, _ := os.Stat(path)
	if want := fs.FileMode(0o644) &^ fs.FileMode(umask); info.Mode().Perm() != want {
		t.Fatalf("mode %v, want %v", info.Mode().Perm(), want)
	}
}

func TestWriteFileExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jpg")
	must(t, os.WriteFile(path, []byte("old"), 0o644))
	called := false
	err := WriteFile(context.Background(), path, Options{}, func(io.Writer) error { called = true; return nil })
	if !errors.Is(err, ErrExists) || called || readString(t, path) != "old" {
		t.Fatalf("err %v, write called %v, content %q", err, called, readString(t, path))
	}
	if err := WriteFile(context.Background(), path, Options{Overwrite: true}, writeString("new")); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, path); got != "new" {
		t.Fatalf("content %q", got)
	}
}

// A file that appears while the output is being written is not replaced.
func TestWriteFileNoClobberRace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jpg")
	err := WriteFile(context.Background(), path, Options{}, func(w io.Writer) error {
		must(t, os.WriteFile(path, []byte("theirs"), 0o644))
		_, err := io.WriteString(w, "mine")
		return err
	})
	if !errors.Is(err, ErrExists) || readString(t, path) != "theirs" {
		t.Fatalf("err %v, content %q", err, readString(t, path))
	}
	if got := names(t, dir); !slices.Equal(got, []string{"out.jpg"}) {
		t.Fatalf("files %q", got)
	}
}

func TestWriteFileConcurrentSamePath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jpg")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			errs[i] = WriteFile(context.Background(), path, Options{}, writeString(strings.Repeat(fmt.Sprint(i), 100_000)))
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrExists):
			t.Fatal(err)
		}
	}
	got := readString(t, path)
	if won != 1 || len(got) != 100_000 || strings.Count(got, got[:1]) != 100_000 {
		t.Fatalf("%d writers won; content is %d bytes", won, len(got))
	}
	if files := names(t, dir); len(files) != 1 {
		t.Fatalf("files %q", files)
	}
}

func TestWriteFileFailureLeavesNothing(t *testing.T) {
	boom := errors.New("encoder failed")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cases := map[string]struct {
		ctx   context.Context
		write func(io.Writer) error
		is    error
	}{
		"write error": {context.Background(), func(w io.Writer) error {
			io.WriteString(w, strings.Repeat("x", 200_000))
			return boom
		}, boom},
		"cancelled while writing": {ctx, func(w io.Writer) error {
			io.WriteString(w, "partial")
			cancel()
			return nil
		}, context.Canceled},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.jpg")
			err := WriteFile(c.ctx, path, Options{}, c.write)
			if !errors.Is(err, c.is) {
				t.Fatalf("err = %v, want %v", err, c.is)
			}
			if files := names(t, dir); len(files) != 0 {
				t.Fatalf("left %q", files)
			}
		})
	}
	// Already cancelled: nothing is created at all, not even the folder.
	dir := t.TempDir()
	if err := WriteFile(ctx, filepath.Join(dir, "sub", "x"), Options{}, writeString("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left %v", entries)
	}
}

// fullFile fails its writes with ENOSPC once limit bytes are written, as a full disk does.
type fullFile struct {
	*os.File
	limit int
}

func (f *fullFile) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n, _ := f.File.Write(p[:f.limit])
		f.limit = 0
		return n, &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	f.limit -= len(p)
	return f.File.Write(p)
}

// WriteString keeps the embedded file's own WriteString from bypassing Write.
func (f *fullFile) WriteString(s string) (int, error) { return f.Write([]byte(s)) }

func TestWriteFileDiskFull(t *testing.T) {
	orig := openFile
	defer func() { openFile = orig }()
	openFile = func(root *os.Root, name string, perm fs.FileMode) (file, error) {
		f, err := orig(root, name, perm)
		if err != nil {
			return nil, err
		}
		return &fullFile{File: f.(*os.File), limit: 1000}, nil
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "big.jpg")
	err := WriteFile(context.Background(), path, Options{}, writeString(strings.Repeat("x", 100_000)))
	checkDiskFull(t, err, path)
	if files := names(t, dir); len(files) != 0 {
		t.Fatalf("left %q", files)
	}
}

func checkDiskFull(t *testing.T, err error, path string) {
	t.Helper()
	var oe *Error
	if !errors.Is(err, syscall.ENOSPC) || !errors.As(err, &oe) || oe.Path != path {
		t.Fatalf("err = %#v, want an *Error for %s wrapping ENOSPC", err, path)
	}
	if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "disk full") {
		t.Fatalf("message %q does not name the file and say the disk is full", msg)
	}
}

func TestWriterPaths(t *testing.T) {
	in := t.TempDir()
	out := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(in, "2024"), 0o755))
	src := filepath.Join(in, "2024", "a.png")
	must(t, os.WriteFile(src, []byte("png"), 0o644))
	f := walkFile(in, "2024/a.png")
	w := &Writer{Dir: out, Ext: ".jpg"}
	p, err := w.Path(f)
	if err != nil || p != filepath.Join(out, "2024", "a.jpg") {
		t.Fatalf("Path = %q, %v", p, err)
	}
	if done, err := w.Done(f); done || err != nil {
		t.Fatalf("Done before writing = %v, %v", done, err)
	}
	if got, err := w.Write(context.Background(), f, writeString("jpg")); err != nil || got != p {
		t.Fatalf("Write = %q, %v", got, err)
	}
	if done, err := w.Done(f); !done || err != nil {
		t.Fatalf("Done after writing = %v, %v", done, err)
	}
	if _, err := w.Write(context.Background(), f, writeString("again")); !errors.Is(err, ErrExists) {
		t.Fatalf("second Write: %v", err)
	}
	w.Overwrite = true
	if done, _ := w.Done(f); done {
		t.Fatal("Done with Overwrite")
	}

	// An output folder that is the input folder, with the input's own extension, would
	// replace the input: refused.
	same := &Writer{Dir: in, Ext: "png", Options: Options{Overwrite: true}}
	if _, err := same.Write(context.Background(), f, writeString("gone")); err == nil ||
		!strings.Contains(err.Error(), "replace its own input") {
		t.Fatalf("writing over the input: %v", err)
	}
	if readString(t, src) != "png" {
		t.Fatal("input replaced")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestWriteFileUnwritableFolder(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	must(t, os.WriteFile(blocker, nil, 0o644))
	path := filepath.Join(blocker, "sub", "out.jpg") // a folder where a file is
	err := WriteFile(context.Background(), path, Options{}, writeString("x"))
	var oe *Error
	if !errors.As(err, &oe) || oe.Op != "create folder" || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
}

func TestTempNames(t *testing.T) {
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	f, name, err := createTemp(root, ".", strings.Repeat("é", 200)+".jpg", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	base := filepath.Base(name)
	host, pid, ok := parseTemp(base)
	if !ok || host != hostID() || pid != os.Getpid() || len(base) > 255 {
		t.Fatalf("parseTemp(%q) = %q, %d, %v", base, host, pid, ok)
	}
	if !bytes.Equal([]byte(base), bytes.ToValidUTF8([]byte(base), nil)) {
		t.Fatalf("temporary name %q is not valid UTF-8", base)
	}
	for _, s := range []string{"a.jpg", ".a.jpg", ".a.tmp-zz", ".a.tmp-0123abcd-12-0123456789ab-x",
		".a.tmp-0123abcd-x-0123456789ab", "a.tmp-0123abcd-12-0123456789ab", ".a.tmp-0123abcd-12-0123"} {
		if _, _, ok := parseTemp(s); ok {
			t.Errorf("parseTemp(%q) accepted", s)
		}
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shard.npy")
	f, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	io.WriteString(f, "....data")
	if _, err := os.Stat(path); err == nil {
		t.Fatal("the destination exists before Commit")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	io.WriteString(f, "HEAD")
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Abort() // after Commit: nothing
	if got := readString(t, path); got != "HEADdata" || f.Path() != path {
		t.Fatalf("content %q", got)
	}
	if err := f.Commit(); err == nil {
		t.Fatal("second Commit succeeded")
	}
	if _, err := Create(path, Options{}); !errors.Is(err, ErrExists) {
		t.Fatalf("Create over an existing file: %v", err)
	}
	g, err := Create(filepath.Join(dir, "other"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(g, "abandoned")
	g.Abort()
	if files := names(t, dir); !slices.Equal(files, []string{"shard.npy"}) {
		t.Fatalf("files %q", files)
	}
}
