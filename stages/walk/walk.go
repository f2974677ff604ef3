// Package walk finds the input files of a run: it walks one or more folders recursively and
// streams the files it finds, in a deterministic order, to a callback or an iterator.
//
// The order is depth-first with the entries of each folder sorted by name (the order of
// filepath.WalkDir), roots in the order given. Hidden files and folders (names starting with
// a dot) are skipped; extensions are matched case-insensitively; symbolic links are followed,
// and each folder is entered at most once (folders are identified by device and inode), so a
// link loop or two links to the same folder do not repeat files. A folder named "x.jpg" is a
// folder. Only regular files are returned: a FIFO named "x.jpg" would block its reader.
//
// Folders named in Options.Exclude are left out wherever the walk meets them, matched by
// identity: a run whose output folder lies inside its input folder does not read its own
// outputs back.
//
// Memory is bounded by the largest single folder plus one entry per folder visited, never by
// the number of files.
package walk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"

	"github.com/gpupipe/gpupipe/internal/termsafe"
)

// File is one input file.
type File struct {
	Root string // the root it was found under, as given (cleaned)
	Rel  string // its path relative to Root
	Size int64  // its size in bytes (of the target, for a symbolic link)
	// ID is the file's identity (of the target, for a symbolic link), which tells a run's
	// inputs from other files whatever their paths; zero where the system gives none.
	ID ID
	// Store, when set, holds the file: it is not a local file but, say, an object in a
	// bucket (package stages/blob), read through Store.Open. Root then names the store's
	// root (a URL) and Path is Store.Name(Rel).
	Store Store
}

// Store holds files that are not on the local file system, such as objects under a prefix
// of a bucket. Its methods are safe for concurrent use.
type Store interface {
	// Open starts reading the file at rel (a path relative to the store's root, with "/"
	// between folders) and returns its size now, which may differ from the size the
	// listing gave if it changed since. Closing the reader ends the read early.
	Open(ctx context.Context, rel string) (r io.ReadCloser, size int64, err error)
	// Name names the file at rel in messages and reports, such as "s3://bucket/dir/a.jpg".
	Name(rel string) string
}

// Path is the file's path: Root joined with Rel, or the name its Store gives it.
func (f File) Path() string {
	if f.Store != nil {
		return f.Store.Name(f.Rel)
	}
	return filepath.Join(f.Root, f.Rel)
}

// Label names the file in error messages and reports.
func (f File) Label() string { return f.Path() }

// ImageExts are the extensions of the image formats the project decodes.
var ImageExts = []string{".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".heic", ".heif", ".avif"}

// Options control a walk. The zero value returns every non-hidden regular file.
type Options struct {
	// Exts keeps only files with one of these extensions, compared case-insensitively; the
	// leading dot is optional. Empty keeps every file.
	Exts []string
	// Hidden includes files and folders whose names start with a dot.
	Hidden bool
	// Shard selects one contiguous part of the sorted file list; the zero value selects all.
	Shard Shard
	// Exclude names folders to leave out, such as an output folder inside an input folder.
	// They are matched by identity, so a folder reached under another path or through a
	// link is left out too; one that does not exist is ignored. A root is never left out:
	// naming a folder as an input is asking for it.
	Exclude []string
	// OnError is called for a problem below a root (an unreadable folder, a broken link, a
	// matching name that is not a regular file). Returning nil skips the entry and goes on;
	// returning an error stops the walk with it. A nil OnError stops at the first problem.
	OnError func(path string, err error) error
}

// Walk calls fn for every file under roots, in order. It stops at the first error returned by
// fn or OnError, or when ctx is done, and returns that error. A root that does not exist is
// an error naming it; a root that is a file is returned as a file, whatever its extension.
//
// With a Shard of more than one part, Walk first counts the files in a separate pass (reading
// folders only), then walks again and returns the selected range.
func Walk(ctx context.Context, roots []string, opts Options, fn func(File) error) error {
	if err := opts.Shard.validate(); err != nil {
		return err
	}
	lo, hi, last := 0, -1, true
	if opts.Shard.Count > 1 {
		n, err := Count(ctx, roots, Options{Exts: opts.Exts, Hidden: opts.Hidden})
		if err != nil {
			return err
		}
		lo, hi = opts.Shard.Range(n)
		last = opts.Shard.Index == opts.Shard.Count-1
	}
	w := newWalker(ctx, opts, fn)
	w.lo, w.hi, w.last = lo, hi, last
	return w.run(roots)
}

// Count returns the number of files Walk would visit with opts and no shard. Problems below
// the roots are skipped silently, as the walk that follows meets and reports them.
func Count(ctx context.Context, roots []string, opts Options) (int, error) {
	opts.Shard = Shard{}
	opts.OnError = func(string, error) error { return nil }
	w := newWalker(ctx, opts, func(File) error { return nil })
	err := w.run(roots)
	return w.index, err
}

// Seq returns the walk as an iterator. A walk error is yielded last, with a zero File;
// breaking out of the loop stops the walk.
func Seq(ctx context.Context, roots []string, opts Options) iter.Seq2[File, error] {
	return func(yield func(File, error) bool) {
		err := Walk(ctx, roots, opts, func(f File) error {
			if !yield(f, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(File{}, err)
		}
	}
}

// errStop ends a walk early without an error.
var errStop = errors.New("walk: stop")

type walker struct {
	ctx     context.Context
	opts    Options
	exts    map[string]bool
	fn      func(File) error
	visited map[fileID]bool
	exclude map[fileID]bool
	index   int // files seen so far, in or out of the shard
	lo, hi  int // the shard's range; hi < 0 means no end
	last    bool
}

func newWalker(ctx context.Context, opts Options, fn func(File) error) *walker {
	w := &walker{ctx: ctx, opts: opts, fn: fn, visited: map[fileID]bool{}, hi: -1, last: true}
	if len(opts.Exts) > 0 {
		w.exts = map[string]bool{}
		for _, e := range opts.Exts {
			e = strings.ToLower(e)
			if !strings.HasPrefix(e, ".") {
				e = "." + e
			}
			w.exts[e] = true
		}
	}
	for _, dir := range opts.Exclude {
		info, err := os.Stat(dir)
		if err != nil || !info.IsDir() {
			continue
		}
		if id, ok := idOf(dir, info); ok {
			if w.exclude == nil {
				w.exclude = map[fileID]bool{}
			}
			w.exclude[id] = true
		}
	}
	return w
}

func (w *walker) run(roots []string) error {
	for _, root := range roots {
		err := w.root(filepath.Clean(root))
		if errors.Is(err, errStop) && w.hi >= 0 && w.index >= w.hi {
			return nil // the shard is complete
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) root(root string) error {
	info, err := os.Stat(root)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("walk: input %s: %w", termsafe.Name(root), err)
	}
	if !info.IsDir() {
		if !info.Mode().IsRegular() {
			return fmt.Errorf("walk: input %s: not a folder or a regular file", termsafe.Name(root))
		}
		id, _ := IDOf(info)
		return w.emit(File{Root: filepath.Dir(root), Rel: filepath.Base(root), Size: info.Size(), ID: id})
	}
	if id, ok := idOf(root, info); ok {
		if w.visited[id] {
			return nil
		}
		w.visited[id] = true
	}
	return w.dir(root, "")
}

// dir walks the folder root/rel, whose identity is already marked visited.
func (w *walker) dir(root, rel string) error {
	path := filepath.Join(root, rel)
	entries, err := os.ReadDir(path)
	if err != nil {
		// ReadDir returns the entries it read before the error: report, then walk those.
		if perr := w.problem(path, fmt.Errorf("reading folder: %w", unwrapPath(err))); perr != nil {
			return perr
		}
	}
	for _, e := range entries {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		if !w.opts.Hidden && strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := w.entry(root, filepath.Join(rel, e.Name()), e); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) entry(root, rel string, e fs.DirEntry) error {
	path := filepath.Join(root, rel)
	typ := e.Type()
	if typ.IsDir() || typ&fs.ModeSymlink != 0 {
		info, err := os.Stat(path) // follows links
		if err != nil {
			if typ.IsDir() || !w.matches(rel) {
				return nil // a folder that vanished, or a broken link nobody asked for
			}
			return w.problem(path, fmt.Errorf("broken link: %w", unwrapPath(err)))
		}
		if info.IsDir() {
			return w.subdir(root, rel, path, info)
		}
		return w.file(root, rel, path, info)
	}
	if !w.matches(rel) {
		return nil
	}
	info, err := e.Info()
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed since the folder was read
		}
		return w.problem(path, unwrapPath(err))
	}
	return w.file(root, rel, path, info)
}

func (w *walker) subdir(root, rel, path string, info fs.FileInfo) error {
	if id, ok := idOf(path, info); ok {
		if w.visited[id] || w.exclude[id] {
			return nil
		}
		w.visited[id] = true
	}
	return w.dir(root, rel)
}

func (w *walker) file(root, rel, path string, info fs.FileInfo) error {
	if !w.matches(rel) {
		return nil
	}
	if !info.Mode().IsRegular() {
		return w.problem(path, errors.New("not a regular file"))
	}
	id, _ := IDOf(info)
	return w.emit(File{Root: root, Rel: rel, Size: info.Size(), ID: id})
}

func (w *walker) matches(rel string) bool {
	return w.exts == nil || w.exts[strings.ToLower(filepath.Ext(rel))]
}

func (w *walker) emit(f File) error {
	i := w.index
	w.index++
	if i < w.lo {
		return nil
	}
	if w.hi >= 0 && i >= w.hi {
		return errStop
	}
	return w.fn(f)
}

// problem routes an error about path to OnError, if this shard owns the position where it
// was met: each problem is reported by exactly one shard.
func (w *walker) problem(path string, err error) error {
	owned := w.index >= w.lo && (w.hi < 0 || w.index < w.hi || w.last)
	if !owned {
		return nil
	}
	err = &Error{Path: path, Err: err}
	if w.opts.OnError == nil {
		return err
	}
	return w.opts.OnError(path, err)
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Error is a problem with one path below a root.
type Error struct {
	Path string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("walk: %s: %v", termsafe.Name(e.Path), e.Err) }

func (e *Error) Unwrap() error { return e.Err }
