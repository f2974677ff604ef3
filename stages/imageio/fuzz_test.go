package imageio

import (
	"errors"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gpupipe/gpupipe/internal/hostile"
)

// FuzzDecode feeds damaged files of every format to both decoding paths: each must decode
// or return an *Error, never panic, and never exceed the pixel limit. The seeds include the
// hostile files: progressive JPEGs at and past the scan limits, a JPEG of many markers, and
// valid files of unsupported kinds; TIFFs of JPEG strips, CMYK and float samples; BMPs of
// RLE8, OS/2 and 16-bit pixels; HEIC and animated WebP.
func FuzzDecode(f *testing.F) {
	rng := rand.New(rand.NewPCG(61, 62))
	src := photo(rng, 24, 16)
	f.Add(encodeJPEG(f, src, 80))
	f.Add(encodePNG(f, src))
	f.Add(encodeGIF(f, src))
	f.Add(encodeBMP(f, src))
	f.Add(encodeTIFF(f, src))
	f.Add(hostile.ProgressiveJPEG(64, 48, 12))
	f.Add(hostile.ProgressiveJPEG(64, 48, 40))
	f.Add(hostile.ProgressiveJPEG(8, 8, 150))
	f.Add(hostile.ManyMarkersJPEG(1200))
	f.Add(hostile.UnsupportedTIFF(hostile.TIFFJPEG))
	f.Add(hostile.UnsupportedTIFF(hostile.TIFFCMYK))
	f.Add(hostile.UnsupportedTIFF(hostile.TIFFFloat))
	f.Add(hostile.UnsupportedTIFF(hostile.TIFFLZMA))
	for _, b := range bmpVariants(src) {
		f.Add(b)
	}
	f.Add(hostile.AnimatedWebP())
	for _, name := range []string{"photo.heic", "alpha.heic"} {
		if b, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(b)
		}
	}
	for _, name := range []string{"lossy_alpha.webp", "lossless_orient6.webp"} {
		if b, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(b)
		}
	}
	const maxPixels = 1 << 16
	decs := []*Decoder{{PureGo: true, MaxPixels: maxPixels}, {MaxPixels: maxPixels, MinSize: twiceFit(4, 4)}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range decs {
			got, err := d.DecodeBytes("fuzz", data)
			if err != nil {
				var de *Error
				if !errors.As(err, &de) || de.Path != "fuzz" {
					t.Fatalf("error %v is not an *Error naming the input", err)
				}
				continue
			}
			m := got.Image
			if m.Width*m.Height > maxPixels || len(m.Pix) < m.Height*m.Stride ||
				(m.Channels != 1 && m.Channels != 3 && m.Channels != 4) {
				t.Fatalf("decoded %d×%d×%d, stride %d, %d bytes", m.Width, m.Height, m.Channels, m.Stride, len(m.Pix))
			}
		}
	})
}
