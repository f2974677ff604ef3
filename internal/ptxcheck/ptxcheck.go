// Package ptxcheck holds the tests every embedded PTX file gets: it defines its kernel with
// the parameters Go passes, ptxas assembles it for Hopper, and it is what its go:generate
// line makes of the CUDA source. The examples' tests call it.
package ptxcheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// HasEntry checks, without the CUDA toolkit, that ptx defines entry with params parameters.
func HasEntry(t *testing.T, ptx []byte, entry string, params int) {
	t.Helper()
	m := regexp.MustCompile(`\.entry ` + regexp.QuoteMeta(entry) + `\(([^)]*)\)`).FindSubmatch(ptx)
	if m == nil {
		t.Fatalf("the PTX has no entry %s", entry)
	}
	if n := bytes.Count(m[1], []byte(".param")); n != params {
		t.Errorf("%s takes %d parameters in the PTX, %d in Go", entry, n, params)
	}
}

// Assembles checks that ptxas assembles the PTX file for sm_90, as make ptx does; it skips
// without the CUDA toolkit.
func Assembles(t *testing.T, file string) {
	t.Helper()
	if _, err := exec.LookPath("ptxas"); err != nil {
		t.Skip("ptxas not found: the CUDA toolkit is not installed")
	}
	if out, err := exec.Command("ptxas", "-arch=sm_90", "-o", os.DevNull, file).CombinedOutput(); err != nil {
		t.Fatalf("ptxas: %v\n%s", err, out)
	}
}

// IsCurrent runs the go:generate line of goFile into a temporary file and compares the result
// with ptx, the committed output: it must be regenerated when its CUDA source changes. It
// skips without nvcc, or when this nvcc is not the one that made ptx (its text may differ).
func IsCurrent(t *testing.T, goFile string, ptx []byte) {
	t.Helper()
	if _, err := exec.LookPath("nvcc"); err != nil {
		t.Skip("nvcc not found: the CUDA toolkit is not installed")
	}
	args := generateArgs(t, goFile)
	fresh := filepath.Join(t.TempDir(), "fresh.ptx")
	for i := range args[:len(args)-1] {
		if args[i] == "-o" {
			args[i+1] = fresh
		}
	}
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	got, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if nvccVersion(got) != nvccVersion(ptx) {
		t.Skipf("this nvcc (%s) is not the one that made the PTX (%s): its text may differ", nvccVersion(got), nvccVersion(ptx))
	}
	if !bytes.Equal(got, ptx) {
		t.Errorf("the PTX is not what its source compiles to: run go generate on %s", goFile)
	}
}

// generateArgs returns the command of goFile's go:generate line.
func generateArgs(t *testing.T, goFile string) []string {
	t.Helper()
	src, err := os.ReadFile(goFile)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(src)) {
		if cmd, ok := strings.CutPrefix(line, "//go:generate "); ok {
			return strings.Fields(cmd)
		}
	}
	t.Fatalf("%s has no go:generate line", goFile)
	return nil
}

// nvccVersion is the "Cuda compilation tools" line that nvcc writes at the top of PTX.
func nvccVersion(ptx []byte) string {
	return string(regexp.MustCompile(`Cuda compilation tools[^\n]*`).Find(ptx))
}
