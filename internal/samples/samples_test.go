package samples

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/stages/imageio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestImageDependsOnSeedIndexAndSizeOnly(t *testing.T) {
	a := mustImage(t, 7, 3, 96, 64)
	if b := mustImage(t, 7, 3, 96, 64); !bytes.Equal(a.Pix, b.Pix) {
		t.Fatal("the same seed and index made different pixels")
	}
	if b := mustImage(t, 8, 3, 96, 64); bytes.Equal(a.Pix, b.Pix) {
		t.Error("another seed made the same pixels")
	}
	if b := mustImage(t, 7, 4, 96, 64); bytes.Equal(a.Pix, b.Pix) {
		t.Error("another index made the same pixels")
	}
	if a.Width != 96 || a.Height != 64 || a.Channels != 3 || a.Stride != 3*96 || len(a.Pix) != 3*96*64 {
		t.Errorf("image is %d×%d, %d channels, stride %d, %d bytes; want a compact 96×64 RGB image",
			a.Width, a.Height, a.Channels, a.Stride, len(a.Pix))
	}
}

// TestImageGolden pins the generator's output, so that the promise "every machine makes the
// same bytes" is checked on every platform CI runs on. If the images were changed on
// purpose, change the generator constant too (so that Write replaces old samples) and put
// the new hash here.
func TestImageGolden(t *testing.T) {
	const want = "59b13939f1f1f9425d6cdf1bf1ada7b9fd29c075aa896540bd28a92b7037567a"
	img := mustImage(t, 1, 0, 320, 240)
	sum := sha256.Sum256(img.Pix)
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("sha256 of image 0 of seed 1 at 320×240 is %s, want %s (generator %q)", got, want, generator)
	}
}

// TestImageIsNotFlat checks that an image has what makes it photo-like: most of the range of
// every channel, and neighbouring pixels that mostly differ a little, not a lot.
func TestImageIsNotFlat(t *testing.T) {
	img := mustImage(t, 3, 0, 400, 300)
	for c := range 3 {
		lo, hi := byte(255), byte(0)
		for i := c; i < len(img.Pix); i += 3 {
			lo, hi = min(lo, img.Pix[i]), max(hi, img.Pix[i])
		}
		if int(hi)-int(lo) < 100 {
			t.Errorf("channel %d spans only %d..%d", c, lo, hi)
		}
	}
	var small, total int
	for i := 3; i < len(img.Pix); i++ {
		d := int(img.Pix[i]) - int(img.Pix[i-3])
		if d >= -12 && d <= 12 {
			small++
		}
		total++
	}
	if frac := float64(small) / float64(total); frac < 0.9 {
		t.Errorf("only %.0f%% of horizontal neighbours differ by 12 levels or less: more noise than picture", 100*frac)
	}
}

func TestImageRefusesBadSizes(t *testing.T) {
	for _, size := range [][2]int{{0, 10}, {10, -1}, {maxSide + 1, 10}} {
		if _, err := Image(1, 0, size[0], size[1]); err == nil {
			t.Errorf("Image of %d×%d: no error", size[0], size[1])
		}
	}
}

func TestWriteNamesFormatsAndFolders(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Count: 5, Width: 64, Height: 48, Formats: []string{"jpeg", "png"}, Seed: 2,
		Folders: []string{"", "a", "a/b"}, Prefix: "img"}
	paths, err := Write(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"img-0000.jpg", "a/img-0001.png", "a/b/img-0002.jpg", "img-0003.png", "a/img-0004.jpg"}
	if len(paths) != len(want) {
		t.Fatalf("Write returned %d paths, want %d", len(paths), len(want))
	}
	for i, p := range paths {
		if rel, _ := filepath.Rel(dir, p); filepath.ToSlash(rel) != want[i] {
			t.Errorf("path %d is %s, want %s", i, rel, want[i])
		}
		d := decodeFile(t, p)
		if d.Image.Width != 64 || d.Image.Height != 48 || d.Image.Channels != 3 {
			t.Errorf("%s decodes to %d×%d with %d channels, want 64×48 RGB", p, d.Image.Width, d.Image.Height, d.Image.Channels)
		}
		if wantFormat := strings.TrimPrefix(filepath.Ext(p), "."); wantFormat == "jpg" && d.Format != "jpeg" || wantFormat == "png" && d.Format != "png" {
			t.Errorf("%s holds a %s image", p, d.Format)
		}
	}
}

func TestPNGHoldsTheExactPixels(t *testing.T) {
	paths, err := Write(t.TempDir(), Options{Count: 1, Width: 80, Height: 60, Formats: []string{"png"}, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := decodeFile(t, paths[0]).Image, mustImage(t, 5, 0, 80, 60); !bytes.Equal(compact(got), want.Pix) {
		t.Error("the PNG file does not hold the pixels Image makes")
	}
}

func TestWriteIsDeterministic(t *testing.T) {
	opts := Options{Count: 4, Width: 120, Height: 90, Seed: 11, Formats: []string{"jpeg", "jpeg", "png"}}
	a, err := Write(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Workers = 1 // another schedule must not change a byte
	b, err := Write(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if !bytes.Equal(readFile(t, a[i]), readFile(t, b[i])) {
			t.Errorf("%s and %s differ", a[i], b[i])
		}
	}
}

func TestWriteDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 16 full-size images")
	}
	paths, err := Write(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != DefaultCount {
		t.Fatalf("%d files, want %d", len(paths), DefaultCount)
	}
	d := decodeFile(t, paths[DefaultCount-1])
	if d.Image.Width != DefaultWidth || d.Image.Height != DefaultHeight || d.Format != "jpeg" {
		t.Errorf("%s: a %d×%d %s image, want %d×%d JPEG", paths[DefaultCount-1], d.Image.Width, d.Image.Height, d.Format, DefaultWidth, DefaultHeight)
	}
}

// TestCompressionLikePhotos checks the point of the package: JPEG at quality 90 shrinks the
// samples about as much as it shrinks landscape photos (10 to 20 times), not as much as flat
// colour (over 50) nor as little as noise (under 3).
func TestCompressionLikePhotos(t *testing.T) {
	paths, err := Write(t.TempDir(), Options{Count: 4, Seed: 1, Quality: 90})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		ratio := float64(3*DefaultWidth*DefaultHeight) / float64(st.Size())
		t.Logf("%s: %d bytes, compressed %.1f times", filepath.Base(p), st.Size(), ratio)
		if ratio < 8 || ratio > 25 {
			t.Errorf("%s: compressed %.1f times, want 8 to 25", p, ratio)
		}
	}
}

func TestWriteKeepsFilesInPlace(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Count: 3, Width: 64, Height: 48, Seed: 4, Folders: []string{"x", "y"}}
	paths, err := Write(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, p := range paths {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}

	again, err := Write(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(again, "\n") != strings.Join(paths, "\n") {
		t.Errorf("the second call returned %q, the first %q", again, paths)
	}
	for _, p := range paths {
		if !modTime(t, p).Equal(old) {
			t.Errorf("%s was written again although it was in place", p)
		}
	}

	// A damaged file is replaced; the others stay.
	if err := os.WriteFile(paths[1], []byte("truncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, opts); err != nil {
		t.Fatal(err)
	}
	if decodeFile(t, paths[1]).Image.Width != 64 {
		t.Errorf("%s was not written again after it was damaged", paths[1])
	}
	if !modTime(t, paths[0]).Equal(old) || !modTime(t, paths[2]).Equal(old) {
		t.Error("files in place were written again along with a damaged one")
	}

	// Another seed makes other images under the same names: all are replaced.
	before := readFile(t, paths[0])
	opts.Seed++
	if _, err := Write(dir, opts); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(before, readFile(t, paths[0])) {
		t.Error("a new seed did not replace the files of the old one")
	}
}

func TestWriteRefusesBadOptions(t *testing.T) {
	for name, opts := range map[string]Options{
		"negative count":    {Count: -1},
		"unknown format":    {Formats: []string{"gif"}},
		"empty formats":     {Formats: []string{}},
		"folder outside":    {Folders: []string{"../out"}},
		"absolute folder":   {Folders: []string{"/tmp"}},
		"quality over 100":  {Quality: 101},
		"prefix with slash": {Prefix: "a/b"},
		"huge width":        {Width: maxSide + 1},
	} {
		dir := t.TempDir()
		if _, err := Write(dir, opts); err == nil {
			t.Errorf("%s: no error", name)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s: %d entries written", name, len(entries))
		}
	}
}

func mustImage(t *testing.T, seed int64, index, w, h int) raster.Image {
	t.Helper()
	img, err := Image(seed, index, w, h)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func decodeFile(t *testing.T, path string) *imageio.Decoded {
	t.Helper()
	d, err := (&imageio.Decoder{}).DecodeBytes(path, readFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func modTime(t *testing.T, path string) time.Time {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.ModTime()
}

// compact returns img's pixels without row padding.
func compact(img raster.Image) []byte {
	row := img.Width * img.Channels
	out := make([]byte, 0, row*img.Height)
	for y := range img.Height {
		out = append(out, img.Pix[y*img.Stride:y*img.Stride+row]...)
	}
	return out
}

func TestSharedDirIsInTheTemporaryFolder(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	if got := SharedDir(); got != filepath.Join(tmp, "gpupipe-samples") {
		t.Errorf("SharedDir() = %q, want it in %q", got, tmp)
	}
}
