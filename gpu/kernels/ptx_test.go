package kernels

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/kernels/csrc"
)

// TestPTXEntries checks that each PTX module defines exactly the kernels registered with it,
// with the common five parameters, for the architecture gen-ptx.sh states.
func TestPTXEntries(t *testing.T) {
	entry := regexp.MustCompile(`\.visible \.entry (\w+)\(([^)]*)\)`)
	for module, ptx := range modules {
		if !bytes.Contains(ptx, []byte("\n.target sm_75\n")) {
			t.Errorf("%s.ptx does not target compute_75", module)
		}
		var got, want []string
		for _, m := range entry.FindAllSubmatch(ptx, -1) {
			got = append(got, string(m[1]))
			if n := bytes.Count(m[2], []byte(".param")); n != len(kernelArgs) {
				t.Errorf("%s takes %d parameters, want %d", m[1], n, len(kernelArgs))
			}
		}
		for _, k := range kernelDefs {
			if k.module == module {
				want = append(want, k.name)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s.ptx defines %v, registered %v", module, got, want)
		}
	}
}

// TestPTXIsFromTheseSources compares the hashes gen-ptx.sh recorded with the sources, so that
// an edited .cu file without regenerated PTX fails here, where nvcc is not installed.
func TestPTXIsFromTheseSources(t *testing.T) {
	sums, err := os.ReadFile("ptx/sources.sha256")
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 {
			recorded[strings.TrimPrefix(f[1], "csrc/")] = f[0]
		}
	}
	files, err := fs.Glob(csrc.Sources, "*.cu*")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		b, err := fs.ReadFile(csrc.Sources, name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if recorded[name] != hex.EncodeToString(sum[:]) {
			t.Errorf("csrc/%s changed since the PTX was generated: run go generate ./gpu/kernels", name)
		}
		delete(recorded, name)
	}
	for name := range recorded {
		t.Errorf("the PTX was generated from csrc/%s, which is gone", name)
	}
}

func TestRegistered(t *testing.T) {
	for _, k := range kernelDefs {
		spec, err := gpu.LookupKernel(k.name)
		if err != nil {
			t.Fatal(err)
		}
		if len(spec.PTX) == 0 || spec.Host == nil || !slices.Equal(spec.Args, kernelArgs) {
			t.Errorf("%s: registered without PTX, Go implementation or parameter kinds", k.name)
		}
	}
}
