package main

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gpupipe/gpupipe/internal/ptxcheck"

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

// The embedded PTX defines the kernel with the five parameters of its Args, assembles for
// Hopper (sm_90), and is what main.go's go:generate line makes of saxpy.cu.
func TestPTXHasTheKernel(t *testing.T) { ptxcheck.HasEntry(t, saxpyPTX, "example_saxpy", 5) }
func TestPTXAssembles(t *testing.T)    { ptxcheck.Assembles(t, "saxpy.ptx") }
func TestPTXIsCurrent(t *testing.T)    { ptxcheck.IsCurrent(t, "main.go", saxpyPTX) }
