package output

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A real full disk: a 64 KiB tmpfs, where the system allows mounting one (root with the
// capability to mount; otherwise the injected failure of TestWriteFileDiskFull stands in).
func TestWriteFileRealDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a small tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	path := filepath.Join(dir, "out", "big.jpg")
	err := WriteFile(context.Background(), path, Options{}, writeString(strings.Repeat("x", 1<<20)))
	checkDiskFull(t, err, path)
	if files := names(t, dir); len(files) != 0 {
		t.Fatalf("left %q", files)
	}
	// Room for a small file: the failed one gave its space back.
	if err := WriteFile(context.Background(), filepath.Join(dir, "small"), Options{}, writeString("ok")); err != nil {
		t.Fatal(err)
	}
}
