package samples

import (
	"fmt"
	"math"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Image returns image number index of the set that seed makes: a width×height RGB picture
// of a landscape-like scene. Sky and ground are smooth gradients under fractal texture
// (clouds, terrain), a dozen shapes with hard, antialiased edges stand in front of them,
// the corners are darker, and every pixel carries a little grain, as a camera sensor adds.
// JPEG compresses it about as much as a photo, and decoding it costs as much.
//
// The pixels depend on seed, index, width and height only: every machine, Go version and
// number of cores makes the same bytes.
func Image(seed int64, index, width, height int) (raster.Image, error) {
	if width < 1 || height < 1 || width > maxSide || height > maxSide {
		return raster.Image{}, fmt.Errorf("samples: size %d×%d: each side must be 1 to %d pixels", width, height, maxSide)
	}
	sc := newScene(seed, index, width, height)
	img := raster.Image{Pix: make([]byte, 3*width*height), Width: width, Height: height, Stride: 3 * width, Channels: 3}
	sc.render(img)
	return img, nil
}

// maxSide bounds a side so that a mistaken size fails instead of allocating gigabytes.
const maxSide = 16384

// scene is everything random about one image, drawn up front from the seed and the index.
type scene struct {
	w, h int
	key  uint64

	sky, horizon, ground [3]float32 // colours at the top, just above the horizon, at the bottom
	horizonY             float32    // the horizon's row
	skyTexture           float32    // texture amplitude above the horizon (clouds)
	groundTexture        float32    // and below it (terrain)
	tintAmount           float32    // how far the slow tint field shifts red against blue (0 to 1)
	sideLight            float32    // brightness gained from the left edge to the right
	vignette             float32    // brightness lost in the corners
	grain                float32    // sensor noise amplitude, in levels

	texture, detail, tint *field
	shapes                []shape
}

func newScene(seed int64, index, w, h int) *scene {
	r := newRNG(uint64(seed), uint64(index))
	size := float32(max(w, h))
	sc := &scene{w: w, h: h, key: r.next()}
	sc.sky = hsv(r.between(190, 240), r.between(0.2, 0.6), r.between(0.75, 0.95))
	sc.horizon = hsv(r.between(20, 60), r.between(0.1, 0.4), r.between(0.85, 1))
	sc.ground = hsv(r.between(30, 140), r.between(0.3, 0.7), r.between(0.35, 0.65))
	sc.horizonY = r.between(0.3, 0.65) * float32(h)
	sc.skyTexture = r.between(0.06, 0.14)
	sc.groundTexture = r.between(0.5, 0.8)
	sc.tintAmount = r.between(0.03, 0.08)
	sc.sideLight = r.between(-0.25, 0.25)
	sc.vignette = r.between(0.2, 0.4)
	sc.grain = r.between(4, 5)
	sc.texture = newField(r.next(), w, h, size/4, 4, 0.8)
	sc.detail = newField(r.next(), w, h, 16, 2, 1)
	sc.tint = newField(r.next(), w, h, size/2, size/8, 0.5)
	for range 8 + r.intn(8) {
		sc.shapes = append(sc.shapes, newShape(r, w, h))
	}
	return sc
}

// render draws the scene into img, row by row.
func (sc *scene) render(img raster.Image) {
	tex := make([]float32, sc.w)
	tint := make([]float32, sc.w)
	rgb := make([]float32, 3*sc.w)
	for y := range sc.h {
		clear(tex)
		clear(tint)
		// The texture is stretched and clipped, so that it has plateaus and edges at every
		// scale, like foliage, rather than the soft blur of plain value noise.
		sc.texture.addRow(y, 2, tex)
		sc.detail.addRow(y, 1.3, tex)
		for x, v := range tex {
			tex[x] = min(max(v, -1), 1)
		}
		sc.tint.addRow(y, sc.tintAmount, tint)
		sc.background(y, tex, tint, rgb)
		for i := range sc.shapes {
			sc.shapes[i].drawRow(y, tex, rgb)
		}
		sc.finish(y, rgb, img.Pix[y*img.Stride:y*img.Stride+3*sc.w])
	}
}

// background fills row y with the sky or the ground, textured and tinted.
func (sc *scene) background(y int, tex, tint, rgb []float32) {
	fy := float32(y)
	var base [3]float32
	amp := sc.skyTexture
	if fy < sc.horizonY {
		t := fy / sc.horizonY
		for c := range base {
			base[c] = lerp(sc.sky[c], sc.horizon[c], float32(t*t))
		}
	} else {
		// A step at the horizon: the one long edge that every landscape has.
		t := (fy - sc.horizonY) / (float32(sc.h) - sc.horizonY)
		for c := range base {
			base[c] = lerp(float32(0.7*sc.ground[c]), sc.ground[c], t)
		}
		amp = sc.groundTexture
	}
	for x := range sc.w {
		m := 1 + float32(amp*tex[x])
		rgb[3*x] = float32(base[0]*m) + tint[x]
		rgb[3*x+1] = float32(base[1] * m)
		rgb[3*x+2] = float32(base[2]*m) - tint[x]
	}
}

// finish applies the side light, the vignette and the grain to row y and rounds it to bytes.
func (sc *scene) finish(y int, rgb []float32, out []byte) {
	dy := 2*float32(y)/float32(sc.h) - 1
	row := newRNG(sc.key, uint64(y))
	for x := range sc.w {
		dx := 2*float32(x)/float32(sc.w) - 1
		r2 := float32(float32(dx*dx)+float32(dy*dy)) / 2
		light := float32((1+float32(sc.sideLight*dx/2))*(1-float32(sc.vignette*r2))) * 255
		lumaBits, chromaBits := row.next(), row.next()
		// Luma grain, triangular in ±grain, plus a third as much independent chroma grain.
		luma := float32(sc.grain*(signed(lumaBits)+signed(lumaBits>>21))) / 2
		for c := range 3 {
			chroma := float32(sc.grain*signed(chromaBits>>(21*c))) / 3
			out[3*x+c] = toByte(float32(rgb[3*x+c]*light) + luma + chroma)
		}
	}
}

func toByte(v float32) byte {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return byte(v + 0.5)
}

// hsv converts a hue in degrees, a saturation and a value in [0, 1] to RGB in [0, 1].
func hsv(h, s, v float32) [3]float32 {
	h = float32(math.Mod(float64(h), 360)) / 60
	i := int(h)
	f := h - float32(i)
	p, q, t := float32(v*(1-s)), float32(v*(1-float32(s*f))), float32(v*(1-float32(s*(1-f))))
	switch i {
	case 0:
		return [3]float32{v, t, p}
	case 1:
		return [3]float32{q, v, p}
	case 2:
		return [3]float32{p, v, t}
	case 3:
		return [3]float32{p, q, v}
	case 4:
		return [3]float32{t, p, v}
	}
	return [3]float32{v, p, q}
}
