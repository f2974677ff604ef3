package imageio

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/color/palette"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"golang.org/x/image/draw"

	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// decoders are the two paths every decoding test runs through.
func decoders(pool *Pool) map[string]*Decoder {
	return map[string]*Decoder{"go": {PureGo: true, Pool: pool}, "default": {Pool: pool}}
}

// Lossless formats decode to exactly the pixels that were encoded.
func TestDecodeLosslessFormats(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	opaque := noise(rng, 37, 23, false)
	alpha := noise(rng, 37, 23, true)
	gray := image.NewGray(opaque.Rect)
	draw.Draw(gray, gray.Rect, opaque, image.Point{}, draw.Src)
	pal := image.NewPaletted(opaque.Rect, palette.Plan9)
	draw.Draw(pal, pal.Rect, opaque, image.Point{}, draw.Src)
	gray16 := image.NewGray16(opaque.Rect)
	draw.Draw(gray16, gray16.Rect, opaque, image.Point{}, draw.Src)

	cases := []struct {
		name string
		data []byte
		want raster.Image
	}{
		{"rgb.png", encodePNG(t, opaque), fromNRGBA(opaque, 3)},
		{"rgba.png", encodePNG(t, alpha), fromNRGBA(alpha, 4)},
		{"gray.png", encodePNG(t, gray), reference(gray)},
		{"gray16.png", encodePNG(t, gray16), reference(gray16)},
		{"paletted.png", encodePNG(t, pal), reference(pal)},
		{"paletted.gif", encodeGIF(t, pal), reference(pal)},
		{"rgb.bmp", encodeBMP(t, opaque), fromNRGBA(opaque, 3)},
		// BMP readers ignore the alpha of the version 3 header the encoder writes.
		{"rgba.bmp", encodeBMP(t, alpha), fromNRGBA(alpha, 3)},
		{"gray.bmp", encodeBMP(t, gray), ToChannels(reference(gray), 3, [3]uint8{}, nil)},
		{"rgb.tiff", encodeTIFF(t, opaque), fromNRGBA(opaque, 3)},
		{"rgba.tiff", encodeTIFF(t, alpha), fromNRGBA(alpha, 4)},
		{"gray.tiff", encodeTIFF(t, gray), reference(gray)},
	}
	pool := &Pool{}
	for _, c := range cases {
		for path, d := range decoders(pool) {
			t.Run(c.name+"/"+path, func(t *testing.T) {
				f := writeFile(t, c.name, c.data)
				got, err := d.Decode(context.Background(), f)
				if err != nil {
					t.Fatal(err)
				}
				defer got.Release()
				equalImages(t, got.Image, c.want)
				if got.File != f || got.Label() != f.Path() || got.Turbo || got.Scale != 1 {
					t.Fatalf("decoded %+v", got)
				}
			})
		}
	}
}

// JPEGs decode close to what was encoded, on both paths, in colour and in gray.
func TestDecodeJPEG(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	src := photo(rng, 160, 120)
	gray := image.NewGray(src.Rect)
	draw.Draw(gray, gray.Rect, src, image.Point{}, draw.Src)
	for path, d := range decoders(nil) {
		got, err := d.DecodeBytes("photo.jpg", encodeJPEG(t, src, 92))
		if err != nil {
			t.Fatal(err)
		}
		if diff := meanAbsDiff(t, got.Image, fromNRGBA(src, 3)); diff > 3 {
			t.Errorf("%s: colour JPEG differs from its source by %.2f per sample", path, diff)
		}
		if got.Format != "jpeg" || got.Turbo != (path == "default" && TurboJPEG() == nil) {
			t.Errorf("%s: format %q, turbo %v", path, got.Format, got.Turbo)
		}
		g, err := d.DecodeBytes("gray.jpg", encodeJPEG(t, gray, 92))
		if err != nil {
			t.Fatal(err)
		}
		if diff := meanAbsDiff(t, g.Image, reference(gray)); g.Image.Channels != 1 || diff > 2 {
			t.Errorf("%s: gray JPEG: %d channels, differs by %.2f", path, g.Image.Channels, diff)
		}
	}
}

func TestDecodeWebP(t *testing.T) {
	opaque := fromNRGBA(webpPattern(64, 48, false), 3)
	alpha := fromNRGBA(webpPattern(64, 48, true), 4)
	cases := []struct {
		file    string
		want    raster.Image
		maxDiff float64
	}{
		{"lossless.webp", opaque, 0},
		{"lossless_alpha.webp", alpha, 0},
		// Lossy files differ where the blue ramp wraps from 255 to 0; a decoder that
		// misplaced or misread pixels would differ by tens.
		{"lossy.webp", opaque, 10},
		{"lossy_alpha.webp", alpha, 10},
		{"lossless_orient6.webp", orient(t, opaque, 6), 0},
	}
	for _, c := range cases {
		f := walk.File{Root: "testdata", Rel: c.file}
		got, err := (&Decoder{}).Decode(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		if diff := meanAbsDiff(t, got.Image, c.want); diff > c.maxDiff {
			t.Errorf("%s differs from its source by %.2f per sample", c.file, diff)
		}
	}
}

// webpPattern is the image the files in testdata were made from with cwebp: a 64×48
// gradient, its right half translucent when alpha is set.
func webpPattern(w, h int, alpha bool) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			a := uint8(255)
			if alpha && x >= w/2 {
				a = uint8(x * 255 / w)
			}
			m.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) * 2), a})
		}
	}
	return m
}

// Every kind of bad file gives an *Error naming the file and the reason, on both paths.
func TestDecodeBadFiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	src := photo(rng, 64, 48)
	jpg := encodeJPEG(t, src, 90)
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.IntN(256))
	}
	cases := []struct {
		name   string
		data   []byte
		is     error
		reason string
	}{
		{"empty.jpg", nil, ErrEmpty, "empty file"},
		{"random.jpg", random, ErrUnknownFormat, "not an image"},
		{"text.png", []byte("this is not a picture"), ErrUnknownFormat, "not an image"},
		{"truncated.jpg", jpg[:len(jpg)/2], ErrCorrupt, "truncated"},
		{"header-only.jpg", jpg[:200], ErrCorrupt, "jpeg"},
		{"magic-only.jpg", append([]byte{0xff, 0xd8, 0xff}, random[:100]...), ErrCorrupt, "jpeg"},
		{"truncated.png", truncate(encodePNG(t, src)), ErrCorrupt, "png"},
		{"truncated.gif", truncate(encodeGIF(t, src)), ErrCorrupt, "gif"},
		{"truncated.bmp", truncate(encodeBMP(t, src)), ErrCorrupt, "bmp"},
		{"truncated.tiff", truncate(encodeTIFF(t, src)), ErrCorrupt, "tiff"},
		{"truncated.webp", truncate(readTestdata(t, "lossy.webp")), ErrCorrupt, "webp"},
		{"huge.png", hugePNG(100000, 100000), ErrTooLarge, "100000×100000 is 10000.0 megapixels, over the limit of 100.0"},
		{"huge.jpg", hugeJPEG(jpg, 65535, 65535), ErrTooLarge, "65535×65535"},
		{"zero.png", hugePNG(0, 10), ErrCorrupt, "png"},
		{"long.png", hugePNG(2_000_000, 1), ErrTooLarge, "side over 1048576"},
	}
	for _, c := range cases {
		for path, d := range decoders(&Pool{}) {
			t.Run(c.name+"/"+path, func(t *testing.T) {
				f := writeFile(t, c.name, c.data)
				got, err := d.Decode(context.Background(), f)
				var de *Error
				if got != nil || !errors.As(err, &de) || de.Path != f.Path() || !errors.Is(err, c.is) {
					t.Fatalf("got %v, %v; want an *Error for %s wrapping %v", got, err, f.Path(), c.is)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, f.Path()+": ") || !strings.Contains(msg, c.reason) {
					t.Fatalf("error %q does not give the path and %q", msg, c.reason)
				}
			})
		}
	}
}

func truncate(b []byte) []byte { return b[:len(b)*2/3] }

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A header that claims a huge image is refused before any pixel memory is allocated.
func TestHugeHeaderCostsNothing(t *testing.T) {
	data := hugePNG(100000, 100000)
	d := &Decoder{}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := d.DecodeBytes("huge.png", data); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("refusing 10 huge headers allocated %d bytes", grew)
	}
}

func TestLimits(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	data := encodePNG(t, noise(rng, 100, 100, false))
	if _, err := (&Decoder{MaxPixels: 9_999}).DecodeBytes("a.png", data); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("MaxPixels 9999: err = %v", err)
	}
	if _, err := (&Decoder{MaxPixels: 10_000}).DecodeBytes("a.png", data); err != nil {
		t.Fatalf("MaxPixels 10000: err = %v", err)
	}
	// Only the header is checked here: decoding would really allocate 30 GB.
	if h, err := (&Decoder{MaxPixels: -1}).probe(hugePNG(100000, 100000)); err != nil || h.width != 100000 {
		t.Fatalf("no limit: %+v, %v", h, err)
	}
	f := writeFile(t, "a.png", data)
	_, err := (&Decoder{MaxFileSize: int64(len(data) - 1)}).Decode(context.Background(), f)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("MaxFileSize: err = %v", err)
	}
}

func TestDecodeMissingFileAndFolder(t *testing.T) {
	f := walk.File{Root: t.TempDir(), Rel: "gone.jpg"}
	_, err := (&Decoder{}).Decode(context.Background(), f)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), f.Path()) {
		t.Fatalf("err = %v", err)
	}
	dir := walk.File{Root: t.TempDir(), Rel: "."}
	if _, err := (&Decoder{}).Decode(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("folder: err = %v", err)
	}
}

func TestDecodeCancelled(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	f := writeFile(t, "a.png", encodePNG(t, noise(rng, 10, 10, false)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&Decoder{}).Decode(ctx, f); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestForcedChannels(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	alpha := noise(rng, 20, 10, true)
	data := encodePNG(t, alpha)
	bg := [3]uint8{255, 0, 0}
	for _, ch := range []int{1, 3, 4} {
		got, err := (&Decoder{Channels: ch, Background: bg}).DecodeBytes("a.png", data)
		if err != nil {
			t.Fatal(err)
		}
		equalImages(t, got.Image, ToChannels(fromNRGBA(alpha, 4), ch, bg, nil))
	}
}

// With a pool, decoding the same file again reuses the file and pixel buffers.
func TestDecodeReusesBuffers(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	// A collection empties sync.Pools; without one, what was put back is there to take.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	rng := rand.New(rand.NewPCG(23, 24))
	data := encodeJPEG(t, photo(rng, 400, 300), 90)
	f := writeFile(t, "a.jpg", data)
	perDecode := func(d *Decoder) uint64 {
		decode := func() {
			got, err := d.Decode(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			got.Release()
		}
		decode()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			decode()
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / 10
	}
	buffers := uint64(400*300*3 + len(data))
	for path, d := range decoders(&Pool{}) {
		pooled := perDecode(d)
		d.Pool = nil
		unpooled := perDecode(d)
		if unpooled-pooled < buffers*9/10 {
			t.Errorf("%s: %d bytes a decode with a pool, %d without: the %d bytes of buffers are not reused",
				path, pooled, unpooled, buffers)
		}
		// What is left is image.DecodeConfig's header parse (its decoder state, about 18 KB).
		if path == "default" && TurboJPEG() == nil && pooled > 64<<10 {
			t.Errorf("libjpeg-turbo decode allocated %d bytes with a warm pool", pooled)
		}
	}
}

func TestDecodeBytesKeepsInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	data := encodeJPEG(t, photo(rng, 32, 32), 90)
	cp := bytes.Clone(data)
	if _, err := (&Decoder{Pool: &Pool{}}).DecodeBytes("a.jpg", data); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cp, data) {
		t.Fatal("DecodeBytes changed its input")
	}
}
