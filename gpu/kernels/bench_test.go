package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// benchImage is a 4000×3000 RGB photo-sized image with smooth and sharp content.
func benchImage(w, h, c int) raster.Image {
	r := rand.New(rand.NewPCG(1, 2))
	m, _ := raster.NewImage(w, h, c)
	for y := range h {
		for x := range w {
			p := m.Pix[y*m.Stride+x*c:][:c]
			for ch := range p {
				p[ch] = byte(x*(ch+1)/16 + y/8 + r.IntN(32))
			}
		}
	}
	return m
}

// BenchmarkResize reports megapixels of input per second for a photo scaled to fit 256×256.
func BenchmarkResize(b *testing.B) {
	src := benchImage(4000, 3000, 3)
	w, h := FitSize(src.Width, src.Height, 256, 256)
	dst, _ := raster.NewImage(w, h, 3)
	for _, f := range allFilters {
		b.Run(f.String(), func(b *testing.B) {
			if err := Resize(dst, src, f); err != nil { // warms the table cache
				b.Fatal(err)
			}
			b.SetBytes(int64(len(src.Pix)))
			b.ResetTimer()
			for range b.N {
				if err := Resize(dst, src, f); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(src.Width*src.Height)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MP/s")
		})
	}
}

// BenchmarkPreprocess runs the fused resize, centre crop and normalisation on a batch of
// ImageNet-sized images on the host.
func BenchmarkPreprocess(b *testing.B) {
	batch := make([]raster.Image, 16)
	for i := range batch {
		batch[i] = benchImage(500, 375, 3)
	}
	p, err := NewChain().ResizeShorter(256, raster.Linear).CenterCrop(224, 224).Normalize(ImageNet).Plan()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := p.Run(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(batch))*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkBlur reports megapixels per second for a Gaussian blur of a 2000×1500 image.
func BenchmarkBlur(b *testing.B) {
	src := benchImage(2000, 1500, 3)
	dst, _ := raster.NewImage(2000, 1500, 3)
	for _, sigma := range []float64{1, 4} {
		b.Run(fmt.Sprint(sigma), func(b *testing.B) {
			for range b.N {
				if err := Blur(dst, src, sigma); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(src.Width*src.Height)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MP/s")
		})
	}
}
