package imageio_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gpupipe/gpupipe/stages/icc"
	"github.com/gpupipe/gpupipe/stages/imageio"
)

// The ICC profile of a HEIC or AVIF file (its colr box of type prof, which vips writes from a
// JPEG's APP2 profile) reaches Decoded.ICC, as a JPEG's does, so colour management sees it.
func TestHEIFProfileIsRead(t *testing.T) {
	vips, err := exec.LookPath("vips")
	if err != nil {
		t.Skip("vips not installed")
	}
	if err := imageio.HEIFLib(); err != nil {
		t.Skipf("libheif not loaded: %v", err)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, 64, 48)), nil); err != nil {
		t.Fatal(err)
	}
	p3 := icc.DisplayP3.Encode()
	withProfile, err := imageio.EmbedJPEG(b.Bytes(), imageio.Metadata{ICC: p3})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "p3.jpg")
	if err := os.WriteFile(src, withProfile, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"p3.avif", "p3.heic"} {
		path := filepath.Join(dir, name)
		if out, err := exec.Command(vips, "copy", src, path).CombinedOutput(); err != nil {
			t.Skipf("vips cannot write %s: %v: %s", name, err, out)
		}
		dec, err := (&imageio.Decoder{}).DecodeFile(t.Context(), path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(dec.ICC, p3) {
			t.Errorf("%s: read a %d-byte profile, want the %d-byte Display P3 one", name, len(dec.ICC), len(p3))
		}
		dec.Release()
		plain, err := (&imageio.Decoder{IgnoreICC: true}).DecodeFile(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		if plain.ICC != nil {
			t.Errorf("%s: IgnoreICC still read a profile", name)
		}
		plain.Release()
	}
}
