// Package output writes result files so that nothing is ever half written: each file is
// written to a temporary name in its destination folder and renamed into place only once
// complete, so a reader, a crash or a cancelled run never sees a partial file under the final
// name. A Writer maps each input file to its output path with a name template, mirroring the
// input tree by default, and skips outputs that exist unless told to overwrite them, which
// is what lets a rerun pick up where a stopped run left off.
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
)

// ErrExists is returned when an output is already there and overwriting was not asked for.
var ErrExists = errors.New("output exists")

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
	return fmt.Sprintf("output %s: %s: %s", e.Path, e.Op, msg)
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
}

// WriteFile writes a file at path atomically: write writes the content to a temporary file
// in path's folder (created, with its parents, as needed), which is then renamed to path.
// On any failure, and when ctx is done before the rename, the temporary file is removed and
// path is untouched. Without Overwrite, an existing path is never replaced, even when it
// appears while the content is being written.
func WriteFile(ctx context.Context, path string, opts Options, write func(io.Writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := Create(path, opts)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = ctx.Err() // cancelled while writing: the file must not appear
	}
	if err != nil {
		f.Abort()
		return wrap(path, "write", err)
	}
	return f.Commit()
}

// File is an output file being written: a temporary file in the destination folder that
// becomes the destination on Commit, or disappears on Abort. Use it for files written over
// time, such as tensor shards; WriteFile covers the rest. A File is not safe for concurrent
// use.
type File struct {
	f    file
	tmp  string
	path string
	opts Options
	done bool
}

// Create starts writing the file at path, creating its folder as needed. Without Overwrite
// it returns ErrExists when path exists.
func Create(path string, opts Options) (*File, error) {
	if !opts.Overwrite {
		if _, err := os.Lstat(path); err == nil {
			return nil, ErrExists
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, &Error{Path: path, Op: "create folder", Err: unwrapPath(err)}
	}
	perm := opts.Perm
	if perm == 0 {
		perm = 0o644
	}
	f, tmp, err := createTemp(filepath.Dir(path), filepath.Base(path), perm)
	if err != nil {
		return nil, &Error{Path: path, Op: "create", Err: unwrapPath(err)}
	}
	return &File{f: f, tmp: tmp, path: path, opts: opts}, nil
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
// destination appeared meanwhile and Overwrite is not set.
func (f *File) Commit() error {
	if f.done {
		return &Error{Path: f.path, Op: "commit", Err: os.ErrClosed}
	}
	f.done = true
	var err error
	if f.opts.Sync {
		err = f.f.Sync()
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.tmp)
		return wrap(f.path, "write", err)
	}
	if err := commit(f.tmp, f.path, f.opts.Overwrite); err != nil {
		os.Remove(f.tmp)
		return wrap(f.path, "rename", err)
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
	os.Remove(f.tmp)
}

// wrap gives an error the path unless it is one the caller tests for as it is.
func wrap(path, op string, err error) error {
	if errors.Is(err, ErrExists) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var oe *Error
	if errors.As(err, &oe) {
		return err
	}
	return &Error{Path: path, Op: op, Err: unwrapPath(err)}
}

// commit moves tmp to path. Without overwrite it links rather than renames, because a link
// fails when path exists and a rename would replace it; on file systems without hard links
// it checks and renames.
func commit(tmp, path string, overwrite bool) error {
	if overwrite {
		return os.Rename(tmp, path)
	}
	err := os.Link(tmp, path)
	switch {
	case err == nil:
		return os.Remove(tmp)
	case errors.Is(err, fs.ErrExist):
		return ErrExists
	}
	if _, serr := os.Lstat(path); serr == nil {
		return ErrExists
	}
	return os.Rename(tmp, path)
}

// file is what WriteFile needs of an *os.File; tests substitute one that fails.
type file interface {
	io.WriteSeeker
	Sync() error
	Close() error
}

var openFile = func(name string, perm fs.FileMode) (file, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
}

// tempPrefixMax keeps temporary names within the 255-byte limit of common file systems.
const tempPrefixMax = 160

// createTemp creates ".<base>.tmp-<host>-<pid>-<random>" in dir. The host and process ids
// let Sweep tell the files of a dead process from those of a running one.
func createTemp(dir, base string, perm fs.FileMode) (file, string, error) {
	for len(base) > tempPrefixMax {
		_, size := utf8.DecodeLastRuneInString(base)
		base = base[:len(base)-size]
	}
	var rnd [6]byte
	for range 100 {
		rand.Read(rnd[:])
		name := filepath.Join(dir, fmt.Sprintf(".%s%s%s-%d-%s", base, tempMarker, hostID(), os.Getpid(), hex.EncodeToString(rnd[:])))
		f, err := openFile(name, perm)
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
