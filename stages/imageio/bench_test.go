package imageio

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/raster"
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

// A 1600×1200 photo-like picture for the WebP and AVIF benchmarks, or the PNG named by
// GPUPIPE_BENCH_IMAGE (bench/codecs.sh gives the one it also gives cwebp and avifenc).
var webPicture = sync.OnceValue(func() raster.Image {
	if p := os.Getenv("GPUPIPE_BENCH_IMAGE"); p != "" {
		d, err := (&Decoder{}).DecodeFile(context.Background(), p)
		if err != nil {
			panic(err)
		}
		return d.Image
	}
	return fromNRGBA(photo(rand.New(rand.NewPCG(53, 54)), 1600, 1200), 3)
})

// BenchmarkEncodeFormats writes one picture in every output format, JPEG at quality 85
// (libjpeg-turbo where loaded) being the baseline, WebP through the native libwebp (where
// loaded) and the WebAssembly one: bytes is the file size, dB its PSNR.
func BenchmarkEncodeFormats(b *testing.B) {
	img := webPicture()
	mp := float64(img.Width*img.Height) / 1e6
	for _, e := range []*Encoder{
		{Format: JPEG, Quality: 85}, {Format: WebP, Quality: 75}, {Format: WebP, Quality: 75, PureGo: true},
		{Format: WebP, Lossless: true}, {Format: WebP, Lossless: true, PureGo: true}, {Format: AVIF, Quality: 50},
	} {
		name := e.Format
		if e.Lossless {
			name += "-lossless"
		}
		if e.PureGo && e.Format == WebP {
			name += "-wasm"
		}
		b.Run(name, func(b *testing.B) {
			var out []byte
			for b.Loop() {
				var buf bytes.Buffer
				if err := e.Encode(&buf, img); err != nil {
					b.Fatal(err)
				}
				out = buf.Bytes()
			}
			got, err := (&Decoder{Channels: img.Channels}).DecodeBytes("out", out)
			if err != nil {
				b.Fatal(err)
			}
			db, _ := psnr(b, img, got.Image)
			b.ReportMetric(float64(len(out)), "bytes")
			b.ReportMetric(db, "dB")
			b.ReportMetric(mp*float64(b.N)/b.Elapsed().Seconds(), "MP/s")
		})
	}
}

// BenchmarkDecodeFormats reads the picture back from each format: JPEG (libjpeg-turbo where
// loaded) the baseline; lossy WebP through libwebp (where loaded) and through
// golang.org/x/image/webp with libwebp's colour conversion; AVIF through libheif and through
// the WebAssembly libavif.
func BenchmarkDecodeFormats(b *testing.B) {
	img := webPicture()
	mp := float64(img.Width*img.Height) / 1e6
	files := map[string][]byte{}
	for _, e := range []*Encoder{{Format: JPEG, Quality: 85}, {Format: WebP, Quality: 75}, {Format: AVIF, Quality: 50}} {
		var buf bytes.Buffer
		if err := e.Encode(&buf, img); err != nil {
			b.Fatal(err)
		}
		files[e.Format] = buf.Bytes()
	}
	for _, name := range []string{"jpeg", "webp", "webp-go", "avif", "avif-wasm"} {
		b.Run(name, func(b *testing.B) {
			d := &Decoder{Pool: &Pool{}, PureGo: name == "webp-go"}
			name := strings.TrimSuffix(name, "-go")
			if name == "avif" && HEIFLib() != nil {
				b.Skipf("libheif not available: %v", HEIFLib())
			}
			for b.Loop() {
				if name == "avif-wasm" {
					m, err := d.decodeAVIFWasm(files["avif"])
					if err != nil {
						b.Fatal(err)
					}
					d.Pool.Put(m.Pix)
					continue
				}
				got, err := d.DecodeBytes("x."+name, files[name])
				if err != nil {
					b.Fatal(err)
				}
				got.Release()
			}
			b.ReportMetric(mp*float64(b.N)/b.Elapsed().Seconds(), "MP/s")
		})
	}
}
