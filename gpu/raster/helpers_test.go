package raster

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// newRand returns a generator seeded per test, and logs the seed so that a failure can be
// reproduced with RASTER_SEED=seed.
func newRand(t testing.TB) *rand.Rand {
	seed := rand.Uint64()
	if s, err := strconv.ParseUint(os.Getenv("RASTER_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}

// randSide returns a side length: small ones (1, 2, odd) often, up to max.
func randSide(r *rand.Rand, max int) int {
	switch r.IntN(4) {
	case 0:
		return 1 + r.IntN(3)
	case 1:
		return 1 + r.IntN(min(max, 17))
	}
	return 1 + r.IntN(max)
}

var channelCounts = []int{1, 3, 4}

// randImage returns a w×h image of noise with c channels and padded rows (the padding holds
// noise too).
func randImage(r *rand.Rand, w, h, c int) Image {
	stride := w*c + r.IntN(3)*r.IntN(9)
	m := Image{Pix: make([]byte, stride*(h-1)+w*c+r.IntN(5)), Width: w, Height: h, Stride: stride, Channels: c}
	for i := range m.Pix {
		m.Pix[i] = byte(r.IntN(256))
	}
	return m
}

// at returns channel ch of pixel (x, y).
func (m Image) at(x, y, ch int) byte { return m.Pix[y*m.Stride+x*m.Channels+ch] }

// sameImages reports the first pixel where a and b differ.
func sameImages(a, b Image) error {
	if a.Width != b.Width || a.Height != b.Height || a.Channels != b.Channels {
		return fmt.Errorf("%d×%d×%d vs %d×%d×%d", a.Width, a.Height, a.Channels, b.Width, b.Height, b.Channels)
	}
	for y := range a.Height {
		for x := range a.Width {
			for ch := range a.Channels {
				if u, v := a.at(x, y, ch), b.at(x, y, ch); u != v {
					return fmt.Errorf("pixel (%d,%d) channel %d: %d vs %d", x, y, ch, u, v)
				}
			}
		}
	}
	return nil
}
