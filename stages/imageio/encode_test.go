package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"golang.org/x/image/draw"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

func TestEncodePNGRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	src := noise(rng, 33, 21, true)
	e := &Encoder{Format: PNG}
	for _, ch := range []int{1, 3, 4} {
		img := ToChannels(fromNRGBA(src, 4), ch, [3]uint8{}, nil)
		var b bytes.Buffer
		if err := e.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		got, err := (&Decoder{}).DecodeBytes("out.png", b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		equalImages(t, got.Image, img)
	}
	if e.Ext() != ".png" || (&Encoder{}).Ext() != ".jpg" {
		t.Fatal("Ext")
	}
}

func TestEncodeJPEG(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	src := fromNRGBA(photo(rng, 120, 80), 3)
	for _, pure := range []bool{true, false} {
		for _, ch := range []int{1, 3} {
			img := ToChannels(src, ch, [3]uint8{}, nil)
			var b bytes.Buffer
			if err := (&Encoder{Quality: 92, PureGo: pure}).Encode(&b, img); err != nil {
				t.Fatal(err)
			}
			m, err := jpeg.Decode(&b) // an independent decoder reads it
			if err != nil {
				t.Fatal(err)
			}
			if diff := meanAbsDiff(t, FromImage(m, nil), img); diff > 3 {
				t.Errorf("pure Go %v, %d channels: differs by %.2f", pure, ch, diff)
			}
		}
	}
	// Quality changes the size.
	small, big := &bytes.Buffer{}, &bytes.Buffer{}
	(&Encoder{Quality: 30}).Encode(small, src)
	(&Encoder{Quality: 98}).Encode(big, src)
	if small.Len() >= big.Len() {
		t.Fatalf("quality 30 gave %d bytes, quality 98 %d", small.Len(), big.Len())
	}
}

// Alpha is flattened onto the background for JPEG, on both paths.
func TestEncodeJPEGFlattensAlpha(t *testing.T) {
	img := raster.Image{Pix: make([]byte, 16*16*4), Width: 16, Height: 16, Stride: 64, Channels: 4}
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+3] = 255, 0 // red, fully transparent
	}
	for _, pure := range []bool{true, false} {
		var b bytes.Buffer
		if err := (&Encoder{Background: [3]uint8{0, 0, 255}, PureGo: pure}).Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		m, err := jpeg.Decode(&b)
		if err != nil {
			t.Fatal(err)
		}
		r, g, bl, _ := m.At(8, 8).RGBA()
		if r>>8 > 8 || g>>8 > 8 || bl>>8 < 247 {
			t.Fatalf("pure Go %v: pixel is %d,%d,%d; want the blue background", pure, r>>8, g>>8, bl>>8)
		}
	}
}

func TestEncodeRefusesBadImages(t *testing.T) {
	for _, m := range []raster.Image{
		{},
		{Pix: make([]byte, 10), Width: 2, Height: 2, Stride: 6, Channels: 3},
		{Pix: make([]byte, 100), Width: 2, Height: 2, Stride: 2, Channels: 3},
		{Pix: make([]byte, 100), Width: 2, Height: 2, Stride: 8, Channels: 2},
	} {
		for _, f := range []string{JPEG, PNG} {
			if err := (&Encoder{Format: f}).Encode(&bytes.Buffer{}, m); err == nil {
				t.Errorf("%s accepted %+v", f, m)
			}
		}
	}
	img := raster.Image{Pix: make([]byte, 3), Width: 1, Height: 1, Stride: 3, Channels: 3}
	if err := (&Encoder{Format: "gif"}).Encode(&bytes.Buffer{}, img); err == nil || !strings.Contains(err.Error(), "gif") {
		t.Errorf("gif: %v", err)
	}
}

func TestEncodeWriteError(t *testing.T) {
	img := raster.Image{Pix: make([]byte, 64*64*3), Width: 64, Height: 64, Stride: 192, Channels: 3}
	boom := errors.New("disk on fire")
	for _, e := range []*Encoder{{}, {PureGo: true}, {Format: PNG}} {
		if err := e.Encode(failWriter{boom}, img); !errors.Is(err, boom) {
			t.Errorf("%+v: err = %v", e, err)
		}
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

// One Encoder serves many goroutines.
func TestEncodeConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	src := photo(rng, 64, 48)
	want := encodePNG(t, src)
	e := &Encoder{Format: PNG, Compression: png.DefaultCompression, Pool: &Pool{}}
	img := fromNRGBA(src, 4)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				var b bytes.Buffer
				if err := e.Encode(&b, img); err != nil {
					t.Error(err)
					return
				}
				m, err := png.Decode(&b)
				if err != nil {
					t.Error(err)
					return
				}
				ref, _ := png.Decode(bytes.NewReader(want))
				if !bytes.Equal(toNRGBA(m).Pix, toNRGBA(ref).Pix) {
					t.Error("concurrent PNG encode changed pixels")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]string{"jpg": JPEG, ".JPEG": JPEG, "Png": PNG, "WEBP": WebP, ".avif": AVIF} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("gif"); err == nil {
		t.Error("gif accepted as an output format")
	}
}

func toNRGBA(m image.Image) *image.NRGBA {
	out := image.NewNRGBA(m.Bounds())
	draw.Draw(out, out.Rect, m, image.Point{}, draw.Src)
	return out
}
