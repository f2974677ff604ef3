package main

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/stages/icc"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/npy"
)

// taggedJPEG writes m as a JPEG at quality 100 with the metadata meta.
func taggedJPEG(t *testing.T, path string, m *image.NRGBA, meta imageio.Metadata) {
	t.Helper()
	img := raster.Image{Pix: m.Pix, Width: m.Rect.Dx(), Height: m.Rect.Dy(), Stride: m.Stride, Channels: 4}
	var b bytes.Buffer
	enc := &imageio.Encoder{Quality: 100}
	if err := enc.EncodeMetadata(&b, img, meta); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// flat is a w×h image of one colour.
func flat(w, h int, c color.NRGBA) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

// readPixels decodes an output file with imageio (as stored: no orientation, no conversion).
func readPixels(t *testing.T, path string) *imageio.Decoded {
	t.Helper()
	d, err := (&imageio.Decoder{IgnoreOrientation: true, IgnoreICC: true, Channels: 3}).DecodeFile(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func pixelAt(d *imageio.Decoded, x, y int) [3]float64 {
	p := d.Image.Pix[y*d.Image.Stride+3*x:]
	return [3]float64{float64(p[0]), float64(p[1]), float64(p[2])}
}

// TestColorP3Example is the phone photo of the issue: a Display P3 JPEG whose stored pixel
// is (234,51,35) comes out sRGB's (255,0,3) or so by default, and as stored with --color keep
// (with its profile) or ignore (without).
func TestColorP3Example(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	p3 := icc.DisplayP3.Encode()
	taggedJPEG(t, filepath.Join(in, "red.jpg"), flat(64, 48, color.NRGBA{234, 51, 35, 255}), imageio.Metadata{ICC: p3})
	for _, tc := range []struct {
		mode, format string
		want         [3]float64
		icc          bool
	}{
		{"srgb", "png", [3]float64{255, 0, 3}, false},
		{"srgb", "jpeg", [3]float64{255, 0, 3}, false},
		{"keep", "png", [3]float64{234, 51, 35}, true},
		{"keep", "jpeg", [3]float64{234, 51, 35}, true},
		{"ignore", "png", [3]float64{234, 51, 35}, false},
	} {
		dir := filepath.Join(out, tc.mode+tc.format)
		r := imgpipe(t, "--in", in, "--out", dir, "--size", "32", "--format", tc.format, "--color", tc.mode, "--quiet")
		if r.code != 0 {
			t.Fatalf("--color %s: exit %d: %s", tc.mode, r.code, r.stderr)
		}
		ext := map[string]string{"png": ".png", "jpeg": ".jpg"}[tc.format]
		path := filepath.Join(dir, "red"+ext)
		d := readPixels(t, path)
		got := pixelAt(d, 16, 12)
		for i := range 3 {
			if diff := got[i] - tc.want[i]; diff > 4 || diff < -4 {
				t.Errorf("--color %s --format %s: pixel %v, want about %v", tc.mode, tc.format, got, tc.want)
				break
			}
		}
		file, _ := os.ReadFile(path)
		meta := imageio.ReadMetadata(tc.format, file, true, true)
		if tc.icc != bytes.Equal(meta.ICC, p3) {
			t.Errorf("--color %s --format %s: output profile %d bytes, want the source's: %v", tc.mode, tc.format, len(meta.ICC), tc.icc)
		}
		if meta.EXIF != nil || meta.XMP != nil {
			t.Errorf("--color %s: EXIF or XMP written without --keep-metadata", tc.mode)
		}
	}
}

// patchImage is an image of 16×16 colour patches across the RGB cube and greys.
func patchImage() (*image.NRGBA, []image.Point) {
	var cs []color.NRGBA
	levels := []uint8{0, 60, 128, 190, 255}
	for _, r := range levels {
		for _, g := range levels {
			for _, b := range levels {
				cs = append(cs, color.NRGBA{r, g, b, 255})
			}
		}
	}
	cs = append(cs, color.NRGBA{234, 51, 35, 255}, color.NRGBA{30, 200, 60, 255}, color.NRGBA{40, 50, 220, 255})
	const side, per = 16, 16
	rows := (len(cs) + per - 1) / per
	m := image.NewNRGBA(image.Rect(0, 0, side*per, side*rows))
	var centres []image.Point
	for i, c := range cs {
		x0, y0 := side*(i%per), side*(i/per)
		for y := y0; y < y0+side; y++ {
			for x := x0; x < x0+side; x++ {
				m.SetNRGBA(x, y, c)
			}
		}
		centres = append(centres, image.Pt(x0+side/2, y0+side/2))
	}
	return m, centres
}

// TestColorPatchesAgainstVips converts colour patches from Display P3 and Adobe RGB JPEGs,
// at full size and as half-size thumbnails (the conversion in the resize), and compares them
// with vips's conversion of the same files (Little CMS): CIEDE2000 under 2 on every patch.
func TestColorPatchesAgainstVips(t *testing.T) {
	vips, err := exec.LookPath("vips")
	if err != nil {
		t.Skip("vips not installed: no reference conversion")
	}
	vipsthumbnail, err := exec.LookPath("vipsthumbnail")
	if err != nil {
		t.Skip("vipsthumbnail not installed: no reference conversion")
	}
	m, centres := patchImage()
	for _, space := range []icc.MatrixProfile{icc.DisplayP3, icc.AdobeRGB} {
		in, out := t.TempDir(), t.TempDir()
		src := filepath.Join(in, "patches.jpg")
		taggedJPEG(t, src, m, imageio.Metadata{ICC: space.Encode()})
		for _, half := range []bool{false, true} {
			args := []string{"--in", in, "--out", out, "--format", "png", "--overwrite", "--quiet"}
			ref := filepath.Join(t.TempDir(), "ref.png")
			var cmd *exec.Cmd
			scale := 1
			if half {
				scale = 2
				w := m.Rect.Dx() / 2
				args = append(args, "--size", strconv.Itoa(w))
				cmd = exec.Command(vipsthumbnail, src, "--size", strconv.Itoa(w), "-e", "srgb", "--intent", "relative", "-o", ref)
			} else {
				cmd = exec.Command(vips, "icc_transform", src, ref, "srgb", "--embedded", "--intent", "relative")
			}
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %v: %s", cmd.Args, err, b)
			}
			if r := imgpipe(t, args...); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			got, want := readPixels(t, filepath.Join(out, "patches.png")), readPixels(t, ref)
			if got.Image.Width != want.Image.Width || got.Image.Height != want.Image.Height {
				t.Fatalf("%s: %d×%d, vips %d×%d", space.Description, got.Image.Width, got.Image.Height, want.Image.Width, want.Image.Height)
			}
			worst, sum := 0.0, 0.0
			for _, c := range centres {
				e := icc.DeltaE2000(pixelAt(got, c.X/scale, c.Y/scale), pixelAt(want, c.X/scale, c.Y/scale))
				worst, sum = max(worst, e), sum+e
			}
			t.Logf("%s, half size %v: ΔE2000 against vips: mean %.3f, worst %.3f over %d patches",
				space.Description, half, sum/float64(len(centres)), worst, len(centres))
			if worst >= 2 {
				t.Errorf("%s, half size %v: worst ΔE2000 %.2f", space.Description, half, worst)
			}
		}
	}
}

// TestKeepMetadata checks what outputs carry: nothing by default; with --keep-metadata the
// EXIF block (orientation reset to 1, the pixels being upright), the XMP packet and the
// profile where it still describes the pixels; for JPEG and PNG outputs.
func TestKeepMetadata(t *testing.T) {
	in := t.TempDir()
	exif := []byte("MM\x00*\x00\x00\x00\x08\x00\x02" +
		"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00" + // Orientation 6
		"\x01\x0f\x00\x02\x00\x00\x00\x04Cam\x00" + // Make "Cam"
		"\x00\x00\x00\x00")
	xmp := []byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:Orientation="6" dc:title="t"/></x:xmpmeta>`)
	p3 := icc.DisplayP3.Encode()
	taggedJPEG(t, filepath.Join(in, "a.jpg"), flat(40, 20, color.NRGBA{10, 120, 200, 255}), imageio.Metadata{ICC: p3, EXIF: exif, XMP: xmp})
	for _, tc := range []struct {
		args       []string
		exif, icc_ bool
	}{
		{nil, false, false},
		{[]string{"--keep-metadata"}, true, false},
		{[]string{"--keep-metadata", "--color", "keep"}, true, true},
		{[]string{"--keep-metadata", "--color", "ignore"}, true, true},
	} {
		for _, format := range []string{"jpeg", "png"} {
			out := t.TempDir()
			r := imgpipe(t, append([]string{"--in", in, "--out", out, "--format", format, "--quiet"}, tc.args...)...)
			if r.code != 0 {
				t.Fatalf("%v: exit %d: %s", tc.args, r.code, r.stderr)
			}
			ext := map[string]string{"png": ".png", "jpeg": ".jpg"}[format]
			file, err := os.ReadFile(filepath.Join(out, "a"+ext))
			if err != nil {
				t.Fatal(err)
			}
			meta := imageio.ReadMetadata(format, file, true, true)
			cfg, _, err := image.DecodeConfig(bytes.NewReader(file))
			if err != nil || cfg.Width != 20 || cfg.Height != 40 {
				t.Errorf("%v %s: %d×%d (%v), want the upright 20×40", tc.args, format, cfg.Width, cfg.Height, err)
			}
			if (meta.EXIF != nil) != tc.exif || (meta.XMP != nil) != tc.exif || (meta.ICC != nil) != tc.icc_ {
				t.Errorf("%v %s: EXIF %d bytes, XMP %d, ICC %d", tc.args, format, len(meta.EXIF), len(meta.XMP), len(meta.ICC))
				continue
			}
			if tc.exif {
				if o := imageio.Orientation(format, file); o != 1 {
					t.Errorf("%v %s: orientation %d, want 1", tc.args, format, o)
				}
				if !bytes.Contains(meta.EXIF, []byte("Cam\x00")) || len(meta.EXIF) != len(exif) {
					t.Errorf("%v %s: EXIF not copied: %q", tc.args, format, meta.EXIF)
				}
				if !bytes.Contains(meta.XMP, []byte(`tiff:Orientation="1"`)) || !bytes.Contains(meta.XMP, []byte(`dc:title="t"`)) {
					t.Errorf("%v %s: XMP %q", tc.args, format, meta.XMP)
				}
			}
			if tc.icc_ && !bytes.Equal(meta.ICC, p3) {
				t.Errorf("%v %s: a different profile", tc.args, format)
			}
		}
	}
}

// TestUnusableProfileIsNamed checks that an image whose profile cannot be used is written
// unconverted, with a line naming the file and the reason, and the run succeeds.
func TestUnusableProfileIsNamed(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	cmyk := icc.DisplayP3.Encode()
	copy(cmyk[16:], "CMYK")
	taggedJPEG(t, filepath.Join(in, "odd.jpg"), flat(16, 16, color.NRGBA{200, 100, 50, 255}), imageio.Metadata{ICC: cmyk})
	bad := icc.DisplayP3.Encode()
	binary.BigEndian.PutUint32(bad[128:], 5000) // a tag count past the end
	taggedJPEG(t, filepath.Join(in, "broken.jpg"), flat(16, 16, color.NRGBA{200, 100, 50, 255}), imageio.Metadata{ICC: bad})
	r := imgpipe(t, "--in", in, "--out", out, "--format", "png")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"odd.jpg: colour: ICC profile", "CMYK profile", "broken.jpg: colour: ICC profile not used", "tags do not fit"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	for _, name := range []string{"odd.png", "broken.png"} {
		d := readPixels(t, filepath.Join(out, name))
		if got := pixelAt(d, 8, 8); got[0] < 195 || got[0] > 205 {
			t.Errorf("%s: pixel %v, want the stored (200,100,50)", name, got)
		}
	}
}

// TestTensorsAreSRGB checks that tensor rows are converted too: a uint8 row of the P3 red
// photo holds sRGB's red, unless --color ignore.
func TestTensorsAreSRGB(t *testing.T) {
	in := t.TempDir()
	taggedJPEG(t, filepath.Join(in, "red.jpg"), flat(300, 260, color.NRGBA{234, 51, 35, 255}), imageio.Metadata{ICC: icc.DisplayP3.Encode()})
	for mode, want := range map[string][3]float64{"srgb": {255, 0, 3}, "ignore": {234, 51, 35}} {
		out := t.TempDir()
		if r := imgpipe(t, "--in", in, "--out", out, "--tensor", "imagenet-uint8", "--color", mode, "--quiet"); r.code != 0 {
			t.Fatalf("--color %s: exit %d: %s", mode, r.code, r.stderr)
		}
		f, err := os.Open(filepath.Join(out, "shard-00000.npy"))
		if err != nil {
			t.Fatal(err)
		}
		h, err := npy.ReadHeader(f)
		if err != nil {
			t.Fatal(err)
		}
		row := make([]byte, 224*224*3)
		if _, err := io.ReadFull(f, row); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if !slices.Equal(h.Shape, []int{1, 224, 224, 3}) {
			t.Fatalf("shape %v", h.Shape)
		}
		p := row[(112*224+112)*3:]
		for i := range 3 {
			if d := float64(p[i]) - want[i]; d > 4 || d < -4 {
				t.Errorf("--color %s: row pixel %v, want about %v", mode, p[:3], want)
				break
			}
		}
	}
}

// TestCMYKJPEGThroughItsProfile converts a CMYK JPEG with a CMYK profile (written by vips)
// through Little CMS and compares it with vips's own conversion.
func TestCMYKJPEGThroughItsProfile(t *testing.T) {
	vips, err := exec.LookPath("vips")
	if err != nil {
		t.Skip("vips not installed: no CMYK file and no reference conversion")
	}
	if err := icc.LittleCMS(); err != nil {
		t.Skipf("Little CMS not loaded: %v", err)
	}
	in, out := t.TempDir(), t.TempDir()
	m, centres := patchImage()
	var buf bytes.Buffer
	img := raster.Image{Pix: m.Pix, Width: m.Rect.Dx(), Height: m.Rect.Dy(), Stride: m.Stride, Channels: 4}
	if err := (&imageio.Encoder{Format: imageio.PNG}).Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	srcPNG := filepath.Join(t.TempDir(), "patches.png")
	if err := os.WriteFile(srcPNG, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmyk := filepath.Join(in, "cmyk.jpg")
	ref := filepath.Join(t.TempDir(), "ref.png")
	for _, args := range [][]string{
		{"icc_transform", srcPNG, cmyk + "[Q=100]", "cmyk", "--intent", "relative"},
		{"icc_transform", cmyk, ref, "srgb", "--embedded", "--intent", "relative"},
	} {
		if b, err := exec.Command(vips, args...).CombinedOutput(); err != nil {
			t.Fatalf("vips %v: %v: %s", args, err, b)
		}
	}
	r := imgpipe(t, "--in", in, "--out", out, "--format", "png", "--quiet")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got, want := readPixels(t, filepath.Join(out, "cmyk.png")), readPixels(t, ref)
	worst, sum := 0.0, 0.0
	for _, c := range centres {
		e := icc.DeltaE2000(pixelAt(got, c.X, c.Y), pixelAt(want, c.X, c.Y))
		worst, sum = max(worst, e), sum+e
	}
	t.Logf("CMYK: ΔE2000 against vips: mean %.3f, worst %.3f over %d patches", sum/float64(len(centres)), worst, len(centres))
	if worst >= 2 {
		t.Errorf("CMYK: worst ΔE2000 %.2f", worst)
	}
	file, _ := os.ReadFile(filepath.Join(out, "cmyk.png"))
	if meta := imageio.ReadMetadata("png", file, true, false); meta.ICC != nil {
		t.Error("the CMYK profile was embedded in the RGB output")
	}
}
