package main

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Example_main runs the example as `go run` does, on the CPU device (what "auto" opens in a
// build without -tags cuda).
func Example_main() {
	main()
	// Output: 2·x + y: [[12 24 36] [8.5 9]]
}

// TestSaxpy streams vectors of many lengths, down to one element and past a block, through
// the CPU device, and checks every element against a·x + y computed on the host, bit for bit.
func TestSaxpy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lengths := []int{1, 2, 255, 256, 257, 1000, 1 << 16, 1<<16 + 3}
	var in []vectors
	for i := range 40 {
		n := lengths[i%len(lengths)]
		v := vectors{x: make([]float32, n), y: make([]float32, n)}
		for j := range v.x {
			v.x[j], v.y[j] = r.Float32()*200-100, r.Float32()*2-1
		}
		in = append(in, v)
	}
	a := float32(math.Pi)

	out, err := saxpyOn("cpu", a, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d results for %d batches", len(out), len(in))
	}
	for i, v := range in {
		if len(out[i]) != len(v.x) {
			t.Fatalf("batch %d: %d elements, want %d", i, len(out[i]), len(v.x))
		}
		for j, x := range v.x {
			if want := float32(a*x) + v.y[j]; math.Float32bits(out[i][j]) != math.Float32bits(want) {
				t.Fatalf("batch %d, element %d: got %v, want %v", i, j, out[i][j], want)
			}
		}
	}
}

// TestPTXHasTheKernel checks, without the CUDA toolkit, that the embedded PTX defines the
// registered entry point with the five parameters of its Args.
func TestPTXHasTheKernel(t *testing.T) {
	entry := regexp.MustCompile(`\.entry example_saxpy\(([^)]*)\)`).FindSubmatch(saxpyPTX)
	if entry == nil {
		t.Fatal("saxpy.ptx has no entry example_saxpy")
	}
	if n := bytes.Count(entry[1], []byte(".param")); n != 5 {
		t.Errorf("example_saxpy takes %d parameters in the PTX, 5 in Go", n)
	}
}

// TestPTXAssembles checks that ptxas assembles the PTX for Hopper (sm_90), as make ptx does.
func TestPTXAssembles(t *testing.T) {
	if _, err := exec.LookPath("ptxas"); err != nil {
		t.Skip("ptxas not found: the CUDA toolkit is not installed")
	}
	if out, err := exec.Command("ptxas", "-arch=sm_90", "-o", os.DevNull, "saxpy.ptx").CombinedOutput(); err != nil {
		t.Fatalf("ptxas: %v\n%s", err, out)
	}
}

// TestPTXIsCurrent runs the go:generate command of main.go into a temporary file and compares
// the result with the committed PTX, which must be regenerated when saxpy.cu changes.
func TestPTXIsCurrent(t *testing.T) {
	if _, err := exec.LookPath("nvcc"); err != nil {
		t.Skip("nvcc not found: the CUDA toolkit is not installed")
	}
	args := generateArgs(t)
	fresh := filepath.Join(t.TempDir(), "saxpy.ptx")
	for i := range args {
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
	if nvccVersion(got) != nvccVersion(saxpyPTX) {
		t.Skipf("this nvcc (%s) is not the one that made saxpy.ptx (%s): its text may differ", nvccVersion(got), nvccVersion(saxpyPTX))
	}
	if !bytes.Equal(got, saxpyPTX) {
		t.Error("saxpy.ptx is not what saxpy.cu compiles to: run go generate ./examples/saxpy")
	}
}

// generateArgs returns the command of main.go's go:generate line.
func generateArgs(t *testing.T) []string {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(src)) {
		if cmd, ok := strings.CutPrefix(line, "//go:generate "); ok {
			return strings.Fields(cmd)
		}
	}
	t.Fatal("main.go has no go:generate line")
	return nil
}

// nvccVersion is the "Cuda compilation tools" line that nvcc writes at the top of PTX.
func nvccVersion(ptx []byte) string {
	return string(regexp.MustCompile(`Cuda compilation tools[^\n]*`).Find(ptx))
}
