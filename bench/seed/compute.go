package main

import (
	"math/rand"
	"runtime"
	"sync"
)

// The images: 3 channels of 224×224 float32, planar, values in [0, 1).
const (
	channels  = 3
	height    = 224
	width     = 224
	plane     = height * width
	imageLen  = channels * plane // float32 values per image
	imageSize = 4 * imageLen     // bytes per image
)

// The computation every approach runs on every image: normalization with the usual
// per-channel mean and standard deviation, then a fixed 3×3 convolution from 3 channels to
// 3 (edges clamped). Every approach calls these same two functions in the same order, so
// their outputs must agree bit for bit.
var (
	mean    = [channels]float32{0.485, 0.456, 0.406}
	std     = [channels]float32{0.229, 0.224, 0.225}
	weights = makeWeights()
)

func makeWeights() (w [channels][channels][3][3]float32) {
	for c := range channels {
		for c2 := range channels {
			for dy := range 3 {
				for dx := range 3 {
					w[c][c2][dy][dx] = float32((c*27+c2*9+dy*3+dx)%7-3) / 16
				}
			}
		}
	}
	return w
}

// normalize writes (src − mean) / std per channel into dst; both hold one image.
func normalize(dst, src []float32) {
	for c := range channels {
		m, inv := mean[c], 1/std[c]
		s, d := src[c*plane:(c+1)*plane], dst[c*plane:(c+1)*plane]
		for i, v := range s {
			d[i] = (v - m) * inv
		}
	}
}

// convolve writes the 3×3 convolution of src into dst; both hold one image.
func convolve(dst, src []float32) {
	for c := range channels {
		out := dst[c*plane : (c+1)*plane]
		clear(out)
		for c2 := range channels {
			in := src[c2*plane : (c2+1)*plane]
			for y := range height {
				o := out[y*width : (y+1)*width]
				for dy := range 3 {
					yy := min(max(y+dy-1, 0), height-1)
					convolveRow(o, in[yy*width:(yy+1)*width], &weights[c][c2][dy])
				}
			}
		}
	}
}

// convolveRow adds one kernel row applied to one input row, edges clamped.
func convolveRow(o, row []float32, k *[3]float32) {
	k0, k1, k2 := k[0], k[1], k[2]
	o[0] += k0*row[0] + k1*row[0] + k2*row[1]
	for x := 1; x < width-1; x++ {
		o[x] += k0*row[x-1] + k1*row[x] + k2*row[x+1]
	}
	o[width-1] += k0*row[width-2] + k1*row[width-1] + k2*row[width-1]
}

// processImages runs the computation on n images from src into dst, on up to workers
// goroutines, one image at a time each.
func processImages(dst, src []float32, n, workers int) {
	forImages(n, workers, func(i, _ int, scratch []float32) {
		img := src[i*imageLen : (i+1)*imageLen]
		normalize(scratch, img)
		convolve(dst[i*imageLen:(i+1)*imageLen], scratch)
	})
}

// forImages calls fn for images 0..n-1 on up to workers goroutines; each goroutine has its
// own scratch image.
func forImages(n, workers int, fn func(i, worker int, scratch []float32)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scratch := make([]float32, imageLen)
			for {
				next.Lock()
				mine := i
				i++
				next.Unlock()
				if mine >= n {
					return
				}
				fn(mine, w, scratch)
			}
		}()
	}
	wg.Wait()
}

// randomImages makes n images of uniform random values.
func randomImages(n int, seed int64) []float32 {
	rng := rand.New(rand.NewSource(seed))
	out := make([]float32, n*imageLen)
	for i := range out {
		out[i] = rng.Float32()
	}
	return out
}
