package imageio

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/stages/walk"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// photo makes a w×h image that compresses like a photograph: smooth gradients, a few shapes
// and mild noise. JPEG round trips of it stay close to it.
func photo(rng *rand.Rand, w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	cx, cy, rad := rng.Float64()*float64(w), rng.Float64()*float64(h), float64(min(w, h))/3
	for y := range h {
		for x := range w {
			d := math.Hypot(float64(x)-cx, float64(y)-cy)
			inside := d < rad
			r := float64(x) / float64(w) * 255
			g := float64(y) / float64(h) * 255
			b := 128 + 100*math.Sin(float64(x+y)/40)
			if inside {
				r, g = 255-r, 255-g
			}
			n := rng.Float64()*6 - 3
			m.SetNRGBA(x, y, color.NRGBA{clamp(r + n), clamp(g + n), clamp(b + n), 255})
		}
	}
	return m
}

func clamp(v float64) uint8 { return uint8(max(0, min(255, math.Round(v)))) }

// noise makes a w×h image of random pixels with random alpha when alpha is set.
func noise(rng *rand.Rand, w, h int, alpha bool) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(rng.IntN(256))
		if i%4 == 3 && !alpha {
			m.Pix[i] = 255
		}
	}
	return m
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, m image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeGIF(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeBMP(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := bmp.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeTIFF(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := tiff.Encode(&b, m, &tiff.Options{Compression: tiff.Deflate}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeFile writes data under a fresh folder and returns it as a walk.File.
func writeFile(t testing.TB, name string, data []byte) walk.File {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return walk.File{Root: root, Rel: name, Size: int64(len(data))}
}

// reference converts m with At and the color models, the slow, obviously right way.
func reference(m image.Image) raster.Image {
	b := m.Bounds()
	ch := 4
	switch m.(type) {
	case *image.Gray, *image.Gray16:
		ch = 1
	default:
		if o, ok := m.(interface{ Opaque() bool }); ok && o.Opaque() {
			ch = 3
		}
	}
	out := newImage(nil, b.Dx(), b.Dy(), ch)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			d := out.Pix[(y-b.Min.Y)*out.Stride+(x-b.Min.X)*ch:]
			if ch == 1 {
				d[0] = color.GrayModel.Convert(m.At(x, y)).(color.Gray).Y
				continue
			}
			copy(d, nrgbaOf(m.At(x, y))[:ch])
		}
	}
	return out
}

// nrgbaOf converts a colour to non-premultiplied 8-bit samples. Non-premultiplied colours
// are converted directly: going through the premultiplied RGBA method would round twice.
func nrgbaOf(c color.Color) []byte {
	switch c := c.(type) {
	case color.NYCbCrA:
		r, g, b := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
		return []byte{r, g, b, c.A}
	case color.NRGBA64:
		return []byte{uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8), uint8(c.A >> 8)}
	}
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return []byte{n.R, n.G, n.B, n.A}
}

// equalImages fails unless a and b have the same shape and pixels.
func equalImages(t testing.TB, got, want raster.Image) {
	t.Helper()
	if got.Width != want.Width || got.Height != want.Height || got.Channels != want.Channels {
		t.Fatalf("got %d×%d×%d, want %d×%d×%d", got.Width, got.Height, got.Channels,
			want.Width, want.Height, want.Channels)
	}
	for y := range got.Height {
		g, w := row(&got, y), row(&want, y)
		if !bytes.Equal(g, w) {
			for i := range g {
				if g[i] != w[i] {
					t.Fatalf("pixel (%d, %d) sample %d: got %d, want %d", i/got.Channels, y,
						i%got.Channels, g[i], w[i])
				}
			}
		}
	}
}

// meanAbsDiff is the mean absolute difference of two images of the same shape, per sample.
func meanAbsDiff(t testing.TB, a, b raster.Image) float64 {
	t.Helper()
	if a.Width != b.Width || a.Height != b.Height || a.Channels != b.Channels {
		t.Fatalf("shapes differ: %d×%d×%d and %d×%d×%d", a.Width, a.Height, a.Channels,
			b.Width, b.Height, b.Channels)
	}
	var sum float64
	for y := range a.Height {
		ra, rb := row(&a, y), row(&b, y)
		for i := range ra {
			sum += math.Abs(float64(ra[i]) - float64(rb[i]))
		}
	}
	return sum / float64(a.Width*a.Height*a.Channels)
}

// fromNRGBA copies an NRGBA image to an Image with ch channels (3 drops alpha).
func fromNRGBA(m *image.NRGBA, ch int) raster.Image {
	b := m.Bounds()
	out := newImage(nil, b.Dx(), b.Dy(), ch)
	for y := range b.Dy() {
		for x := range b.Dx() {
			copy(out.Pix[y*out.Stride+x*ch:], m.Pix[y*m.Stride+4*x:y*m.Stride+4*x+ch])
		}
	}
	return out
}

// tiffExif builds a TIFF structure whose first IFD holds one Orientation entry.
func tiffExif(o int, bo binary.ByteOrder) []byte {
	var b bytes.Buffer
	if bo == binary.BigEndian {
		b.WriteString("MM\x00*")
	} else {
		b.WriteString("II*\x00")
	}
	binary.Write(&b, bo, uint32(8))
	binary.Write(&b, bo, uint16(2))
	// An unrelated entry first (ImageDescription), then Orientation.
	binary.Write(&b, bo, []uint16{0x010e, 2})
	binary.Write(&b, bo, []uint32{4, 0x00414243})
	binary.Write(&b, bo, []uint16{0x0112, 3})
	binary.Write(&b, bo, uint32(1))
	binary.Write(&b, bo, []uint16{uint16(o), 0})
	binary.Write(&b, bo, uint32(0))
	return b.Bytes()
}

// withJPEGExif inserts an APP1 Exif segment holding orientation o right after SOI, behind
// an APP0 segment as cameras write it.
func withJPEGExif(jpg []byte, o int, bo binary.ByteOrder) []byte {
	payload := append([]byte("Exif\x00\x00"), tiffExif(o, bo)...)
	var b bytes.Buffer
	b.Write(jpg[:2])
	b.Write([]byte{0xff, 0xe0, 0, 7, 'J', 'F', 'I', 'F', 0}) // a short APP0
	b.Write([]byte{0xff, 0xe1})
	binary.Write(&b, binary.BigEndian, uint16(len(payload)+2))
	b.Write(payload)
	b.Write(jpg[2:])
	return b.Bytes()
}

// pngChunk encodes one PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// withPNGExif inserts an eXIf chunk after IHDR.
func withPNGExif(p []byte, o int) []byte {
	const ihdrEnd = 8 + 25
	out := append([]byte{}, p[:ihdrEnd]...)
	out = append(out, pngChunk("eXIf", tiffExif(o, binary.BigEndian))...)
	return append(out, p[ihdrEnd:]...)
}

// hugePNG is a valid PNG header claiming w×h RGB pixels, with almost no data after it.
func hugePNG(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // 8-bit RGB, no interlace
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunk("IHDR", ihdr)...)
	out = append(out, pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, pngChunk("IEND", nil)...)
}

// hugeJPEG rewrites the size in a JPEG's SOF0 segment.
func hugeJPEG(jpg []byte, w, h uint16) []byte {
	out := append([]byte{}, jpg...)
	for i := 2; i+9 < len(out); {
		if out[i] != 0xff {
			break
		}
		n := int(binary.BigEndian.Uint16(out[i+2:]))
		if out[i+1] == 0xc0 {
			binary.BigEndian.PutUint16(out[i+5:], h)
			binary.BigEndian.PutUint16(out[i+7:], w)
			return out
		}
		i += 2 + n
	}
	panic("no SOF0")
}

// orient returns img turned by EXIF orientation o, with raster.Oriented.
func orient(t testing.TB, img raster.Image, o int) raster.Image {
	t.Helper()
	m, err := raster.Oriented(img, raster.Orientation(o))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// twiceFit is a Decoder.MinSize for a resize into tw×th with the aspect ratio kept: twice
// the fitted size, as kernels.Plan.MinDecodeSize answers for ResizeFit.
func twiceFit(tw, th int) func(w, h int) (int, int) {
	return func(w, h int) (int, int) {
		s := min(float64(tw)/float64(w), float64(th)/float64(h))
		return min(w, 2*int(math.Round(s*float64(w)))), min(h, 2*int(math.Round(s*float64(h))))
	}
}
