package imageio

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// progressiveFiles are progressive JPEGs as Pillow writes them (libjpeg's standard scan
// script, 10 scans for colour, 6 for grey), 344×232 so that the last MCUs are partial; and
// two rewritten by jpegtran with restart markers every 2 and 5 MCUs, the second with a DC
// scan per component and their refinements (-scans); and three written by cjpeg: 4:4:0, 4:1:1
// and RGB (no colour transform, which only its Adobe segment says: its component ids are 1,
// 2 and 3).
var progressiveFiles = []string{"progressive_444.jpg", "progressive_422.jpg", "progressive_420.jpg", "progressive_gray.jpg",
	"progressive_444_rst.jpg", "progressive_422_separate_rst.jpg", "progressive_440.jpg", "progressive_411.jpg", "progressive_rgb.jpg"}

// Leaving out the AC scans of full-resolution components changes no pixel of a 1/8 decode,
// whatever the subsampling, and leaves out most of the file.
func TestDCOnlyDecodesTheSamePixelsAtOneEighth(t *testing.T) {
	requireTurbo(t)
	for _, name := range progressiveFiles {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		dc, ok := dcOnly(data)
		if !ok {
			t.Fatalf("%s: not trimmed", name)
		}
		// The chroma of 4:2:0 is decoded at 2×2 and keeps its AC scans; the rest is DC.
		maxShare := 0.4
		if name == "progressive_420.jpg" {
			maxShare = 0.6
		}
		if share := float64(len(dc)) / float64(len(data)); share > maxShare {
			t.Errorf("%s: trimmed to %.0f%% of %d bytes, want at most %.0f%%", name, 100*share, len(data), 100*maxShare)
		}
		whole, err := decodeScaled(turboDecode, data, data, 8)
		if err != nil {
			t.Fatal(err)
		}
		part, err := decodeScaled(turboDecode, data, dc, 8)
		if err != nil {
			t.Fatalf("%s: the trimmed stream: %v", name, err)
		}
		if !bytes.Equal(whole.Pix, part.Pix) {
			t.Errorf("%s: 1/8 decode of the trimmed stream differs", name)
		}
		// At 1/4 the scans left out matter: the check above can fail.
		whole, err = decodeScaled(turboDecode, data, data, 4)
		part, err2 := decodeScaled(turboDecode, data, dc, 4)
		if err != nil || err2 != nil || bytes.Equal(whole.Pix, part.Pix) {
			t.Errorf("%s: at 1/4 the trimmed stream decodes to the same pixels: the test cannot tell", name)
		}
	}
}

// decodeScaled decodes data with decode (turboDecode or turboDecodeStrict) at 1/scale of the
// size header's JPEG header gives (the original's, when data is made from it).
func decodeScaled(decode func([]byte, raster.Image) error, header, data []byte, scale int) (raster.Image, error) {
	th, err := turboReadHeader(header)
	if err != nil {
		return raster.Image{}, err
	}
	if th.width*th.height > 1<<22 {
		return raster.Image{}, fmt.Errorf("%d×%d: too large for a test", th.width, th.height)
	}
	ch := 3
	if th.gray {
		ch = 1
	}
	m := newImage(&Pool{}, ceilDiv(th.width, scale), ceilDiv(th.height, scale), ch)
	return m, decode(data, m)
}

// The decoder decodes progressive files at 1/8 from their DC coefficients as a baseline
// JPEG (4:4:4) or from the scans it reads (4:2:0), to the pixels of the whole file.
func TestDecoderDecodesProgressiveAtOneEighthFromDCScans(t *testing.T) {
	requireTurbo(t)
	for _, name := range []string{"progressive_444.jpg", "progressive_420.jpg"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		dec := &Decoder{MinSize: func(w, h int) (int, int) { return 40, 20 }}
		got, err := dec.DecodeBytes("p.jpg", data)
		if err != nil || got.Scale != 8 {
			t.Fatalf("%s: scale %v, %v", name, got.Scale, err)
		}
		want := newImage(&Pool{}, got.Image.Width, got.Image.Height, 3)
		if err := turboDecode(data, want); err != nil || !bytes.Equal(want.Pix, got.Image.Pix) {
			t.Errorf("%s: decoder's 1/8 image differs from libjpeg's whole decode (%v)", name, err)
		}
	}
}

// Files that are not whole progressive Huffman JPEGs are decoded as they are: baseline, a
// truncated file (whose damage the whole decode reports), bad segment lengths.
func TestDCOnlyDeclines(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "progressive_420.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	baseline := encodeJPEG(t, photo(rand.New(rand.NewPCG(3, 4)), 64, 48), 90)
	damaged := bytes.Clone(data)
	damaged[21] = 0xFF // a length byte of the first segment after SOI's APP0: runs past the end
	cases := map[string][]byte{
		"baseline":        baseline,
		"truncated":       data[:len(data)*2/3],
		"no EOI":          data[:len(data)-2],
		"bad length":      damaged,
		"not a JPEG":      []byte("GIF89a........"),
		"empty":           nil,
		"SOI only":        {0xFF, 0xD8},
		"stuffed to end":  append([]byte{0xFF, 0xD8, 0xFF, 0xDA, 0, 8, 1, 1, 0, 1, 63, 0}, 0xFF, 0),
		"scan before SOF": {0xFF, 0xD8, 0xFF, 0xDA, 0, 8, 1, 1, 0, 1, 63, 0, 1, 2, 0xFF, 0xD9},
	}
	for name, b := range cases {
		if out, ok := dcOnly(b); ok || out != nil {
			t.Errorf("%s: trimmed to %d bytes", name, len(out))
		}
	}
}

// Arbitrary bytes never make dcOnly fail other than by declining.
func FuzzDCOnly(f *testing.F) {
	for _, name := range progressiveFiles {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), 4096)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if out, ok := dcOnly(b); ok && (len(out) > len(b) || !bytes.HasPrefix(out, []byte{0xFF, 0xD8})) {
			t.Errorf("trimmed %d bytes to %d", len(b), len(out))
		}
	})
}
