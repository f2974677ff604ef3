package imageio

import (
	"bytes"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
)

// A 4000×3000 camera-sized JPEG, made once.
var bigJPEG = sync.OnceValue(func() []byte {
	rng := rand.New(rand.NewPCG(51, 52))
	var b bytes.Buffer
	if err := (&Encoder{Quality: 90, PureGo: true}).Encode(&b, fromNRGBA(photo(rng, 4000, 3000), 3)); err != nil {
		panic(err)
	}
	return b.Bytes()
})

// BenchmarkDecodeJPEG compares the decoding paths on one 12-megapixel JPEG: image/jpeg,
// libjpeg-turbo at full size, and libjpeg-turbo with shrink-on-load for a 1000-pixel target
// (decoded at 1/2) and a 224-pixel target (at 1/8). MP/s counts source pixels.
func BenchmarkDecodeJPEG(b *testing.B) {
	data := bigJPEG()
	cases := []struct {
		name string
		d    *Decoder
	}{
		{"go", &Decoder{PureGo: true}},
		{"turbo", &Decoder{}},
		{"turbo-shrink2", &Decoder{MinSize: twiceFit(1000, 1000)}},
		{"turbo-shrink8", &Decoder{MinSize: twiceFit(224, 224)}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if c.name != "go" && TurboJPEG() != nil {
				b.Skipf("libjpeg-turbo not available: %v", TurboJPEG())
			}
			c.d.Pool = &Pool{}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				got, err := c.d.DecodeBytes("big.jpg", data)
				if err != nil {
					b.Fatal(err)
				}
				got.Release()
			}
			b.ReportMetric(12*float64(b.N)/b.Elapsed().Seconds(), "MP/s")
		})
	}
}

// BenchmarkEncodeJPEG compares image/jpeg with libjpeg-turbo on a 12-megapixel image.
func BenchmarkEncodeJPEG(b *testing.B) {
	img, err := (&Decoder{PureGo: true}).DecodeBytes("big.jpg", bigJPEG())
	if err != nil {
		b.Fatal(err)
	}
	for _, pure := range []bool{true, false} {
		name := "turbo"
		if pure {
			name = "go"
		}
		b.Run(name, func(b *testing.B) {
			if !pure && TurboJPEG() != nil {
				b.Skipf("libjpeg-turbo not available: %v", TurboJPEG())
			}
			e := &Encoder{Quality: 90, PureGo: pure, Pool: &Pool{}}
			for b.Loop() {
				if err := e.Encode(io.Discard, img.Image); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(12*float64(b.N)/b.Elapsed().Seconds(), "MP/s")
		})
	}
}
