package samples

import (
	"io"
	"testing"

	"github.com/gpupipe/gpupipe/stages/imageio"
)

// BenchmarkImage draws one default-size image on one core.
func BenchmarkImage(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		if _, err := Image(1, i, DefaultWidth, DefaultHeight); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode encodes one default-size image as a JPEG at the default quality, with
// libjpeg-turbo where it is loaded and with Go's image/jpeg.
func BenchmarkEncode(b *testing.B) {
	img, err := Image(1, 0, DefaultWidth, DefaultHeight)
	if err != nil {
		b.Fatal(err)
	}
	for _, pureGo := range []bool{false, true} {
		name := "turbo"
		if pureGo {
			name = "go"
		}
		b.Run(name, func(b *testing.B) {
			if !pureGo && imageio.TurboJPEG() != nil {
				b.Skip(imageio.TurboJPEG())
			}
			enc := &imageio.Encoder{PureGo: pureGo}
			for b.Loop() {
				if err := enc.Encode(io.Discard, img); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWrite writes a set of default-size JPEG images on every core, from scratch each
// time; the time per image is the figure to compare with decoding.
func BenchmarkWrite(b *testing.B) {
	const count = 8
	for b.Loop() {
		dir := b.TempDir()
		if _, err := Write(dir, Options{Count: count}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*count), "ms/image")
}
