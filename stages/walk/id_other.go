//go:build !unix

package walk

import (
	"io/fs"
	"path/filepath"
)

// fileID identifies a folder by its path with every link resolved, where the system gives no
// device and inode numbers.
type fileID struct{ path string }

func idOf(path string, _ fs.FileInfo) (fileID, bool) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fileID{}, false
	}
	abs, err := filepath.Abs(real)
	if err != nil {
		return fileID{}, false
	}
	return fileID{path: abs}, true
}

// IDOf returns the identity of the file info describes; this system gives none, so it is
// always false.
func IDOf(fs.FileInfo) (ID, bool) { return ID{}, false }
