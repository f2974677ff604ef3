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
