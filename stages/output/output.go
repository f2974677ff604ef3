// Package output writes result files so that nothing is ever half written: each file is
// written to a temporary name in its destination folder and renamed into place only once
// complete, so a reader, a crash or a cancelled run never sees a partial file under the final
// name. A Writer maps each input file to its output path with a name template, mirroring the
// input tree by default, and skips outputs that exist unless told to overwrite them, which
// is what lets a rerun pick up where a stopped run left off.
//
// A Root is an output folder opened so that nothing written through it lands outside it,
// whatever symbolic links the tree holds (os.Root underneath): the temporary files, the
// folders made for outputs and the final link or rename all happen beneath it. Before a run,
// Writer.Plan checks that no two inputs map to one output and learns which files are the
// run's inputs, which no output then replaces.
//
// A process killed with SIGKILL cannot remove its temporary files; Sweep removes them at the
// start of the next run.
package output

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/gpupipe/gpupipe/internal/termsafe"
)

// ErrExists is returned when an output is already there and overwriting was not asked for.
var ErrExists = errors.New("output exists")

// ErrInput is returned when an output would replace a file that Options.Protect protects:
// an input of the run.
var ErrInput = errors.New("output would replace an input of the run")

// errOwnInput is ErrInput for the output of a file that would replace the file itself, as an
// output folder equal to the input folder gives.
var errOwnInput error = &inputError{"output would replace its own input"}

type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }
func (e *inputError) Unwrap() error { return ErrInput }

// Error is a failure to write one output file.
type Error struct {
	Path string
	Op   string // what failed: "create folder", "create", "write", "rename"...
	Err  error
}

func (e *Error) Error() string {
	msg := e.Err.Error()
	if errors.Is(e.Err, syscall.ENOSPC) || errors.Is(e.Err, syscall.EDQUOT) {
		msg += " (disk full)"
	}
	return fmt.Sprintf("output %s: %s: %s", termsafe.Name(e.Path), e.Op, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Options control WriteFile.
type Options struct {
	// Overwrite replaces an existing file; without it WriteFile returns ErrExists and leaves
	// the file alone.
	Overwrite bool
	// Sync flushes the file to the disk before renaming it, so that it survives a power
	// loss, at the cost of a disk round trip per file.
	Sync bool
	// Perm is the new file's permission bits before the umask; 0 means 0o644.
	Perm fs.FileMode
	// Protect, when set, is asked about a file found at the destination before it would be
	// replaced (with Overwrite) or reported as existing (without): a non-nil error, which
	// should wrap ErrInput, keeps the file and fails the write with it. Writer.Plan's
	// Plan.Protect refuses every input of the run.
	Protect func(fs.FileInfo) error
}

// WriteFile writes a file at path atomically: write writes the content to a temporary file
// in path's folder (created, with its parents, as needed), which is then renamed to path.
// On any failure, and when ctx is done before the rename, the temporary file is removed and
// path is untouched. Without Overwrite, an existing path is never replaced, even when it
// appears while the content is being written.
//
// The folder is the caller's: links in path are followed as named. To keep a tree of
// outputs inside one folder whatever links it holds, write through a Root.
func WriteFile(ctx context.Context, path string, opts Options, write func(io.Writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := Create(path, opts)
	if err != nil {
		return err
	}
	return f.finish(ctx, write)
}

// finish writes the content of a new file and commits it, or aborts it on any failure.
func (f *File) finish(ctx context.Context, write func(io.Writer) error) error {
	bw := bufio.NewWriterSize(f.f, 64<<10)
	err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = ctx.Err() // cancelled while writing: the file must not appear
	}
	if err != nil {
		f.Abort()
		return wrap(f.path, "write", err)
	}
	return f.Commit()
}

// File is an output file being written: a temporary file in the destination folder that
// becomes the destination on Commit, or disappears on Abort. Use it for files written over
// time, such as tensor shards; WriteFile covers the rest. A File is not safe for concurrent
// use.
type File struct {
	f       file
	root    *Root
	ownRoot bool   // root was opened for this file alone: closed when it ends
	tmp     string // the temporary file, relative to root
	rel     string // the destination, relative to root
	path    string // the destination as the caller knows it, for messages
	opts    Options
	done    bool
}

// Create starts writing the file at path, creating its folder as needed. Without Overwrite
// it returns ErrExists when path exists.
func Create(path string, opts Options) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" || base == "." || base == ".." {
		return nil, &Error{Path: path, Op: "create", Err: errors.New("not a file name")}
	}
	if !opts.Overwrite {
		if info, err := os.Lstat(path); err == nil {
			return nil, &Error{Path: path, Op: "create", Err: existing(info, opts)}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, &Error{Path: path, Op: "create folder", Err: unwrapPath(err)}
	}
	r, err := OpenRoot(dir)
	if err != nil {
		return nil, &Error{Path: path, Op: "open folder", Err: errors.Unwrap(err)}
	}
	f, err := r.Create(base, opts)
	if err != nil {
		r.Close()
		return nil, err
	}
	f.ownRoot, f.path = true, path
	return f, nil
}

// Path is where the file appears on Commit.
func (f *File) Path() string { return f.path }

// Write writes to the temporary file. Errors are *Error values naming the destination.
func (f *File) Write(p []byte) (int, error) {
	n, err := f.f.Write(p)
	if err != nil {
		err = wrap(f.path, "write", err)
	}
	return n, err
}

// Seek moves within the temporary file, so a header can be written last.
func (f *File) Seek(off int64, whence int) (int64, error) {
	n, err := f.f.Seek(off, whence)
	if err != nil {
		err = wrap(f.path, "seek", err)
	}
	return n, err
}

// Commit closes the file and moves it to its destination (flushing it to the disk first
// with Sync). On failure the temporary file is removed. It returns ErrExists when the
// destination appeared meanwhile and Overwrite is not set, and the error of
// Options.Protect when the destination is a file it protects.
func (f *File) Commit() error {
	if f.done {
		return &Error{Path: f.path, Op: "commit", Err: os.ErrClosed}
	}
	f.done = true
	defer f.release()
	var err error
	if f.opts.Sync {
		err = f.f.Sync()
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		f.root.root.Remove(f.tmp)
		return wrap(f.path, "write", err)
	}
	if err := f.root.commit(f.tmp, f.rel, f.opts); err != nil {
		f.root.root.Remove(f.tmp)
		return f.root.fail(f.path, f.rel, "rename", err)
	}
	return nil
}

// Abort closes and removes the temporary file; the destination is untouched. It is safe to
// call after Commit, where it does nothing, so it can be deferred.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.f.Close()
	f.root.root.Remove(f.tmp)
	f.release()
}

func (f *File) release() {
	if f.ownRoot {
		f.root.Close()
	}
}

// wrap gives an error the path unless it has one, or is one the caller tests for as it is.
func wrap(path, op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var oe *Error
	if errors.As(err, &oe) {
		return err
	}
	return &Error{Path: path, Op: op, Err: unwrapPath(err)}
}

// file is what WriteFile needs of an *os.File; tests substitute one that fails.
type file interface {
	io.WriteSeeker
	Sync() error
	Close() error
}

var openFile = func(root *os.Root, name string, perm fs.FileMode) (file, error) {
	return root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
}

// tempPrefixMax keeps temporary names within the 255-byte limit of common file systems.
const tempPrefixMax = 160

// createTemp creates ".<base>.tmp-<host>-<pid>-<random>" in dir, a folder relative to root,
// and returns its name relative to root. The host and process ids let Sweep tell the files
// of a dead process from those of a running one.
func createTemp(root *os.Root, dir, base string, perm fs.FileMode) (file, string, error) {
	for len(base) > tempPrefixMax {
		_, size := utf8.DecodeLastRuneInString(base)
		base = base[:len(base)-size]
	}
	var rnd [6]byte
	for range 100 {
		rand.Read(rnd[:])
		name := filepath.Join(dir, fmt.Sprintf(".%s%s%s-%d-%s", base, tempMarker, hostID(), os.Getpid(), hex.EncodeToString(rnd[:])))
		f, err := openFile(root, name, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", errors.New("cannot find a free temporary name")
}

const tempMarker = ".tmp-"

// hostID is a short hash of the host name, identifying this machine in temporary names.
func hostID() string {
	name, _ := os.Hostname()
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("%08x", h.Sum32())
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// parseTemp reads the host id and process id from a temporary file name made by createTemp.
func parseTemp(name string) (host string, pid int, ok bool) {
	if len(name) < 2 || name[0] != '.' {
		return "", 0, false
	}
	i := strings.LastIndex(name, tempMarker)
	if i < 1 {
		return "", 0, false
	}
	rest := name[i+len(tempMarker):] // host-pid-random
	if len(rest) < 8+1+1+1+12 || rest[8] != '-' {
		return "", 0, false
	}
	host = rest[:8]
	if _, err := hex.DecodeString(host); err != nil {
		return "", 0, false
	}
	rest = rest[9:]
	j := strings.LastIndex(rest, "-")
	if j < 1 || len(rest)-j-1 != 12 {
		return "", 0, false
	}
	if _, err := hex.DecodeString(rest[j+1:]); err != nil {
		return "", 0, false
	}
	pid, err := strconv.Atoi(rest[:j])
	if err != nil || pid <= 0 {
		return "", 0, false
	}
	return host, pid, true
}
