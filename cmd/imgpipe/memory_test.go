package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// --max-memory takes sizes in decimal and binary units; anything else, or a budget too
// small to run in, is a usage error.
func TestMaxMemoryFlag(t *testing.T) {
	in, dir := t.TempDir(), t.TempDir()
	goodImages(t, in, 3, 31)
	for _, c := range []struct{ value, says string }{
		{"600XB", `unknown unit "XB"`},
		{"lots", "want a number of bytes"},
		{"-5MB", "want a number of bytes"},
		{"10MB", "--max-memory 10MB: want at least 128 MiB"},
	} {
		res := imgpipe(t, "--in", in, "--out", filepath.Join(dir, "o"), "--quiet", "--max-memory", c.value)
		if res.code != exitUsage || !strings.Contains(res.stderr, c.says) {
			t.Errorf("--max-memory %s: exit %d, stderr %q; want exit 2 saying %q", c.value, res.code, res.stderr, c.says)
		}
	}
	for i, v := range []string{"600MB", "1GiB", "200 MiB"} {
		out := filepath.Join(dir, "ok", string(rune('a'+i)))
		if res := imgpipe(t, "--in", in, "--out", out, "--size", "32", "--quiet", "--max-memory", v); res.code != exitOK {
			t.Errorf("--max-memory %s: exit %d\n%s", v, res.code, res.stderr)
		}
	}
}

// An image that alone needs more than the budget, and junk files of a gigabyte named .png,
// are refused with the reason and the file named; the others are done, and the process
// never holds the junk in memory.
func TestMaxMemoryRefusesWhatCannotFit(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	goodImages(t, in, 4, 32)
	big := image.NewRGBA(image.Rect(0, 0, 8000, 6000))
	for i := 3; i < len(big.Pix); i += 4 {
		big.Pix[i] = 0xff
	}
	writePNG(t, filepath.Join(in, "big.png"), big)
	for _, name := range []string{"junk1.png", "junk2.png"} {
		f, err := os.Create(filepath.Join(in, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(1000 << 20); err != nil { // sparse
			t.Fatal(err)
		}
		f.Close()
	}
	cmd := exec.Command(bin, "--in", in, "--out", out, "--size", "64", "--device", "cpu", "--quiet", "--max-memory", "200MB")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peak := watchPeakRSS(cmd.Process.Pid)
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitSomeFailed {
		t.Fatalf("exit %v, want 1\n%s", err, stderr.String())
	}
	for _, says := range []string{
		"big.png: read: 8000x6000 png needs", "more than the memory budget",
		"junk1.png: read: not an image in a known format", "junk2.png: read: not an image",
	} {
		if !strings.Contains(stderr.String(), says) {
			t.Errorf("stderr does not say %q:\n%s", says, stderr.String())
		}
	}
	done := 0
	filepath.Walk(out, func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && fi.Mode().IsRegular() {
			done++
		}
		return nil
	})
	if done != 4 {
		t.Errorf("%d outputs, want the 4 good images'", done)
	}
	p := peak()
	t.Logf("peak memory %.1f MiB", float64(p)/(1<<20))
	if p == 0 || p > 200e6 {
		t.Errorf("peak memory %d MiB, over the budget of 200 MB", p>>20)
	}
}

// watchPeakRSS reads the peak resident memory of process pid (VmHWM in /proc) until it ends,
// and returns the function that gives the last value read. The rusage of a child is no
// measure here: Linux carries the parent's peak into a child across exec.
func watchPeakRSS(pid int) func() int64 {
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				return // ended
			}
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64); err == nil {
						peak.Store(max(peak.Load(), kb<<10))
					}
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return func() int64 { <-done; return peak.Load() }
}

func writePNG(t *testing.T, path string, m image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, m); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
