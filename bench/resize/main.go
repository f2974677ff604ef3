// Command resize measures the Go resize of package gpu/kernels against
// golang.org/x/image/draw and github.com/disintegration/imaging, in one run on one machine:
// a photo-sized RGB image (4000×3000 by default) scaled to fit a 256×256 box.
//
// It prints one JSON line per implementation and filter:
//
//	impl, filter      what ran
//	mpix_per_s        megapixels of input per second (median of -runs timed runs)
//	ms                median milliseconds per image
//	vs_xdraw_bilinear speed relative to x/image/draw BiLinear measured in the same run
//	psnr_lanczos3_db  PSNR of the RGB output against a float64 Lanczos-3 antialiased
//	                  downscale: how close to an ideal reduction the result is
//	psnr_filter_db    PSNR against the float64 reference of the implementation's own
//	                  filter: how exactly it computes what it claims (≈59 dB is rounding only)
//	threads           GOMAXPROCS
//
// Every implementation gets its fastest input type, converted before timing: packed RGB for
// kernels, *image.RGBA for x/image/draw, *image.NRGBA for imaging. The default input is a
// synthetic photo (smooth gradients, texture noise, hard edges and a zone plate, which shows
// aliasing); -in reads a JPEG or PNG instead.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/disintegration/imaging"
	xdraw "golang.org/x/image/draw"

	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/internal/resizeref"
)

func main() {
	width := flag.Int("w", 4000, "width of the synthetic input")
	height := flag.Int("h", 3000, "height of the synthetic input")
	box := flag.Int("box", 256, "fit the output in box×box")
	runs := flag.Int("runs", 5, "timed runs per implementation (the median is reported)")
	in := flag.String("in", "", "a JPEG or PNG to use instead of the synthetic input")
	flag.Parse()
	if err := run(*width, *height, *box, *runs, *in); err != nil {
		fmt.Fprintln(os.Stderr, "resize:", err)
		os.Exit(1)
	}
}

// result is one JSON line.
type result struct {
	Impl            string  `json:"impl"`
	Filter          string  `json:"filter"`
	MPixPerS        float64 `json:"mpix_per_s"`
	Ms              float64 `json:"ms"`
	VsXdrawBilinear float64 `json:"vs_xdraw_bilinear"`
	PSNRLanczos3    float64 `json:"psnr_lanczos3_db"`
	PSNRFilter      float64 `json:"psnr_filter_db"`
	Threads         int     `json:"threads"`
	Size            string  `json:"size"`
}

// impl is one implementation with one filter: resize returns packed RGB of dw×dh.
type impl struct {
	name, filter string
	ref          resizeref.Filter
	resize       func() []byte
}

func run(w, h, box, runs int, in string) error {
	src, err := input(w, h, in)
	if err != nil {
		return err
	}
	w, h = src.Width, src.Height
	dw, dh := kernels.FitSize(w, h, box, box)
	rgba, nrgba := toRGBA(src), toNRGBA(src)
	impls := candidates(src, rgba, nrgba, dw, dh)
	refs := map[string][]float64{}
	for _, f := range []resizeref.Filter{resizeref.Box, resizeref.Triangle, resizeref.CatmullRom, resizeref.Lanczos3} {
		refs[f.Name] = resizeref.Reference(src, dw, dh, f)
	}
	var results []result
	var base float64
	for _, im := range impls {
		out := im.resize() // warm up: caches, pools, page faults
		times := make([]float64, runs)
		for i := range times {
			t0 := time.Now()
			im.resize()
			times[i] = time.Since(t0).Seconds()
		}
		slices.Sort(times)
		med := times[len(times)/2]
		r := result{
			Impl: im.name, Filter: im.filter,
			MPixPerS:     float64(w*h) / med / 1e6,
			Ms:           med * 1e3,
			PSNRLanczos3: resizeref.PSNR(out, refs[resizeref.Lanczos3.Name]),
			PSNRFilter:   resizeref.PSNR(out, refs[im.ref.Name]),
			Threads:      runtime.GOMAXPROCS(0),
			Size:         fmt.Sprintf("%dx%d->%dx%d", w, h, dw, dh),
		}
		if im.name == "x/image/draw" && im.filter == "BiLinear" {
			base = r.MPixPerS
		}
		results = append(results, r)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	for _, r := range results {
		r.VsXdrawBilinear = round(r.MPixPerS/base, 2)
		r.MPixPerS, r.Ms = round(r.MPixPerS, 1), round(r.Ms, 2)
		r.PSNRLanczos3, r.PSNRFilter = round(r.PSNRLanczos3, 2), round(r.PSNRFilter, 2)
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func candidates(src raster.Image, rgba *image.RGBA, nrgba *image.NRGBA, dw, dh int) []impl {
	var list []impl
	for _, f := range []struct {
		f   raster.Filter
		ref resizeref.Filter
	}{{raster.Box, resizeref.Box}, {raster.Linear, resizeref.Triangle}, {raster.CatmullRom, resizeref.CatmullRom}, {raster.Lanczos3, resizeref.Lanczos3}} {
		dst, _ := raster.NewImage(dw, dh, 3)
		list = append(list, impl{"gpupipe/kernels", f.f.String(), f.ref, func() []byte {
			if err := kernels.Resize(dst, src, f.f); err != nil {
				panic(err)
			}
			return dst.Pix
		}})
	}
	for _, k := range []struct {
		name string
		s    xdraw.Scaler
		ref  resizeref.Filter
	}{
		{"ApproxBiLinear", xdraw.ApproxBiLinear, resizeref.Triangle},
		{"BiLinear", xdraw.BiLinear, resizeref.Triangle},
		{"CatmullRom", xdraw.CatmullRom, resizeref.CatmullRom},
	} {
		dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
		list = append(list, impl{"x/image/draw", k.name, k.ref, func() []byte {
			k.s.Scale(dst, dst.Bounds(), rgba, rgba.Bounds(), draw.Src, nil)
			return rgbOf(dst.Pix, dst.Stride, dw, dh)
		}})
	}
	for _, k := range []struct {
		name string
		f    imaging.ResampleFilter
		ref  resizeref.Filter
	}{
		{"Box", imaging.Box, resizeref.Box},
		{"Linear", imaging.Linear, resizeref.Triangle},
		{"CatmullRom", imaging.CatmullRom, resizeref.CatmullRom},
		{"Lanczos", imaging.Lanczos, resizeref.Lanczos3},
	} {
		list = append(list, impl{"imaging", k.name, k.ref, func() []byte {
			out := imaging.Resize(nrgba, dw, dh, k.f)
			return rgbOf(out.Pix, out.Stride, dw, dh)
		}})
	}
	return list
}

// rgbOf packs the RGB bytes of 4-byte pixels.
func rgbOf(pix []byte, stride, w, h int) []byte {
	out := make([]byte, 0, w*h*3)
	for y := range h {
		for x := range w {
			p := pix[y*stride+4*x:]
			out = append(out, p[0], p[1], p[2])
		}
	}
	return out
}

func toRGBA(m raster.Image) *image.RGBA {
	d := image.NewRGBA(image.Rect(0, 0, m.Width, m.Height))
	for y := range m.Height {
		for x := range m.Width {
			p := m.Pix[y*m.Stride+3*x:]
			copy(d.Pix[y*d.Stride+4*x:], []byte{p[0], p[1], p[2], 255})
		}
	}
	return d
}

func toNRGBA(m raster.Image) *image.NRGBA {
	r := toRGBA(m)
	return &image.NRGBA{Pix: r.Pix, Stride: r.Stride, Rect: r.Rect}
}

// input is the image to scale: a file, or the synthetic photo.
func input(w, h int, path string) (raster.Image, error) {
	if path == "" {
		return synthetic(w, h), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return raster.Image{}, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return raster.Image{}, fmt.Errorf("%s: %w", path, err)
	}
	b := img.Bounds()
	m, err := raster.NewImage(b.Dx(), b.Dy(), 3)
	if err != nil {
		return raster.Image{}, err
	}
	for y := range m.Height {
		for x := range m.Width {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			copy(m.Pix[y*m.Stride+3*x:], []byte{byte(r >> 8), byte(g >> 8), byte(bl >> 8)})
		}
	}
	return m, nil
}

// synthetic draws a deterministic test photo: colour gradients, sensor-like noise, hard
// edged shapes, and a zone plate (rings whose frequency rises to the pixel rate), which a
// downscale without antialiasing turns into false patterns.
func synthetic(w, h int) raster.Image {
	m, _ := raster.NewImage(w, h, 3)
	r := rand.New(rand.NewPCG(7, 11))
	cx, cy, rad := float64(w)*0.7, float64(h)*0.45, float64(min(w, h))*0.3
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			c := [3]float64{200 * fx, 180 * fy, 120 + 100*math.Sin(6*fx+4*fy)}
			if (x/(w/8)+y/(h/6))%2 == 0 && fx < 0.5 {
				c[0], c[1] = 255-c[0], 60
			}
			if dx, dy := float64(x)-cx, float64(y)-cy; dx*dx+dy*dy < rad*rad {
				v := 127.5 + 127.5*math.Cos(math.Pi*(dx*dx+dy*dy)/(2*rad))
				c = [3]float64{v, v, v}
			}
			p := m.Pix[y*m.Stride+3*x:]
			for ch := range 3 {
				p[ch] = byte(math.Max(0, math.Min(255, c[ch]+float64(r.IntN(25)-12))))
			}
		}
	}
	return m
}
