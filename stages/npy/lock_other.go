//go:build !unix

package npy

import (
	"errors"
	"io"
	"os"
)

var errLocked = errors.New("locked by another writer")

// lockFile creates path if needed. Without flock, two writers of one prefix are not kept
// apart.
func lockFile(path string) (io.Closer, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}
