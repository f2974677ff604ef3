//go:build unix

package npy

import (
	"errors"
	"io"
	"os"
	"syscall"
)

var errLocked = errors.New("locked by another writer")

// lockFile creates path if needed and takes an exclusive lock on it, which lasts until the
// returned Closer is closed or the process ends, however it ends.
func lockFile(path string) (io.Closer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return f, nil
}
