package output

import (
	"errors"
	"io/fs"
	"path/filepath"
	"time"
)

// DefaultSweepAge is the age past which Sweep removes a temporary file whatever wrote it.
const DefaultSweepAge = 24 * time.Hour

// Sweep removes, under the folder dir, the temporary files that WriteFile leaves when its
// process is killed; see Root.Sweep. A missing folder is not an error.
func Sweep(dir string, maxAge time.Duration) ([]string, error) {
	r, err := OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Sweep(maxAge)
}

// Sweep removes the temporary files that WriteFile leaves under the root when its process
// is killed: those written by a process of this machine that is no longer running, and
// those not modified for maxAge (0 means DefaultSweepAge), which covers other machines
// sharing the folder. Files of running processes are left alone, so two runs may share an
// output folder. Links are not followed, and a folder that cannot be read (a mount point's
// lost+found) is skipped: the sweep is housekeeping, and it never stops a run. It returns
// the paths it removed; the error is for a root that cannot be read at all.
func (r *Root) Sweep(maxAge time.Duration) ([]string, error) {
	if maxAge <= 0 {
		maxAge = DefaultSweepAge
	}
	me := hostID()
	var removed []string
	err := fs.WalkDir(sweepFS(r), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return &Error{Path: r.dir, Op: "sweep", Err: unwrapPath(err)}
			}
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		host, pid, ok := parseTemp(d.Name())
		if !ok {
			return nil
		}
		stale := host == me && !processAlive(pid)
		if !stale {
			info, err := d.Info()
			if err != nil {
				return nil // gone already: its writer renamed or removed it
			}
			stale = time.Since(info.ModTime()) > maxAge
		}
		if !stale {
			return nil
		}
		rel := filepath.FromSlash(p)
		if err := r.root.Remove(rel); err == nil {
			removed = append(removed, r.Path(rel))
		}
		return nil // one that cannot be removed is left for another sweep
	})
	return removed, err
}

// sweepFS is the tree Sweep walks; tests substitute one with folders that cannot be read.
var sweepFS = func(r *Root) fs.FS { return r.root.FS() }
