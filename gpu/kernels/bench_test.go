package kernels

import (
	"fmt"
	"math/rand/v2"
	"syscall"
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

// BenchmarkResizeDecoded scales what a thumbnail's shrink-on-load leaves (a 4000×3000 photo
// decoded at 1/4, 1000×750) to fit 256×256 with Lanczos-3: the resize imgpipe runs most.
func BenchmarkResizeDecoded(b *testing.B) {
	src := benchImage(1000, 750, 3)
	w, h := FitSize(src.Width, src.Height, 256, 256)
	dst, _ := raster.NewImage(w, h, 3)
	if err := Resize(dst, src, raster.Lanczos3); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src.Pix)))
	b.ResetTimer()
	for range b.N {
		if err := Resize(dst, src, raster.Lanczos3); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(src.Width*src.Height)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MP/s")
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

// BenchmarkThumbnailColor measures what the conversion to sRGB costs a thumbnail chain
// (fit 256×256, Lanczos3, a batch of eight 2000×1500 photos with a wide-gamut profile) on the
// host's Go kernels, which run the same per-pixel work as the device: the chain alone
// (baseline), ToSRGB fused into the resize, and the conversion applied to the full-size image
// before the resize (what the fusion avoids). Compare the ns/op of the sub-benchmarks.
func BenchmarkThumbnailColor(b *testing.B) {
	batch := make([]raster.Image, 8)
	for i := range batch {
		batch[i] = benchImage(2000, 1500, 3)
	}
	var curves [3][256]float64
	for ch := range curves {
		for v := range curves[ch] {
			curves[ch][v] = SRGBDecode(float64(v) / 255)
		}
	}
	// Display P3 to sRGB.
	cm, err := NewColorMap(&curves, [3][3]float64{{1.2249, -0.2247, 0}, {-0.0420, 1.0419, 0}, {-0.0197, -0.0786, 1.0979}})
	if err != nil {
		b.Fatal(err)
	}
	colors := []*ColorMap{cm, cm, cm, cm, cm, cm, cm, cm}
	plain, _ := NewChain().ResizeFit(256, 256, raster.Lanczos3).Plan()
	fused, _ := NewChain().ToSRGB().ResizeFit(256, 256, raster.Lanczos3).Plan()
	colorOnly, _ := NewChain().ToSRGB().Plan()
	run := func(b *testing.B, f func() error) {
		if err := f(); err != nil { // warms the table caches
			b.Fatal(err)
		}
		b.ResetTimer()
		cpu0 := cpuTime()
		for range b.N {
			if err := f(); err != nil {
				b.Fatal(err)
			}
		}
		// CPU time, beside the wall time: on a shared machine it moves far less with the
		// other processes' load.
		b.ReportMetric(float64(cpuTime()-cpu0)/1e6/float64(b.N), "cpu-ms/op")
		b.ReportMetric(float64(len(batch)*2000*1500)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MP/s")
	}
	b.Run("baseline", func(b *testing.B) {
		run(b, func() error { _, err := plain.Run(batch); return err })
	})
	b.Run("fused", func(b *testing.B) {
		run(b, func() error { _, err := fused.RunColors(batch, colors); return err })
	})
	b.Run("before-resize", func(b *testing.B) {
		run(b, func() error {
			out, err := colorOnly.RunColors(batch, colors)
			if err != nil {
				return err
			}
			_, err = plain.Run(out.Images)
			return err
		})
	})
}

// cpuTime is the process's user and system CPU time so far, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
