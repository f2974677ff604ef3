package output

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/stages/walk"
)

func walkFile(root, rel string) walk.File {
	return walk.File{Root: root, Rel: filepath.FromSlash(rel)}
}

// deadPID returns the id of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	must(t, cmd.Run())
	return cmd.Process.Pid
}

func TestSweep(t *testing.T) {
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "sub"), 0o755))
	me, other := hostID(), "0badf00d"
	if me == other {
		other = "0badf00e"
	}
	files := map[string]bool{ // name → removed
		fmt.Sprintf("sub/.a.jpg.tmp-%s-%d-0123456789ab", me, deadPID(t)): true,  // dead here
		fmt.Sprintf(".b.jpg.tmp-%s-%d-0123456789ab", me, os.Getpid()):    false, // alive
		fmt.Sprintf(".c.jpg.tmp-%s-%d-0123456789ab", other, 999999):      false, // elsewhere, recent
		fmt.Sprintf("sub/.d.jpg.tmp-%s-%d-0123456789ab", other, 999999):  true,  // elsewhere, old
		"e.jpg":               false,
		".f.jpg.tmp-whatever": false,
	}
	for name := range files {
		must(t, os.WriteFile(filepath.Join(root, filepath.FromSlash(name)), []byte("x"), 0o644))
	}
	old := time.Now().Add(-48 * time.Hour)
	oldName := filepath.Join(root, "sub", fmt.Sprintf(".d.jpg.tmp-%s-%d-0123456789ab", other, 999999))
	must(t, os.Chtimes(oldName, old, old))

	removed, err := Sweep(root, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for name, gone := range files {
		_, err := os.Stat(filepath.Join(root, filepath.FromSlash(name)))
		if gone {
			want = append(want, filepath.Join(root, filepath.FromSlash(name)))
			if err == nil {
				t.Errorf("%s was kept", name)
			}
		} else if err != nil {
			t.Errorf("%s was removed", name)
		}
	}
	slices.Sort(removed)
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Fatalf("removed %q, want %q", removed, want)
	}
	if r, err := Sweep(filepath.Join(root, "missing"), 0); err != nil || len(r) != 0 {
		t.Fatalf("missing root: %v, %v", r, err)
	}
}

// A writer killed with SIGKILL leaves its temporary file and no output; Sweep removes the
// temporary file afterwards.
func TestSweepAfterKill(t *testing.T) {
	if dir := os.Getenv("OUTPUT_TEST_KILL_DIR"); dir != "" {
		WriteFile(context.Background(), filepath.Join(dir, "out.jpg"), Options{}, func(w io.Writer) error {
			io.WriteString(w, "partial")
			w.(interface{ Flush() error }).Flush()
			select {} // wait to be killed
		})
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSweepAfterKill$")
	cmd.Env = append(os.Environ(), "OUTPUT_TEST_KILL_DIR="+dir)
	must(t, cmd.Start())
	deadline := time.Now().Add(20 * time.Second)
	for len(names(t, dir)) == 0 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the child wrote nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()
	left := names(t, dir)
	if len(left) != 1 || left[0] == "out.jpg" {
		t.Fatalf("after the kill: %q", left)
	}
	removed, err := Sweep(dir, 0)
	if err != nil || len(removed) != 1 {
		t.Fatalf("Sweep: %q, %v", removed, err)
	}
	if left := names(t, dir); len(left) != 0 {
		t.Fatalf("after Sweep: %q", left)
	}
}
