package imageio

import (
	"fmt"
	"image"
	"io"

	"github.com/gen2brain/avif"
	"github.com/gen2brain/webp"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// WebP and AVIF are written by libwebp and libavif (with its AV1 encoder, aom) as the
// packages github.com/gen2brain/webp and github.com/gen2brain/avif ship them: compiled to
// WebAssembly and run by wazero, so every build, pure Go included, writes both with nothing
// installed. The WebAssembly libwebp takes about six times the time of the native library
// (three times, lossless; BenchmarkEncodeFormats), so
// where libwebp.so.7 (Debian's libwebp7) can be loaded at run time, as libjpeg-turbo is, it
// writes WebP instead: the same library and settings (its simple API: method 4), files of the
// same size and fidelity (the tests compare them). GPUPIPE_LIBWEBP=off or Encoder.PureGo keeps to WebAssembly. (The
// packages also load the unversioned libwebp.so and libavif.so, as the -dev packages install
// them, by themselves.)

// Default qualities of an Encoder whose Quality is 0, for the formats whose scale differs
// from JPEG's.
const (
	// DefaultWebPQuality is cwebp's and vips' default.
	DefaultWebPQuality = 75
	// DefaultAVIFQuality is libavif's quality scale, on which 50 (vips' and sharp's default)
	// gives files about half the size of a JPEG at quality 85 of similar fidelity.
	DefaultAVIFQuality = 50
	// avifSpeed is the AV1 encoder's effort, 0 (slowest) to 10: 8 costs a third of the
	// time of avifenc's default 6 for files a few per cent larger.
	avifSpeed = 8
	// webpMethod is libwebp's effort, 0 to 6; 4 is cwebp's default.
	webpMethod = 4
)

func (e *Encoder) formatQuality(def int) int {
	if e.Quality <= 0 {
		return def
	}
	return min(e.Quality, 100)
}

// encodeWebP writes lossy WebP at the Encoder's quality, or lossless WebP. Alpha is kept;
// lossless WebP keeps the colour of fully transparent pixels too, which lossy WebP, like
// cwebp, does not.
func (e *Encoder) encodeWebP(w io.Writer, img raster.Image) error {
	// libwebp's simple API drops the colour of fully transparent pixels even when lossless,
	// so lossless images with alpha go to the WebAssembly path, told to keep it.
	if !e.PureGo && libwebpLoad() == nil && !(e.Lossless && img.Channels == 4) {
		if img.Channels == 1 {
			rgb := ToChannels(img, 3, e.Background, e.Pool)
			defer e.Pool.Put(rgb.Pix)
			img = rgb
		}
		return libwebpEncode(img, e.formatQuality(DefaultWebPQuality), e.Lossless, func(b []byte) error {
			_, err := w.Write(b)
			return err
		})
	}
	m, put := e.goImage(img)
	defer put()
	err := webp.Encode(w, m, webp.Options{Quality: e.formatQuality(DefaultWebPQuality), Lossless: e.Lossless,
		Method: webpMethod, Exact: e.Lossless})
	if err != nil {
		return fmt.Errorf("imageio: webp: %w", err)
	}
	return nil
}

// encodeAVIF writes 8-bit 4:2:0 AVIF at the Encoder's quality. Alpha is kept.
func (e *Encoder) encodeAVIF(w io.Writer, img raster.Image) error {
	m, put := e.goImage(img)
	defer put()
	q := e.formatQuality(DefaultAVIFQuality)
	err := avif.Encode(w, m, avif.Options{Quality: q, QualityAlpha: q, Speed: avifSpeed,
		ChromaSubsampling: image.YCbCrSubsampleRatio420})
	if err != nil {
		return fmt.Errorf("imageio: avif: %w", err)
	}
	return nil
}

// goImage returns img as the image type the WebAssembly encoders copy without converting:
// *image.Gray is widened too, as neither takes it. put gives the temporary buffer back.
func (e *Encoder) goImage(img raster.Image) (image.Image, func()) {
	if img.Channels == 4 {
		return nrgbaView(img), func() {}
	}
	rgba := ToChannels(img, 4, e.Background, e.Pool)
	return nrgbaView(rgba), func() { e.Pool.Put(rgba.Pix) }
}
