package imageio

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"math/rand/v2"
	"testing"

	"github.com/gpupipe/gpupipe/internal/hostile"
)

// encodeWebP writes m as WebP with the package's own encoder (libwebp).
func encodeWebP(t testing.TB, m *image.NRGBA, q int, lossless bool) []byte {
	t.Helper()
	ch := 3
	if !m.Opaque() {
		ch = 4
	}
	var b bytes.Buffer
	if err := (&Encoder{Format: WebP, Quality: q, Lossless: lossless}).Encode(&b, fromNRGBA(m, ch)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Lossy WebP decodes to what libwebp decodes (through Pillow): limited-range VP8 colour and
// libwebp's chroma upsampling, at odd sizes and with alpha.
func TestWebPLossyMatchesLibwebp(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	withAlpha := photo(rng, 45, 31)
	for y := range 31 {
		for x := range 45 {
			withAlpha.Pix[withAlpha.PixOffset(x, y)+3] = uint8(x * 255 / 44)
		}
	}
	for _, c := range []struct {
		name string
		m    *image.NRGBA
		mode string
	}{
		{"photo", photo(rng, 97, 61), "RGB"},
		{"even", photo(rng, 64, 48), "RGB"},
		{"one-row", photo(rng, 33, 1), "RGB"},
		{"alpha", withAlpha, "RGBA"},
	} {
		data := encodeWebP(t, c.m, 80, false)
		want := pillowDecode(t, c.name+".webp", data, c.mode)
		for path, d := range decoders(nil) {
			got, err := d.DecodeBytes(c.name+".webp", data)
			if err != nil {
				t.Fatalf("%s/%s: %v", c.name, path, err)
			}
			db, maxDiff := psnr(t, want, got.Image)
			if maxDiff > 1 {
				t.Errorf("%s/%s: differs from libwebp by up to %d (PSNR %.1f dB)", c.name, path, maxDiff, db)
			}
		}
	}
}

// A 0..255 ramp survives a lossy WebP round trip as 0..255, not the 16..235 of limited-range
// colour read as full range.
func TestWebPRampFullRange(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 256, 16))
	for y := range 16 {
		for x := range 256 {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(x), uint8(x), 255})
		}
	}
	got, err := (&Decoder{Channels: 1}).DecodeBytes("ramp.webp", encodeWebP(t, m, 100, false))
	if err != nil {
		t.Fatal(err)
	}
	img := got.Image
	for x := range 256 {
		if v := int(img.Pix[8*img.Stride+x]); v < x-2 || v > x+2 {
			t.Errorf("ramp value %d decoded as %d", x, v)
		}
	}
}

// Lossless WebP keeps every pixel, alpha included.
func TestWebPLossless(t *testing.T) {
	m := noise(rand.New(rand.NewPCG(73, 74)), 29, 17, true)
	got, err := (&Decoder{}).DecodeBytes("ll.webp", encodeWebP(t, m, 0, true))
	if err != nil {
		t.Fatal(err)
	}
	equalImages(t, got.Image, fromNRGBA(m, 4))
}

// An animated WebP decodes to its first frame placed on the canvas, as Pillow shows it.
func TestWebPAnimatedFirstFrame(t *testing.T) {
	data := hostile.AnimatedWebP()
	want := pillowDecode(t, "anim.webp", data, "RGB")
	for path, d := range decoders(nil) {
		got, err := d.Decode(context.Background(), writeFile(t, "anim.webp", data))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		equalImages(t, got.Image, want)
		if p := got.Image.Pix[4*got.Image.Stride+2*3:][:3]; p[0] != 255 || p[1] != 0 || p[2] != 0 {
			t.Errorf("%s: the frame's pixel at 2,4 is %v, want red", path, p)
		}
	}
}

// The native libwebp (where loaded) and the WebAssembly one write files of the same size and
// fidelity, lossy and lossless, with and without alpha.
func TestWebPNativeAndWasmAgree(t *testing.T) {
	if err := libwebpLoad(); err != nil {
		if cgoBuild {
			t.Fatalf("libwebp not loaded (libwebp7 is installed with libheif1): %v", err)
		}
		t.Skip(err)
	}
	rng := rand.New(rand.NewPCG(75, 76))
	src := photo(rng, 120, 80)
	for y := range 80 {
		for x := range 120 {
			src.Pix[src.PixOffset(x, y)+3] = uint8(max(0, 255-3*x)) // transparent from x=85
		}
	}
	for _, ch := range []int{3, 4} {
		img := fromNRGBA(src, ch)
		for _, lossless := range []bool{false, true} {
			var native, wasm bytes.Buffer
			if err := (&Encoder{Format: WebP, Quality: 80, Lossless: lossless}).Encode(&native, img); err != nil {
				t.Fatal(err)
			}
			if err := (&Encoder{Format: WebP, Quality: 80, Lossless: lossless, PureGo: true}).Encode(&wasm, img); err != nil {
				t.Fatal(err)
			}
			a, err := (&Decoder{}).DecodeBytes("native.webp", native.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			b, err := (&Decoder{}).DecodeBytes("wasm.webp", wasm.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			ratio := float64(native.Len()) / float64(wasm.Len())
			db, _ := psnr(t, a.Image, b.Image)
			if lossless {
				equalImages(t, a.Image, img)
			}
			if ratio < 0.9 || ratio > 1.1 || db < 40 {
				t.Errorf("%d channels, lossless %v: native %d bytes, wasm %d; PSNR between them %.1f dB",
					ch, lossless, native.Len(), wasm.Len(), db)
			}
		}
	}
}
