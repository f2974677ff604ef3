package output

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/gpupipe/gpupipe/stages/walk"
)

// Writer writes one output file per input file under Dir, named by Template. It is safe for
// concurrent use once configured.
//
// Everything it writes goes through a Root on Dir, opened on first use: no link inside the
// output folder takes a write outside it. An output never replaces its own input (as an
// output folder equal to the input folder could), and, with Options.Protect set from a Plan,
// never any input of the run.
type Writer struct {
	// Dir is the output folder.
	Dir string
	// Template names outputs; nil means DefaultTemplate.
	Template *Template
	// Ext is the output format's extension, such as ".jpg".
	Ext string
	Options

	mu   sync.Mutex
	root *Root
}

var defaultTemplate, _ = ParseTemplate(DefaultTemplate)

func (w *Writer) template() *Template {
	if w.Template == nil {
		return defaultTemplate
	}
	return w.Template
}

// Rel returns the output path for f relative to Dir.
func (w *Writer) Rel(f walk.File) (string, error) {
	return w.template().Expand(f, w.Ext)
}

// Path returns the output path for f.
func (w *Writer) Path(f walk.File) (string, error) {
	rel, err := w.Rel(f)
	if err != nil {
		return "", err
	}
	return filepath.Join(w.Dir, rel), nil
}

// Root returns the output folder, opened on first use. With create a missing folder is
// made; without, a missing folder gives a nil Root and no error (nothing exists there yet).
func (w *Writer) Root(create bool) (*Root, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.root != nil {
		return w.root, nil
	}
	open := OpenRoot
	if create {
		open = CreateRoot
	}
	r, err := open(w.Dir)
	if err != nil {
		if !create && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	w.root = r
	return r, nil
}

// Close releases the output folder, if the Writer opened it.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.root == nil {
		return nil
	}
	err := w.root.Close()
	w.root = nil
	return err
}

// Done reports whether f's output exists and will be skipped: a rerun checks this before
// decoding, so finished work costs one stat. With Overwrite it is always false. An output
// that is an input (f itself, or one Protect refuses) is an error, never done.
func (w *Writer) Done(f walk.File) (bool, error) {
	rel, err := w.Rel(f)
	if err != nil {
		return false, err
	}
	root, err := w.Root(false)
	if root == nil || err != nil {
		return false, err
	}
	info, err := root.Lstat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	}
	if err := w.protect(f)(info); err != nil {
		return false, &Error{Path: root.Path(rel), Op: "plan", Err: err}
	}
	return !w.Overwrite, nil
}

// Pending reports whether f still needs its output: the opposite of Done, in the shape of
// a pipeline.Filter function, so that a rerun drops finished files before decoding them.
func (w *Writer) Pending(_ context.Context, f walk.File) (bool, error) {
	done, err := w.Done(f)
	return !done, err
}

// Write writes f's output atomically and returns its path. It returns ErrExists, wrapped in
// an *Error naming the path, when the output is there and Overwrite is not set.
func (w *Writer) Write(ctx context.Context, f walk.File, write func(io.Writer) error) (string, error) {
	rel, err := w.Rel(f)
	if err != nil {
		return "", err
	}
	root, err := w.Root(true)
	if err != nil {
		return "", err
	}
	opts := w.Options
	opts.Protect = w.protect(f)
	if w.Overwrite {
		// Refuse before encoding; Commit checks again just before the rename.
		if info, err := root.root.Lstat(rel); err == nil {
			if err := opts.Protect(info); err != nil {
				return root.Path(rel), &Error{Path: root.Path(rel), Op: "plan", Err: err}
			}
		}
	}
	return root.Path(rel), root.WriteFile(ctx, rel, opts, write)
}

// protect refuses to replace f itself, then what Options.Protect refuses.
func (w *Writer) protect(f walk.File) func(fs.FileInfo) error {
	self := f.ID
	if self.IsZero() { // a File made by hand rather than by walk
		if info, err := os.Stat(f.Path()); err == nil {
			self, _ = walk.IDOf(info)
		}
	}
	return func(info fs.FileInfo) error {
		if id, ok := walk.IDOf(info); ok && !self.IsZero() && id == self {
			return errOwnInput
		}
		if w.Protect != nil {
			return w.Protect(info)
		}
		return nil
	}
}
