package npy

import (
	"errors"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
)

// On a full disk the error names the shard, is sticky, and no temporary file is left.
func TestShardsDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a small tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	w, err := NewShardWriter(Options{Dir: dir, Height: 64, Width: 64, Channels: 3, RowsPerShard: 50})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	var addErr error
	for i := 0; i < 100 && addErr == nil; i++ {
		addErr = w.AddImage(randomImage(rng, 64, 64, 3), "x.jpg")
	}
	t.Log(addErr)
	if !errors.Is(addErr, syscall.ENOSPC) || !strings.Contains(addErr.Error(), "shard-00000.npy") ||
		!strings.Contains(addErr.Error(), "disk full") {
		t.Fatalf("err = %v", addErr)
	}
	if err := w.AddImage(randomImage(rng, 64, 64, 3), "y.jpg"); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("the error is not sticky: %v", err)
	}
	if err := w.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Close: %v", err)
	}
	for _, name := range files(t, dir) {
		if strings.Contains(name, ".tmp-") || strings.HasSuffix(name, ".npy") {
			t.Errorf("left %s", name)
		}
	}
}
