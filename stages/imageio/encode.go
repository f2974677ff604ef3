package imageio

import (
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"strings"
	"sync"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Output formats an Encoder writes.
const (
	JPEG = "jpeg"
	PNG  = "png"
	WebP = "webp"
	AVIF = "avif"
)

// ParseFormat reads an output format name as a user gives it: "jpeg", "jpg", "png", "webp",
// "avif", in any case, with or without a leading dot.
func ParseFormat(s string) (string, error) {
	switch strings.ToLower(strings.TrimPrefix(s, ".")) {
	case "jpeg", "jpg":
		return JPEG, nil
	case "png":
		return PNG, nil
	case "webp":
		return WebP, nil
	case "avif":
		return AVIF, nil
	}
	return "", fmt.Errorf("imageio: output format %q: want jpeg, png, webp or avif", s)
}

// DefaultQuality is the JPEG quality of an Encoder whose Quality is 0.
const DefaultQuality = 90

// Encoder writes Images as JPEG, PNG, WebP or AVIF. The zero value writes JPEG at DefaultQuality on a
// black background. An Encoder is safe for concurrent use once configured.
type Encoder struct {
	// Format is JPEG, PNG, WebP or AVIF; empty means JPEG.
	Format string
	// Quality is the JPEG, lossy WebP or AVIF quality, 1 to 100; 0 means DefaultQuality,
	// DefaultWebPQuality or DefaultAVIFQuality.
	Quality int
	// Lossless writes lossless WebP; Quality is then not used.
	Lossless bool
	// Background is the RGB colour that alpha is flattened onto for JPEG, which has none.
	Background [3]uint8
	// Compression is the PNG compression level.
	Compression png.CompressionLevel
	// PureGo never uses libjpeg-turbo.
	PureGo bool
	// Pool, when set, supplies the temporary buffers of colour conversions.
	Pool *Pool

	pngOnce sync.Once
	png     *png.Encoder
}

// Ext is the file extension of the output format, with its dot: ".jpg", ".png", ".webp" or
// ".avif".
func (e *Encoder) Ext() string {
	switch e.Format {
	case PNG, WebP, AVIF:
		return "." + e.Format
	}
	return ".jpg"
}

// Encode writes img to w. Images with 4 channels lose their alpha to Background in JPEG; the
// other formats keep it.
func (e *Encoder) Encode(w io.Writer, img raster.Image) error {
	if err := check(img); err != nil {
		return err
	}
	switch e.Format {
	case "", JPEG:
		return e.encodeJPEG(w, img)
	case PNG:
		return e.encodePNG(w, img)
	case WebP:
		return e.encodeWebP(w, img)
	case AVIF:
		return e.encodeAVIF(w, img)
	}
	return fmt.Errorf("imageio: output format %q: want jpeg, png, webp or avif", e.Format)
}

// check refuses an Image whose fields do not describe its buffer, which would otherwise
// make an encoder read out of bounds.
func check(m raster.Image) error {
	if m.Width <= 0 || m.Height <= 0 || (m.Channels != 1 && m.Channels != 3 && m.Channels != 4) ||
		m.Stride < m.Width*m.Channels || len(m.Pix) < (m.Height-1)*m.Stride+m.Width*m.Channels {
		return fmt.Errorf("imageio: invalid image %d×%d, %d channels, stride %d, %d bytes",
			m.Width, m.Height, m.Channels, m.Stride, len(m.Pix))
	}
	return nil
}

func (e *Encoder) quality() int {
	if e.Quality <= 0 {
		return DefaultQuality
	}
	return min(e.Quality, 100)
}

func (e *Encoder) encodeJPEG(w io.Writer, img raster.Image) error {
	if img.Channels == 4 {
		flat := ToChannels(img, 3, e.Background, e.Pool)
		defer e.Pool.Put(flat.Pix)
		img = flat
	}
	if !e.PureGo && turboLoad() == nil {
		return turboEncode(img, e.quality(), func(b []byte) error {
			_, err := w.Write(b)
			return err
		})
	}
	opts := &jpeg.Options{Quality: e.quality()}
	if img.Channels == 1 {
		return jpeg.Encode(w, grayView(img), opts)
	}
	// image/jpeg converts *image.RGBA without per-pixel interface calls: widen to it.
	rgba := ToChannels(img, 4, e.Background, e.Pool)
	defer e.Pool.Put(rgba.Pix)
	return jpeg.Encode(w, rgbaView(rgba), opts)
}

func (e *Encoder) encodePNG(w io.Writer, img raster.Image) error {
	e.pngOnce.Do(func() {
		e.png = &png.Encoder{CompressionLevel: e.Compression, BufferPool: &pngBuffers{}}
	})
	switch img.Channels {
	case 1:
		return e.png.Encode(w, grayView(img))
	case 4:
		return e.png.Encode(w, nrgbaView(img))
	}
	rgba := ToChannels(img, 4, e.Background, e.Pool)
	defer e.Pool.Put(rgba.Pix)
	return e.png.Encode(w, nrgbaView(rgba)) // opaque, so written as 8-bit RGB
}

// The views share img's pixels: the layouts are the same.

func grayView(m raster.Image) *image.Gray {
	return &image.Gray{Pix: m.Pix, Stride: m.Stride, Rect: image.Rect(0, 0, m.Width, m.Height)}
}

func rgbaView(m raster.Image) *image.RGBA {
	return &image.RGBA{Pix: m.Pix, Stride: m.Stride, Rect: image.Rect(0, 0, m.Width, m.Height)}
}

func nrgbaView(m raster.Image) *image.NRGBA {
	return &image.NRGBA{Pix: m.Pix, Stride: m.Stride, Rect: image.Rect(0, 0, m.Width, m.Height)}
}

// pngBuffers lets concurrent PNG encodes reuse their compression buffers.
type pngBuffers struct{ p sync.Pool }

func (b *pngBuffers) Get() *png.EncoderBuffer {
	v, _ := b.p.Get().(*png.EncoderBuffer)
	return v
}

func (b *pngBuffers) Put(v *png.EncoderBuffer) { b.p.Put(v) }
