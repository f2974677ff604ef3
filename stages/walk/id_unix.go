//go:build unix

package walk

import (
	"io/fs"
	"syscall"
)

// fileID identifies a folder by device and inode, so a folder reached twice (through a link
// loop, or two links) is recognised.
type fileID struct{ dev, ino uint64 }

func idOf(_ string, info fs.FileInfo) (fileID, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true
}

// IDOf returns the identity of the file info describes (from os.Stat or os.Lstat); false
// where the system gives none.
func IDOf(info fs.FileInfo) (ID, bool) {
	if info == nil {
		return ID{}, false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return ID{}, false
	}
	return ID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, true
}
