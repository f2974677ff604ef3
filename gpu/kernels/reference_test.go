package kernels

import (
	"fmt"
	"math"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// The float64 reference: the mathematical definition of each filter, evaluated directly over
// every source pixel in float64, with no tables, windows, float32 or separate passes. Resize
// and Blur must be within one level of it everywhere.

func refFilter(f raster.Filter, x float64) float64 {
	ax := math.Abs(x)
	switch f {
	case raster.Box:
		if x > -0.5 && x <= 0.5 {
			return 1
		}
		return 0
	case raster.Linear:
		return math.Max(0, 1-ax)
	case raster.CatmullRom:
		const a = -0.5
		if ax < 1 {
			return (a+2)*ax*ax*ax - (a+3)*ax*ax + 1
		}
		if ax < 2 {
			return a*ax*ax*ax - 5*a*ax*ax + 8*a*ax - 4*a
		}
		return 0
	}
	if ax >= 3 {
		return 0
	}
	if x == 0 {
		return 1
	}
	return 3 * math.Sin(math.Pi*x) * math.Sin(math.Pi*x/3) / (math.Pi * math.Pi * x * x)
}

// refResizeWeights is the normalised weight of every source sample for every output.
func refResizeWeights(in, out int, f raster.Filter) [][]float64 {
	scale := float64(in) / float64(out)
	stretch := math.Max(scale, 1)
	ws := make([][]float64, out)
	for o := range ws {
		center := (float64(o) + 0.5) * scale
		ws[o] = make([]float64, in)
		sum := 0.0
		for s := range in {
			ws[o][s] = refFilter(f, (float64(s)+0.5-center)/stretch)
			sum += ws[o][s]
		}
		for s := range in {
			ws[o][s] /= sum
		}
	}
	return ws
}

// refGaussWeights is the Gaussian of standard deviation sigma truncated at gaussRadius and
// renormalised over the samples inside the image.
func refGaussWeights(n int, sigma float64) [][]float64 {
	r := int(math.Ceil(3 * sigma))
	if r < 1 {
		r = 1
	}
	ws := make([][]float64, n)
	for o := range ws {
		ws[o] = make([]float64, n)
		sum := 0.0
		for s := range n {
			if d := s - o; d >= -r && d <= r {
				ws[o][s] = math.Exp(-float64(d*d) / (2 * sigma * sigma))
				sum += ws[o][s]
			}
		}
		for s := range n {
			ws[o][s] /= sum
		}
	}
	return ws
}

// refApply filters src with the weight matrices wx (outputs × width) and wy (outputs × height)
// and returns the unrounded result, [y][x][channel]. Four channels are weighted by alpha.
func refApply(src raster.Image, wx, wy [][]float64) [][][]float64 {
	c := src.Channels
	out := make([][][]float64, len(wy))
	for oy := range wy {
		out[oy] = make([][]float64, len(wx))
		for ox := range wx {
			acc := make([]float64, c)
			for sy, wyv := range wy[oy] {
				if wyv == 0 {
					continue
				}
				for sx, wxv := range wx[ox] {
					w := wyv * wxv
					if w == 0 {
						continue
					}
					if c == 4 {
						a := float64(px(src, sx, sy, 3))
						for ch := range 3 {
							acc[ch] += w * float64(px(src, sx, sy, ch)) * a
						}
						acc[3] += w * a
						continue
					}
					for ch := range c {
						acc[ch] += w * float64(px(src, sx, sy, ch))
					}
				}
			}
			if c == 4 {
				for ch := range 3 {
					if acc[3] > 0 {
						acc[ch] /= acc[3]
					} else {
						acc[ch] = 0
					}
				}
			}
			out[oy][ox] = acc
		}
	}
	return out
}

func refRound(v float64) int { return int(math.Floor(math.Min(math.Max(v, 0), 255) + 0.5)) }

// nearHalf is how close to a rounding boundary a reference value must be for a one-level
// difference to be allowed: float32 sums of at most a few hundred terms err by less.
const nearHalf = 0.01

// compareRef fails t where got is more than one level from the rounded reference, or differs
// at all where the reference is not within nearHalf of a rounding boundary. For four-channel
// images colours are compared where the reference alpha is at least 8 levels: below that,
// dividing by a nearly cancelled alpha amplifies rounding without bound, and the colour of an
// almost transparent pixel does not show.
func compareRef(t *testing.T, what string, got raster.Image, ref [][][]float64) {
	t.Helper()
	for y := range got.Height {
		for x := range got.Width {
			for ch := range got.Channels {
				if got.Channels == 4 && ch < 3 && ref[y][x][3] < 8 {
					continue
				}
				v := math.Min(math.Max(ref[y][x][ch], 0), 255)
				d := int(px(got, x, y, ch)) - refRound(v)
				tie := math.Abs(v-math.Floor(v)-0.5) < nearHalf
				if d < -1 || d > 1 || (d != 0 && !tie) {
					t.Fatalf("%s: pixel (%d,%d) channel %d = %d, reference %.6f", what, x, y, ch, px(got, x, y, ch), ref[y][x][ch])
				}
			}
		}
	}
}

var allFilters = []raster.Filter{raster.Box, raster.Linear, raster.CatmullRom, raster.Lanczos3}

func TestResizeMatchesFloat64Reference(t *testing.T) {
	r := newRand(t)
	for iter := range 300 {
		sw, sh := randSide(r, 48), randSide(r, 48)
		dw, dh := randSide(r, 48), randSide(r, 48)
		switch iter % 6 {
		case 0: // extreme downscale
			sw, sh, dw, dh = 1+r.IntN(300), 1+r.IntN(8), 1, 1+r.IntN(2)
		case 1: // extreme upscale
			sw, sh, dw, dh = 1+r.IntN(2), 1+r.IntN(3), 1+r.IntN(200), 1+r.IntN(9)
		}
		c := channelCounts[r.IntN(3)]
		f := allFilters[r.IntN(len(allFilters))]
		src := randImage(r, sw, sh, c)
		dst := mustImage(t, dw, dh, c)
		if err := Resize(dst, src, f); err != nil {
			t.Fatal(err)
		}
		ref := refApply(src, refResizeWeights(sw, dw, f), refResizeWeights(sh, dh, f))
		compareRef(t, fmt.Sprintf("%v %d×%d→%d×%d×%d", f, sw, sh, dw, dh, c), dst, ref)
	}
}

func TestBlurMatchesFloat64Reference(t *testing.T) {
	r := newRand(t)
	for range 150 {
		w, h := randSide(r, 40), randSide(r, 40)
		c := channelCounts[r.IntN(3)]
		sigma := []float64{0.3, 0.8, 1, 1.5, 2.7, 6, 30}[r.IntN(7)]
		src := randImage(r, w, h, c)
		dst := mustImage(t, w, h, c)
		if err := Blur(dst, src, sigma); err != nil {
			t.Fatal(err)
		}
		compareRef(t, fmt.Sprintf("blur %v %d×%d×%d", sigma, w, h, c), dst, refApply(src, refGaussWeights(w, sigma), refGaussWeights(h, sigma)))
	}
}
