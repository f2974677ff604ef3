package output

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
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

// unreadable is a tree in which some folders cannot be read, as a mount point's lost+found
// cannot by anyone but root.
type unreadable struct {
	fs.FS
	dirs map[string]bool
}

func (u unreadable) ReadDir(name string) ([]fs.DirEntry, error) {
	if u.dirs[name] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return fs.ReadDir(u.FS, name)
}

// A folder the sweep cannot read is skipped, not fatal: the files of the others are swept.
func TestSweepSkipsWhatItCannotRead(t *testing.T) {
	root := t.TempDir()
	dead := deadPID(t)
	for _, rel := range []string{"lost+found", "a", "z"} {
		must(t, os.MkdirAll(filepath.Join(root, rel), 0o755))
		name := fmt.Sprintf(".x.jpg.tmp-%s-%d-0123456789ab", hostID(), dead)
		must(t, os.WriteFile(filepath.Join(root, rel, name), []byte("x"), 0o644))
	}
	orig := sweepFS
	defer func() { sweepFS = orig }()
	sweepFS = func(r *Root) fs.FS { return unreadable{FS: orig(r), dirs: map[string]bool{"lost+found": true}} }
	removed, err := Sweep(root, 0)
	if err != nil || len(removed) != 2 {
		t.Fatalf("Sweep = %q, %v; want the two readable folders swept", removed, err)
	}
	if left := names(t, root); len(left) != 1 || !strings.HasPrefix(left[0], "lost+found/") {
		t.Fatalf("left %q", left)
	}
	// A root that cannot be read is an error naming it.
	sweepFS = func(r *Root) fs.FS { return unreadable{FS: orig(r), dirs: map[string]bool{".": true}} }
	if _, err := Sweep(root, 0); err == nil || !strings.Contains(err.Error(), root) {
		t.Fatalf("unreadable root: %v", err)
	}
	// A file where the folder should be.
	file := filepath.Join(root, "a", "file")
	must(t, os.WriteFile(file, nil, 0o644))
	if _, err := Sweep(file, 0); err == nil {
		t.Fatal("Sweep of a file succeeded")
	}
}

// With real permissions, where the test does not run as root (root reads everything).
func TestSweepSkipsUnreadableFolder(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("permissions do not apply to root (TestSweepSkipsWhatItCannotRead covers the case; cmd/imgpipe's tests drop root)")
	}
	root := t.TempDir()
	locked := filepath.Join(root, "lost+found")
	must(t, os.MkdirAll(locked, 0o755))
	name := fmt.Sprintf(".x.jpg.tmp-%s-%d-0123456789ab", hostID(), deadPID(t))
	must(t, os.WriteFile(filepath.Join(root, name), []byte("x"), 0o644))
	must(t, os.Chmod(locked, 0))
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	if removed, err := Sweep(root, 0); err != nil || len(removed) != 1 {
		t.Fatalf("Sweep = %q, %v", removed, err)
	}
}

// The sweep never follows a link out of the folder: a temporary-looking file in a folder
// the tree links to is not its to remove.
func TestSweepStaysInside(t *testing.T) {
	root, other := t.TempDir(), t.TempDir()
	name := fmt.Sprintf(".x.jpg.tmp-%s-%d-0123456789ab", hostID(), deadPID(t))
	must(t, os.WriteFile(filepath.Join(other, name), []byte("theirs"), 0o644))
	must(t, os.Symlink(other, filepath.Join(root, "link")))
	must(t, os.Symlink(filepath.Join(other, name), filepath.Join(root, name)))
	removed, err := Sweep(root, 0)
	if err != nil || len(removed) != 0 {
		t.Fatalf("Sweep = %q, %v", removed, err)
	}
	if readString(t, filepath.Join(other, name)) != "theirs" {
		t.Fatal("the linked file was removed")
	}
}
