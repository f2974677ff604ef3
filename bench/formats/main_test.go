package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gpupipe/gpupipe/stages/imageio"
)

// python returns a python3 with Pillow and numpy, which the corpus script needs, or skips.
func python(t *testing.T) string {
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import PIL.Image, numpy").Run() == nil {
			return p
		}
	}
	t.Skip("no python3 with Pillow and numpy")
	return ""
}

// Every variant of the corpus that the reference tools read is read, and decodes to what
// they decode, but the two kinds known not to be read, which fail as unsupported, naming
// what they are.
func TestCorpusAgainstReferences(t *testing.T) {
	dir := t.TempDir()
	_, here, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(here), "..", "..", "scripts", "format-corpus.py")
	if out, err := exec.Command(python(t), script, dir).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	rs, err := Check(dir)
	if err != nil {
		t.Fatal(err)
	}
	unsupported := map[string]string{
		"bilevel-tiff_ccitt.tif": "TIFF with CCITT RLE compression",
		"rgb-lzma.tif":           "TIFF with LZMA compression",
	}
	// vips converts 8-bit Lab with its own arithmetic: a few levels apart in saturated blues.
	floor := map[string]float64{"lab.tif": 32}
	for _, r := range rs {
		if want, ok := unsupported[r.Name]; ok {
			if !errors.Is(r.Err, imageio.ErrUnsupported) || !strings.HasSuffix(r.Err.Error(), "unsupported: "+want) {
				t.Errorf("%s: %v, want unsupported: %s", r.Name, r.Err, want)
			}
			continue
		}
		if r.Err != nil {
			t.Errorf("%s: %v", r.Name, r.Err)
			continue
		}
		min, ok := floor[r.Name]
		if !ok {
			min = AgreeDB
		}
		if r.HasRef && r.PSNR < min {
			t.Errorf("%s: PSNR %.1f dB against the reference decode", r.Name, r.PSNR)
		}
	}
	refRead, both, agree, _ := Summary(rs)
	if len(rs) < 60 || refRead < 60 {
		t.Errorf("only %d files, %d with references: the corpus script lost variants", len(rs), refRead)
	}
	var b bytes.Buffer
	Write(&b, rs)
	t.Logf("coverage %d/%d, agreement %d/%d\n%s", both, refRead, agree, both, b.String())
}
