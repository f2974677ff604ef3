package output

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gpupipe/gpupipe/stages/walk"
)

// Writer writes one output file per input file under Dir, named by Template. It is safe for
// concurrent use once configured.
type Writer struct {
	// Dir is the output folder.
	Dir string
	// Template names outputs; nil means DefaultTemplate.
	Template *Template
	// Ext is the output format's extension, such as ".jpg".
	Ext string
	Options
}

// errSameAsInput refuses to write an output over the file it was made from.
var errSameAsInput = errors.New("output would replace its own input")

var defaultTemplate, _ = ParseTemplate(DefaultTemplate)

// Path returns the output path for f. It refuses a path that is f itself, which an output
// folder equal to the input folder would give.
func (w *Writer) Path(f walk.File) (string, error) {
	t := w.Template
	if t == nil {
		t = defaultTemplate
	}
	rel, err := t.Expand(f, w.Ext)
	if err != nil {
		return "", err
	}
	out := filepath.Join(w.Dir, rel)
	if samePath(out, f.Path()) {
		return "", &Error{Path: out, Op: "plan", Err: errSameAsInput}
	}
	return out, nil
}

func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	if err1 != nil || err2 != nil {
		return false
	}
	if aa == bb {
		return true
	}
	ia, err1 := os.Stat(aa)
	ib, err2 := os.Stat(bb)
	return err1 == nil && err2 == nil && os.SameFile(ia, ib)
}

// Done reports whether f's output exists and will be skipped: a rerun checks this before
// decoding, so finished work costs one stat. With Overwrite it is always false.
func (w *Writer) Done(f walk.File) (bool, error) {
	if w.Overwrite {
		return false, nil
	}
	path, err := w.Path(f)
	if err != nil {
		return false, err
	}
	_, err = os.Lstat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, &Error{Path: path, Op: "check", Err: unwrapPath(err)}
}

// Pending reports whether f still needs its output: the opposite of Done, in the shape of
// a pipeline.Filter function, so that a rerun drops finished files before decoding them.
func (w *Writer) Pending(_ context.Context, f walk.File) (bool, error) {
	done, err := w.Done(f)
	return !done, err
}

// Write writes f's output atomically with WriteFile and returns its path. It returns
// ErrExists, with the path, when the output is there and Overwrite is not set.
func (w *Writer) Write(ctx context.Context, f walk.File, write func(io.Writer) error) (string, error) {
	path, err := w.Path(f)
	if err != nil {
		return "", err
	}
	return path, WriteFile(ctx, path, w.Options, write)
}
