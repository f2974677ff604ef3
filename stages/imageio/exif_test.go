package imageio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

func TestOrientationParsers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	jpg := encodeJPEG(t, photo(rng, 24, 16), 90)
	pngData := encodePNG(t, photo(rng, 24, 16))
	for o := 1; o <= 8; o++ {
		for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			if got := Orientation("jpeg", withJPEGExif(jpg, o, bo)); got != o {
				t.Errorf("jpeg %v orientation %d: got %d", bo, o, got)
			}
			if got := Orientation("tiff", tiffExif(o, bo)); got != o {
				t.Errorf("tiff %v orientation %d: got %d", bo, o, got)
			}
		}
		if got := Orientation("png", withPNGExif(pngData, o)); got != o {
			t.Errorf("png orientation %d: got %d", o, got)
		}
	}
	webp, err := os.ReadFile("testdata/lossless_orient6.webp")
	if err != nil {
		t.Fatal(err)
	}
	if got := Orientation("webp", webp); got != 6 {
		t.Errorf("webp orientation: got %d, want 6", got)
	}

	for name, data := range map[string][]byte{
		"no exif":            jpg,
		"value out of range": withJPEGExif(jpg, 9, binary.LittleEndian),
		"zero":               withJPEGExif(jpg, 0, binary.BigEndian),
		"truncated exif":     withJPEGExif(jpg, 6, binary.LittleEndian)[:30],
		"not jpeg":           []byte("hello"),
		"png without exif":   pngData,
	} {
		format := "jpeg"
		if name == "png without exif" {
			format = "png"
		}
		if got := Orientation(format, data); got != 1 {
			t.Errorf("%s: got %d, want 1", name, got)
		}
	}
}

// The orientations as the decoder applies them (raster.Orient), checked against the
// transforms of github.com/disintegration/imaging, whose Rotate functions turn
// counter-clockwise.
func TestOrientMatchesImaging(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	src := noise(rng, 7, 5, true)
	want := map[int]*image.NRGBA{
		1: src,
		2: imaging.FlipH(src),
		3: imaging.Rotate180(src),
		4: imaging.FlipV(src),
		5: imaging.Transpose(src),
		6: imaging.Rotate270(src),
		7: imaging.Transverse(src),
		8: imaging.Rotate90(src),
	}
	for _, ch := range []int{1, 3, 4} {
		for o := 1; o <= 8; o++ {
			t.Run(fmt.Sprintf("o%d-c%d", o, ch), func(t *testing.T) {
				in := ToChannels(fromNRGBA(src, 4), ch, [3]uint8{}, nil)
				got := orient(t, in, o)
				equalImages(t, got, ToChannels(fromNRGBA(want[o], 4), ch, [3]uint8{}, nil))
			})
		}
	}
	// A padded source stride is honoured.
	in := fromNRGBA(src, 3)
	padded := raster.Image{Pix: make([]byte, in.Height*(in.Stride+5)), Width: in.Width, Height: in.Height,
		Stride: in.Stride + 5, Channels: 3}
	for y := range in.Height {
		copy(row(&padded, y), row(&in, y))
	}
	equalImages(t, orient(t, padded, 6), fromNRGBA(want[6], 3))
}

// Decoding an EXIF-rotated JPEG gives what imaging.Decode with AutoOrientation gives.
func TestDecodeAppliesOrientation(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	jpg := encodeJPEG(t, photo(rng, 80, 48), 95)
	for o := 1; o <= 8; o++ {
		data := withJPEGExif(jpg, o, binary.BigEndian)
		ref, err := imaging.Decode(bytes.NewReader(data), imaging.AutoOrientation(true))
		if err != nil {
			t.Fatal(err)
		}
		want := reference(ref)
		for _, pure := range []bool{true, false} {
			d := &Decoder{PureGo: pure}
			got, err := d.DecodeBytes("rotated.jpg", data)
			if err != nil {
				t.Fatal(err)
			}
			if got.Orientation != o || got.SourceWidth != 80 || got.SourceHeight != 48 {
				t.Fatalf("orientation %d: decoded %+v", o, got)
			}
			if pure || !got.Turbo {
				equalImages(t, got.Image, want)
			} else if diff := meanAbsDiff(t, got.Image, want); diff > 5 { // libjpeg-turbo upsamples chroma smoothly; Go repeats it
				t.Fatalf("orientation %d, libjpeg-turbo: mean difference %.2f", o, diff)
			}
			ignored, err := (&Decoder{PureGo: pure, IgnoreOrientation: true}).DecodeBytes("rotated.jpg", data)
			if err != nil {
				t.Fatal(err)
			}
			if ignored.Orientation != 1 || ignored.Image.Width != 80 {
				t.Fatalf("IgnoreOrientation: %+v", ignored)
			}
		}
	}
}

func FuzzOrientation(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 10))
	jpg := encodeJPEG(f, photo(rng, 8, 8), 80)
	f.Add("jpeg", withJPEGExif(jpg, 6, binary.LittleEndian))
	f.Add("jpeg", withJPEGExif(jpg, 3, binary.BigEndian))
	f.Add("png", withPNGExif(encodePNG(f, photo(rng, 8, 8)), 8))
	f.Add("tiff", tiffExif(5, binary.BigEndian))
	if webp, err := os.ReadFile("testdata/lossless_orient6.webp"); err == nil {
		f.Add("webp", webp)
	}
	f.Fuzz(func(t *testing.T, format string, data []byte) {
		if o := Orientation(format, data); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
		// The same bytes as an EXIF block inside each container.
		for _, o := range []int{tiffOrientation(data), Orientation("jpeg", data), Orientation("png", data), Orientation("webp", data)} {
			if o < 0 || o > 0xffff {
				t.Fatalf("orientation %d", o)
			}
		}
	})
}
