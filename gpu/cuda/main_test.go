//go:build cuda

package cuda

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
)

// The tests run on the GPU that GPUPIPE_CUDA_DEVICE names (0 by default). When OUT names a
// folder, the measurements of the benchmarks are written there as cuda-results.json and
// cuda-results.md.

//go:embed testdata/cudatest.ptx
var testPTX []byte

// Test kernels from testdata/cudatest.cu.
const (
	argsKernel = "cudatest_args"
	burnKernel = "cudatest_burn"
	copyKernel = "cudatest_copy"
)

var registerOnce = sync.OnceValue(func() error {
	for _, spec := range []gpu.KernelSpec{
		{Name: argsKernel, PTX: testPTX, Args: []gpu.ArgKind{gpu.KindPtr, gpu.KindInt32, gpu.KindInt64,
			gpu.KindFloat32, gpu.KindFloat64, gpu.KindUint32, gpu.KindPtr, gpu.KindInt32}},
		{Name: burnKernel, PTX: testPTX, Args: []gpu.ArgKind{gpu.KindPtr, gpu.KindPtr, gpu.KindInt32, gpu.KindInt32}},
		{Name: copyKernel, PTX: testPTX, Args: []gpu.ArgKind{gpu.KindPtr, gpu.KindPtr, gpu.KindInt32}},
	} {
		if err := gpu.RegisterKernel(spec); err != nil {
			return err
		}
	}
	return nil
})

// testOrdinal is the GPU the tests use.
func testOrdinal() int {
	n, err := strconv.Atoi(os.Getenv("GPUPIPE_CUDA_DEVICE"))
	if err != nil {
		return 0
	}
	return n
}

// openTest opens the test GPU for one test and closes it when the test ends.
func openTest(t testing.TB, opts ...Option) *Device {
	t.Helper()
	if err := registerOnce(); err != nil {
		t.Fatal(err)
	}
	d, err := Open(testOrdinal(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("closing the device: %v", err)
		}
	})
	return d
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A measurement is one number a benchmark found, for the results table.
type measurement struct {
	Group string  `json:"group"` // which question it answers: "copy", "overlap", "kernel", ...
	Name  string  `json:"name"`  // what was measured, unique in its group
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Note  string  `json:"note,omitempty"`
}

var results = struct {
	sync.Mutex
	device Info
	m      map[string]measurement
	order  []string // keys in the order first recorded: the order the benchmarks ran
}{m: map[string]measurement{}}

// record keeps a measurement; a later one of the same group and name replaces it, so the
// last (longest) run of a benchmark is the one reported. With OUT set, the results files are
// rewritten at once, so that a run killed later (a hang, a time limit) keeps what it measured.
func record(d *Device, m measurement) {
	results.Lock()
	results.device = d.Info()
	key := m.Group + "\x00" + m.Name
	if _, seen := results.m[key]; !seen {
		results.order = append(results.order, key)
	}
	results.m[key] = m
	results.Unlock()
	if out := os.Getenv("OUT"); out != "" {
		if err := writeResults(out); err != nil {
			fmt.Fprintln(os.Stderr, "writing results:", err)
		}
	}
}

func TestMain(m *testing.M) {
	release := keepContext()
	code := m.Run()
	if err := release(); err != nil {
		fmt.Fprintln(os.Stderr, "closing the device that kept the context:", err)
		code = 1
	}
	if out := os.Getenv("OUT"); out != "" {
		if err := writeResults(out); err != nil {
			fmt.Fprintln(os.Stderr, "writing results:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// keepContext keeps the test GPU's primary context alive for the whole test binary by
// holding a Device open, and returns the function that closes it. Without it, every test's
// Close would destroy the context (the last user released it) and the next test's Open
// would create it again, set up the GPU's memory anew, and JIT-compile its modules again
// (the driver's JIT cache, CUDA_CACHE_PATH, then saves only the compilation). The fault tests
// run without it (GPUPIPE_CUDA_FAULTS=1): their Close must destroy the context they broke.
//
// Each Open still sets the primary context's flags (WithSchedule); drivers from CUDA 11 on
// accept that while the context is alive, and how a waiting thread then behaves is the
// driver's affair (the tests check results, not how threads wait).
func keepContext() (release func() error) {
	if os.Getenv("GPUPIPE_CUDA_FAULTS") == "1" {
		return func() error { return nil }
	}
	d, err := Open(testOrdinal())
	if err != nil {
		return func() error { return nil } // the tests report it
	}
	return d.Close
}

// writeResults writes the measurements as JSON and as a markdown table.
func writeResults(dir string) error {
	results.Lock()
	defer results.Unlock()
	if len(results.m) == 0 {
		return nil
	}
	list := make([]measurement, 0, len(results.m))
	for _, key := range results.order {
		list = append(list, results.m[key])
	}
	doc := struct {
		Date    string        `json:"date"`
		Device  Info          `json:"device"`
		Go      string        `json:"go"`
		Results []measurement `json:"results"`
	}{time.Now().UTC().Format(time.RFC3339), results.device, runtime.Version(), list}
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "cuda-results.json"), append(js, '\n')); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "cuda-results.md"), []byte(markdown(doc.Date, doc.Device, list)))
}

// writeFile replaces name with data by a rename, so that a process killed while writing
// leaves the previous version whole.
func writeFile(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

func markdown(date string, info Info, list []measurement) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured on %s, %s (%s).\n\n", info, date[:10], runtime.Version())
	b.WriteString("| group | measurement | value | unit | note |\n|---|---|---:|---|---|\n")
	for _, m := range list {
		fmt.Fprintf(&b, "| %s | %s | %.4g | %s | %s |\n", m.Group, m.Name, m.Value, m.Unit, m.Note)
	}
	return b.String()
}
