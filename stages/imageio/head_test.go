package imageio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gpupipe/gpupipe/stages/walk"
)

// A gigabyte of zeros named .png is refused from its first bytes, by Head and by Decode,
// without being read into memory.
func TestJunkRefusedFromItsSignature(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1000 << 20); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	file := walk.File{Rel: path, Size: 1000 << 20}
	d := &Decoder{Pool: &Pool{}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, herr := d.Head(context.Background(), file)
	_, derr := d.Decode(context.Background(), file)
	runtime.ReadMemStats(&after)
	for name, err := range map[string]error{"Head": herr, "Decode": derr} {
		if !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("%s: %v, want ErrUnknownFormat", name, err)
		}
		var e *Error
		if !errors.As(err, &e) || e.Path != path {
			t.Errorf("%s: %v does not name the file", name, err)
		}
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Errorf("refusing the junk file allocated %d bytes", got)
	}
}

// Head reads the size from the header and counts what a decode holds: the file, the Go
// decoder's own image and the Image it makes (and for a turned JPEG, a second one).
func TestHeadCountsTheDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alpha := noise(rng, 120, 80, true)
	opaque := image.NewRGBA(image.Rect(0, 0, 90, 70))
	for i := range opaque.Pix {
		opaque.Pix[i] = 255
	}
	gray := image.NewGray16(image.Rect(0, 0, 50, 40))
	gray.SetGray16(3, 3, color.Gray16{Y: 999})
	cases := []struct {
		name     string
		data     []byte
		w, h, c  int
		goBytes  int
		turned   bool
		pureOnly bool
	}{
		{name: "alpha.png", data: encodePNG(t, alpha), w: 120, h: 80, c: 4, goBytes: 4},
		{name: "opaque.png", data: encodePNG(t, opaque), w: 90, h: 70, c: 3, goBytes: 4},
		{name: "gray16.png", data: encodePNG(t, gray), w: 50, h: 40, c: 1, goBytes: 2},
		{name: "turned.jpg", data: withJPEGExif(encodeJPEG(t, photo(rng, 64, 48), 90), 6, binary.BigEndian), w: 48, h: 64, c: 3, goBytes: 3, turned: true, pureOnly: true},
	}
	for _, tc := range cases {
		file := writeFile(t, tc.name, tc.data)
		d := &Decoder{PureGo: true}
		h, err := d.Head(context.Background(), file)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if h.DecodedWidth != tc.w || h.DecodedHeight != tc.h || h.Channels != tc.c {
			t.Errorf("%s: decoded %dx%dx%d, want %dx%dx%d", tc.name, h.DecodedWidth, h.DecodedHeight, h.Channels, tc.w, tc.h, tc.c)
		}
		px := int64(tc.w * tc.h)
		want := int64(len(tc.data)) + px*int64(tc.goBytes) + px*int64(tc.c)
		if strings.HasSuffix(tc.name, ".png") {
			want -= px * int64(tc.c) // converted in the Go decoder's image
		}
		if tc.turned {
			want += px * int64(tc.c)
		}
		if h.Peak != want {
			t.Errorf("%s: peak %d, want %d", tc.name, h.Peak, want)
		}
		got, err := d.Decode(context.Background(), file)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n := int64(len(got.Image.Pix)); n > h.Pixels() {
			t.Errorf("%s: decoded %d bytes of pixels, Head counted %d", tc.name, n, h.Pixels())
		}
		got.Release()
	}
	// An image over the pixel limit is refused from the head.
	big := writeFile(t, "big.png", hugePNG(20000, 20000))
	if _, err := (&Decoder{}).Head(context.Background(), big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge header: %v, want ErrTooLarge", err)
	}
}

// A progressive JPEG's decoders hold its coefficients whole: 2 bytes each in libjpeg-turbo,
// 4 in Go's decoder, 64 per 8×8 block of each component (344×232 4:2:0: 43×29 luma blocks
// and 22×15 of each chroma).
func TestHeadCountsProgressiveCoefficients(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "progressive_420.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, "p.jpg", data)
	const blocks = 43*29 + 2*22*15
	px := int64(344 * 232 * 3)
	for _, c := range []struct {
		pure bool
		want int64
	}{{true, int64(len(data)) + px + blocks*64*4 + px}, {false, int64(len(data)) + blocks*64*2 + px}} {
		if !c.pure && TurboJPEG() != nil {
			continue
		}
		h, err := (&Decoder{PureGo: c.pure}).Head(context.Background(), file)
		if err != nil {
			t.Fatal(err)
		}
		if h.Peak != c.want {
			t.Errorf("pure Go %v: peak %d, want %d", c.pure, h.Peak, c.want)
		}
	}
}

func TestDecodedHoldReleasedOnce(t *testing.T) {
	d := Decoded{Image: newImage(&Pool{}, 4, 4, 3)}
	n := 0
	d.Hold(func() { n++ })
	d.ReleasePixels()
	if n != 0 || d.Image.Pix != nil {
		t.Fatalf("ReleasePixels: release called %d times, pixels %v", n, d.Image.Pix)
	}
	d.Release()
	d.Release()
	if n != 1 {
		t.Errorf("release called %d times, want 1", n)
	}
}

// A file whose header is broken is left for Decode to report; Head counts little more than
// the file for it.
func TestHeadLeavesABrokenHeaderToDecode(t *testing.T) {
	data := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 300)...)
	file := writeFile(t, "broken.png", data)
	d := &Decoder{}
	h, err := d.Head(context.Background(), file)
	if err != nil || h.Peak != 2*int64(len(data)) {
		t.Fatalf("Head: %+v, %v", h, err)
	}
	if _, err := d.Decode(context.Background(), file); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Decode: %v, want ErrCorrupt", err)
	}
}
