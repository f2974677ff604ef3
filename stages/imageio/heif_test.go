package imageio

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// The HEIC files in testdata were written by heif-enc (libheif 1.15, x265) from
// heic_source.png (alpha.heic with a horizontal alpha ramp); the _ref PNGs are heif-convert's
// decodes of them.

func readPNG(t testing.TB, name string) raster.Image {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return FromImage(m, nil)
}

func needLibheif(t testing.TB) {
	t.Helper()
	if err := HEIFLib(); err != nil {
		if cgoBuild {
			t.Fatalf("libheif not loaded (scripts/setup.sh installs libheif1): %v", err)
		}
		t.Skipf("HEIC needs libheif: %v", err)
	}
}

// HEIC decodes to what libheif's own heif-convert gives, alpha included, and close to the
// picture that was encoded.
func TestHEICMatchesLibheif(t *testing.T) {
	needLibheif(t)
	for _, c := range []struct{ file, ref string }{
		{"photo.heic", "photo_heic_ref.png"},
		{"alpha.heic", "alpha_heic_ref.png"},
	} {
		data, err := os.ReadFile("testdata/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := (&Decoder{}).Decode(context.Background(), writeFile(t, c.file, data))
		if err != nil {
			t.Fatal(err)
		}
		if got.Format != "heif" {
			t.Errorf("%s: format %q", c.file, got.Format)
		}
		if db, maxDiff := psnr(t, readPNG(t, c.ref), got.Image); maxDiff > 1 {
			t.Errorf("%s: differs from heif-convert by up to %d (PSNR %.1f dB)", c.file, maxDiff, db)
		}
		src := readPNG(t, "heic_source.png")
		if db, _ := psnr(t, src, ToChannels(got.Image, 3, [3]uint8{}, nil)); c.file == "photo.heic" && db < 35 {
			t.Errorf("%s: PSNR %.1f dB against the source", c.file, db)
		}
	}
}

// AVIF written by the Encoder decodes, through libheif and through the WebAssembly libavif
// alike, close to what was encoded, with alpha. (4:2:0 chroma costs this small picture's sharp
// circle about 30 dB in every lossy format, JPEG at quality 100 included.)
func TestAVIFRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 82))
	src := photo(rng, 67, 41)
	for y := range 41 {
		for x := range 67 {
			src.Pix[src.PixOffset(x, y)+3] = uint8(255 - 2*x)
		}
	}
	for _, ch := range []int{3, 4} {
		want := fromNRGBA(src, ch)
		var b bytes.Buffer
		if err := (&Encoder{Format: AVIF, Quality: 90}).Encode(&b, want); err != nil {
			t.Fatal(err)
		}
		d := &Decoder{}
		wasm, err := d.decodeAVIFWasm(b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if db, _ := psnr(t, want, wasm); db < 28 {
			t.Errorf("%d channels, wasm libavif: PSNR %.1f dB", ch, db)
		}
		if HEIFLib() != nil {
			continue
		}
		got, err := d.DecodeBytes("x.avif", b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if db, _ := psnr(t, want, got.Image); db < 28 || got.Format != "avif" {
			t.Errorf("%d channels, libheif: %s PSNR %.1f dB", ch, got.Format, db)
		}
		if db, maxDiff := psnr(t, wasm, got.Image); maxDiff > 4 {
			t.Errorf("%d channels: libheif and libavif differ by up to %d (PSNR %.1f dB)", ch, maxDiff, db)
		}
	}
}

// ftyp brands decide: HEIC, HEIF, AVIF, and an MP4 video is not an image.
func TestHEIFBrands(t *testing.T) {
	ftyp := func(major string, compat ...string) []byte {
		b := []byte{0, 0, 0, 0}
		b = append(b, "ftyp"+major+"\x00\x00\x00\x00"...)
		for _, c := range compat {
			b = append(b, c...)
		}
		b[3] = byte(len(b))
		return append(b, make([]byte, 16)...)
	}
	for _, c := range []struct {
		data []byte
		want string
	}{
		{ftyp("heic", "mif1", "heic"), "heif"},
		{ftyp("mif1", "mif1", "heix"), "heif"},
		{ftyp("mif1", "mif1", "avif", "miaf"), "avif"},
		{ftyp("avis", "avis", "msf1"), "avif"},
		{ftyp("isom", "isom", "mp41"), ""},
	} {
		if got := heifBrand(c.data); got != c.want {
			t.Errorf("brands %q: %q, want %q", c.data[8:c.data[3]], got, c.want)
		}
	}
	// A damaged HEIC is corrupt, not unknown or unsupported.
	if HEIFLib() == nil {
		data, _ := os.ReadFile("testdata/photo.heic")
		_, err := (&Decoder{}).DecodeBytes("cut.heic", data[:len(data)/2])
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("cut HEIC: %v", err)
		}
	}
}
