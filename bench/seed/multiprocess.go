//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"unsafe"
)

// Approach 2, the seed's Example 2: a pool of worker processes sharing memory. The inputs
// and the results live in one memory-mapped file; each worker computes its share of the
// images and, holding a lock (flock on a lock file), writes its results into the shared
// array, as the seed's workers do under multiprocessing.Lock. The results stay in the shared
// memory, where the caller reads them until it calls release.
func runMultiprocess(exe string, in []float32, n, workers int) (out []float32, release func(), err error) {
	dir, err := os.MkdirTemp(sharedMemoryDir(), "gpupipe-seed-")
	if err != nil {
		return nil, nil, err
	}
	data, lock := filepath.Join(dir, "shared"), filepath.Join(dir, "lock")
	shared, unmap, err := mapShared(data, 2*len(in), true)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	release = func() {
		unmap()
		os.RemoveAll(dir)
	}
	if err := runPool(exe, shared, in, data, lock, n, workers); err != nil {
		release()
		return nil, nil, err
	}
	return shared[len(in):], release, nil
}

func runPool(exe string, shared, in []float32, data, lock string, n, workers int) error {
	copy(shared[:len(in)], in)
	if err := os.WriteFile(lock, nil, 0o600); err != nil {
		return err
	}
	cmds := make([]*exec.Cmd, 0, workers)
	for w := range workers {
		cmd := exec.Command(exe, data, lock, strconv.Itoa(n), strconv.Itoa(w), strconv.Itoa(workers))
		cmd.Env = append(os.Environ(), roleEnv+"="+rolePool)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		cmds = append(cmds, cmd)
	}
	var firstErr error
	for w, cmd := range cmds {
		if err := cmd.Wait(); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("pool worker %d: %w", w, err)
		}
	}
	return firstErr
}

// sharedMemoryDir is where shared memory lives: /dev/shm (a tmpfs, what POSIX shm_open and
// Python's multiprocessing use) when the system has it, else the temporary directory, where
// a shared mapping may be written back to disk.
func sharedMemoryDir() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

// poolWorker is a pool process: it computes images w, w+workers, w+2·workers, … of the
// shared array and stores each result under the lock.
func poolWorker(args []string) error {
	if len(args) != 5 {
		return fmt.Errorf("pool worker wants 5 arguments, got %d", len(args))
	}
	nums := make([]int, 3)
	for i, a := range args[2:] {
		v, err := strconv.Atoi(a)
		if err != nil || v < 0 {
			return fmt.Errorf("pool worker argument %q is not a count", a)
		}
		nums[i] = v
	}
	n, w, workers := nums[0], nums[1], nums[2]
	shared, unmap, err := mapShared(args[0], 2*n*imageLen, false)
	if err != nil {
		return err
	}
	defer unmap()
	lock, err := os.Open(args[1])
	if err != nil {
		return err
	}
	defer lock.Close()
	in, out := shared[:n*imageLen], shared[n*imageLen:]
	result, scratch := make([]float32, imageLen), make([]float32, imageLen)
	for i := w; i < n; i += workers {
		normalize(scratch, in[i*imageLen:(i+1)*imageLen])
		convolve(result, scratch)
		if err := withLock(lock, func() { copy(out[i*imageLen:], result) }); err != nil {
			return err
		}
	}
	return nil
}

func withLock(f *os.File, fn func()) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	fn()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

// mapShared maps a file of n float32 values shared between processes, creating it first
// when create is set.
func mapShared(path string, n int, create bool) ([]float32, func(), error) {
	flags := os.O_RDWR
	if create {
		flags |= os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if create {
		if err := f.Truncate(int64(4 * n)); err != nil {
			return nil, nil, err
		}
	}
	flagsMap := syscall.MAP_SHARED
	if create {
		flagsMap = mapFlags // the creator touches every page; workers only their share
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, 4*n, syscall.PROT_READ|syscall.PROT_WRITE, flagsMap)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	floats := unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
	return floats, func() { _ = syscall.Munmap(b) }, nil
}
