package imageio

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// pillowPython returns a python3 that has Pillow, or skips the test: the reference decodes
// come from Pillow, whose WebP, TIFF and BMP readers are libwebp, libtiff and its own.
func pillowPython(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import PIL.Image").Run() == nil {
			return p
		}
	}
	t.Skip("no python3 with Pillow (python3-pil)")
	return ""
}

// pillowDecode decodes data with Pillow, converted to mode (RGB, RGBA or L), as a raster.
// A file Pillow cannot read fails the test.
func pillowDecode(t testing.TB, name string, data []byte, mode string) raster.Image {
	t.Helper()
	py := pillowPython(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, name), filepath.Join(dir, "ref.png")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	script := "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1])\nim.seek(0)\nim.convert(sys.argv[3]).save(sys.argv[2])\n"
	if b, err := exec.Command(py, "-c", script, in, out, mode).CombinedOutput(); err != nil {
		t.Fatalf("Pillow cannot read %s: %v\n%s", name, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return ToChannels(FromImage(m, nil), len(mode), [3]uint8{}, nil)
}

// psnr is the peak signal-to-noise ratio of b against a, in dB (+Inf when equal), and the
// largest difference of one sample. Both must have the same shape.
func psnr(t testing.TB, a, b raster.Image) (db float64, maxDiff int) {
	t.Helper()
	if a.Width != b.Width || a.Height != b.Height || a.Channels != b.Channels {
		t.Fatalf("shapes differ: %d×%d×%d and %d×%d×%d", a.Width, a.Height, a.Channels, b.Width, b.Height, b.Channels)
	}
	var se float64
	for y := range a.Height {
		ra, rb := row(&a, y), row(&b, y)
		for i := range ra {
			d := int(ra[i]) - int(rb[i])
			se += float64(d * d)
			maxDiff = max(maxDiff, d, -d)
		}
	}
	if se == 0 {
		return math.Inf(1), 0
	}
	n := float64(a.Width * a.Height * a.Channels)
	return 10 * math.Log10(255*255/(se/n)), maxDiff
}
