package output

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gpupipe/gpupipe/internal/termsafe"
)

// ErrOutside is the error (wrapped in an *OutsideError) for a write that a symbolic link in
// the output tree would take outside the output folder.
var ErrOutside = errors.New("a symbolic link leads outside the output folder")

// OutsideError names the link that would take a write outside the output folder.
type OutsideError struct {
	Link   string // the link, as a path under the output folder ("" when not found)
	Target string // what it points to
}

func (e *OutsideError) Error() string {
	switch {
	case e.Link == "":
		return ErrOutside.Error()
	case filepath.IsAbs(e.Target):
		return fmt.Sprintf("%s is a symbolic link to the absolute path %s: a link inside the output folder must be relative and stay inside it",
			termsafe.Name(e.Link), termsafe.Name(e.Target))
	}
	return fmt.Sprintf("%s is a symbolic link to %s, which leads outside the output folder",
		termsafe.Name(e.Link), termsafe.Name(e.Target))
}

func (e *OutsideError) Unwrap() error { return ErrOutside }

// Root is an output folder opened as a root: every folder, temporary file and output made
// through it, and the final link or rename, lie beneath it. A symbolic link inside the tree
// that leads outside it, or is absolute, is refused with an *OutsideError naming the link;
// links that stay inside are followed. The folder named when opening may itself be a link
// (such as a scratch disk's mount point): it is resolved once, then, and is the root.
//
// A Root is safe for concurrent use. It holds a file descriptor until Close.
type Root struct {
	dir  string
	root *os.Root
}

// OpenRoot opens the existing folder dir as a Root.
func OpenRoot(dir string) (*Root, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, &Error{Path: dir, Op: "open folder", Err: unwrapPath(err)}
	}
	return &Root{dir: dir, root: r}, nil
}

// CreateRoot opens the folder dir as a Root, creating it and its parents when missing.
func CreateRoot(dir string) (*Root, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, &Error{Path: dir, Op: "create folder", Err: unwrapPath(err)}
	}
	return OpenRoot(dir)
}

// Dir is the folder as it was named when opened.
func (r *Root) Dir() string { return r.dir }

// Path is the path of rel under the folder, for messages and for readers.
func (r *Root) Path(rel string) string { return filepath.Join(r.dir, rel) }

// Close releases the folder.
func (r *Root) Close() error { return r.root.Close() }

// Lstat describes the file at rel without following a link there; links in the folders
// above it are followed only while they stay inside the root.
func (r *Root) Lstat(rel string) (fs.FileInfo, error) {
	if err := local(rel); err != nil {
		return nil, &Error{Path: r.Path(rel), Op: "check", Err: err}
	}
	info, err := r.root.Lstat(rel)
	if err != nil {
		return nil, r.fail(r.Path(rel), rel, "check", err)
	}
	return info, nil
}

// WriteFile writes the file at rel atomically, as the package's WriteFile does, with
// everything beneath the root.
func (r *Root) WriteFile(ctx context.Context, rel string, opts Options, write func(io.Writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := r.Create(rel, opts)
	if err != nil {
		return err
	}
	return f.finish(ctx, write)
}

// Create starts writing the file at rel, creating its folders as needed. Without Overwrite
// it returns ErrExists (or Protect's error) when the file exists.
func (r *Root) Create(rel string, opts Options) (*File, error) {
	path := r.Path(rel)
	if err := local(rel); err != nil {
		return nil, &Error{Path: path, Op: "create", Err: err}
	}
	rel = filepath.Clean(rel)
	if !opts.Overwrite {
		if info, err := r.root.Lstat(rel); err == nil {
			return nil, &Error{Path: path, Op: "create", Err: existing(info, opts)}
		}
	}
	dir := filepath.Dir(rel)
	if dir != "." {
		if err := r.root.MkdirAll(dir, 0o755); err != nil {
			return nil, r.fail(path, rel, "create folder", err)
		}
	}
	perm := opts.Perm
	if perm == 0 {
		perm = 0o644
	}
	f, tmp, err := createTemp(r.root, dir, filepath.Base(rel), perm)
	if err != nil {
		return nil, r.fail(path, rel, "create", err)
	}
	return &File{f: f, root: r, tmp: tmp, rel: rel, path: path, opts: opts}, nil
}

// local refuses a name that is not a path beneath the folder.
func local(rel string) error {
	if !filepath.IsLocal(rel) {
		return errors.New("not a path inside the output folder")
	}
	return nil
}

// existing is the error for a destination found in place: ErrExists, or Protect's.
func existing(info fs.FileInfo, opts Options) error {
	if opts.Protect != nil {
		if err := opts.Protect(info); err != nil {
			return err
		}
	}
	return ErrExists
}

// commit moves tmp to rel. Without Overwrite it links rather than renames, because a link
// fails when rel exists and a rename would replace it; on file systems without hard links
// it checks and renames. A rename replaces a link at rel, never what the link points to.
func (r *Root) commit(tmp, rel string, opts Options) error {
	if opts.Overwrite {
		if opts.Protect != nil {
			if info, err := r.root.Lstat(rel); err == nil {
				if err := opts.Protect(info); err != nil {
					return err
				}
			}
		}
		return r.root.Rename(tmp, rel)
	}
	err := r.root.Link(tmp, rel)
	switch {
	case err == nil:
		return r.root.Remove(tmp)
	case errors.Is(err, fs.ErrExist):
		if info, serr := r.root.Lstat(rel); serr == nil {
			return existing(info, opts)
		}
		return ErrExists
	}
	if info, serr := r.root.Lstat(rel); serr == nil {
		return existing(info, opts)
	}
	return r.root.Rename(tmp, rel)
}

// fail turns an error of an operation on rel into an *Error for path, naming the link that
// leads outside the root where that is the cause.
func (r *Root) fail(path, rel, op string, err error) error {
	if errors.Is(err, ErrExists) || errors.Is(err, ErrInput) {
		return &Error{Path: path, Op: op, Err: err}
	}
	var oe *Error
	if errors.As(err, &oe) {
		return err
	}
	if escapes(err) {
		return &Error{Path: path, Op: op, Err: r.outside(rel)}
	}
	return &Error{Path: path, Op: op, Err: unwrapPath(err)}
}

// escapes reports whether err is os.Root's refusal of a path that leaves the root. The os
// package does not export that error; its text is checked by this package's tests.
func escapes(err error) bool {
	return strings.HasSuffix(unwrapPath(err).Error(), "path escapes from parent")
}

// outside finds the link on the way to rel that leaves the root.
func (r *Root) outside(rel string) error {
	parts := strings.Split(filepath.Clean(rel), string(filepath.Separator))
	for i := range parts {
		p := filepath.Join(parts[:i+1]...)
		info, err := r.root.Lstat(p)
		if err != nil {
			break
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if _, err := r.root.Stat(p); err != nil && escapes(err) {
			target, _ := r.root.Readlink(p)
			return &OutsideError{Link: r.Path(p), Target: target}
		}
	}
	return &OutsideError{}
}
