package output

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// DefaultSweepAge is the age past which Sweep removes a temporary file whatever wrote it.
const DefaultSweepAge = 24 * time.Hour

// Sweep removes, under root, the temporary files that WriteFile leaves when its process is
// killed: those written by a process of this machine that is no longer running, and those
// not modified for maxAge (0 means DefaultSweepAge), which covers other machines sharing
// the folder. Files of running processes are left alone, so two runs may share an output
// folder. It returns the paths it removed; a missing root is not an error.
func Sweep(root string, maxAge time.Duration) ([]string, error) {
	if maxAge <= 0 {
		maxAge = DefaultSweepAge
	}
	me := hostID()
	var removed []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipAll
			}
			return err
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
		if stale {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			removed = append(removed, path)
		}
		return nil
	})
	return removed, err
}
