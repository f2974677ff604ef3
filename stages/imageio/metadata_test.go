package imageio

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// fakeProfile is len random bytes standing in for an ICC profile: the containers carry
// profiles without reading them.
func fakeProfile(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	return b
}

func TestMetadataRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	img := photo(rng, 40, 30)
	meta := Metadata{
		ICC:  fakeProfile(rng, 150_000), // three APP2 segments in a JPEG
		EXIF: tiffExif(6, binary.BigEndian),
		XMP:  []byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>`),
	}
	webpFile, err := os.ReadFile("testdata/lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		format string
		file   []byte
		embed  func([]byte, Metadata) ([]byte, error)
	}{
		{"jpeg", encodeJPEG(t, img, 90), EmbedJPEG},
		{"png", encodePNG(t, img), EmbedPNG},
		{"webp", webpFile, EmbedWebP},
	} {
		out, err := tc.embed(tc.file, meta)
		if err != nil {
			t.Fatalf("%s: %v", tc.format, err)
		}
		got := ReadMetadata(tc.format, out, true, true)
		if !bytes.Equal(got.ICC, meta.ICC) || !bytes.Equal(got.EXIF, meta.EXIF) || !bytes.Equal(got.XMP, meta.XMP) {
			t.Errorf("%s: read back ICC %d/%d bytes, EXIF %d/%d, XMP %q", tc.format,
				len(got.ICC), len(meta.ICC), len(got.EXIF), len(meta.EXIF), got.XMP)
		}
		// The file still decodes, to the same pixels, and the decoder reads the blocks.
		d := &Decoder{Metadata: true, IgnoreOrientation: true}
		plain, err := d.DecodeBytes("plain", tc.file)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := d.DecodeBytes(tc.format, out)
		if err != nil {
			t.Fatalf("%s with metadata: %v", tc.format, err)
		}
		if !bytes.Equal(plain.Image.Pix, dec.Image.Pix) {
			t.Errorf("%s: the pixels changed when metadata was embedded", tc.format)
		}
		if !bytes.Equal(dec.ICC, meta.ICC) || !bytes.Equal(dec.XMP, meta.XMP) {
			t.Errorf("%s: Decoded has ICC %d bytes, XMP %q", tc.format, len(dec.ICC), dec.XMP)
		}
		if plain.ICC != nil || plain.EXIF != nil {
			t.Errorf("%s: metadata read from a file without any", tc.format)
		}
	}
}

// TestReadMetadataJPEGChunkOrder checks that APP2 segments are joined by their sequence
// numbers, not file order, and that a profile with a missing or repeated chunk is dropped.
func TestReadMetadataJPEGChunkOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	jpg := encodeJPEG(t, photo(rng, 16, 16), 80)
	parts := [][]byte{fakeProfile(rng, 100), fakeProfile(rng, 200), fakeProfile(rng, 300)}
	seg := func(seq, n int, data []byte) []byte {
		p := append(append(append([]byte{}, iccSignature...), byte(seq), byte(n)), data...)
		return append([]byte{0xff, 0xe2, byte((len(p) + 2) >> 8), byte(len(p) + 2)}, p...)
	}
	build := func(segs ...[]byte) []byte {
		out := append([]byte{}, jpg[:2]...)
		for _, s := range segs {
			out = append(out, s...)
		}
		return append(out, jpg[2:]...)
	}
	want := bytes.Join(parts, nil)
	got := ReadMetadata("jpeg", build(seg(2, 3, parts[1]), seg(3, 3, parts[2]), seg(1, 3, parts[0])), true, false)
	if !bytes.Equal(got.ICC, want) {
		t.Errorf("out-of-order chunks joined to %d bytes, want the %d in sequence", len(got.ICC), len(want))
	}
	for name, file := range map[string][]byte{
		"missing":  build(seg(1, 3, parts[0]), seg(3, 3, parts[2])),
		"repeated": build(seg(1, 2, parts[0]), seg(1, 2, parts[1]), seg(2, 2, parts[2])),
		"counts":   build(seg(1, 2, parts[0]), seg(2, 3, parts[1])),
		"zero":     build(seg(0, 1, parts[0])),
	} {
		if got := ReadMetadata("jpeg", file, true, false); got.ICC != nil {
			t.Errorf("%s chunk: read a %d-byte profile", name, len(got.ICC))
		}
	}
}

func TestReadMetadataTIFF(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	icc := fakeProfile(rng, 3000)
	// A little-endian TIFF header and one IFD with tags 700 (XMP) and 34675 (ICC).
	xmp := []byte("<x:xmpmeta/>")
	b := []byte("II*\x00\x08\x00\x00\x00")
	le := binary.LittleEndian
	b = le.AppendUint16(b, 2)
	dataAt := uint32(8 + 2 + 2*12 + 4)
	for _, e := range []struct {
		tag  uint16
		data []byte
	}{{700, xmp}, {34675, icc}} {
		b = le.AppendUint16(b, e.tag)
		b = le.AppendUint16(b, 7)
		b = le.AppendUint32(b, uint32(len(e.data)))
		b = le.AppendUint32(b, dataAt)
		dataAt += uint32(len(e.data))
	}
	b = le.AppendUint32(b, 0)
	b = append(append(b, xmp...), icc...)
	got := ReadMetadata("tiff", b, true, true)
	if !bytes.Equal(got.ICC, icc) || !bytes.Equal(got.XMP, xmp) {
		t.Errorf("TIFF: ICC %d bytes, XMP %q", len(got.ICC), got.XMP)
	}
	// An offset past the end is no profile, not a panic.
	le.PutUint32(b[8+2+12+8:], uint32(len(b)))
	if got := ReadMetadata("tiff", b, true, true); got.ICC != nil {
		t.Errorf("ICC read from outside the file")
	}
}

func TestResetOrientation(t *testing.T) {
	for _, bo := range []binary.ByteOrder{binary.BigEndian, binary.LittleEndian} {
		exif := tiffExif(8, bo)
		out := ResetOrientation(exif)
		if tiffOrientation(out) != 1 || tiffOrientation(exif) != 8 {
			t.Errorf("%v: orientation %d after reset, %d before", bo, tiffOrientation(out), tiffOrientation(exif))
		}
	}
	if got := ResetOrientation([]byte("junk")); string(got) != "junk" {
		t.Errorf("junk changed to %q", got)
	}
}

// TestEmbeddedMetadataReadByVips checks with an independent reader, where installed, that
// the blocks are where other programs look for them. (libpng checks a profile's header, so
// the PNG case is in package icc's tests, with real profiles.)
func TestEmbeddedMetadataReadByVips(t *testing.T) {
	vipsheader, err := exec.LookPath("vipsheader")
	if err != nil {
		t.Skip("vipsheader not installed")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	meta := Metadata{EXIF: tiffExif(3, binary.LittleEndian), ICC: fakeProfile(rng, 70_000)}
	for _, tc := range []struct {
		name  string
		file  []byte
		embed func([]byte, Metadata) ([]byte, error)
	}{{"a.jpg", encodeJPEG(t, photo(rng, 20, 20), 90), EmbedJPEG}} {
		out, err := tc.embed(tc.file, meta)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), tc.name)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := exec.Command(vipsheader, "-f", "icc-profile-data", path).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: vipsheader: %v: %s", tc.name, err, got)
		}
		if icc, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(got))); err != nil || !bytes.Equal(icc, meta.ICC) {
			t.Errorf("%s: vipsheader reads a %d-byte profile (%v), want the %d embedded", tc.name, len(icc), err, len(meta.ICC))
		}
		got, _ = exec.Command(vipsheader, "-f", "orientation", path).CombinedOutput()
		if string(bytes.TrimSpace(got)) != "3" {
			t.Errorf("%s: vipsheader reads orientation %q, want 3", tc.name, got)
		}
	}
}

func TestResetXMPOrientation(t *testing.T) {
	for in, want := range map[string]string{
		`<rdf:Description tiff:Orientation="6" tiff:Make="x"/>`: `<rdf:Description tiff:Orientation="1" tiff:Make="x"/>`,
		`<tiff:Orientation>8</tiff:Orientation>`:                `<tiff:Orientation>1</tiff:Orientation>`,
		`<rdf:Description exif:PixelXDimension="6"/>`:           `<rdf:Description exif:PixelXDimension="6"/>`,
	} {
		if got := string(ResetXMPOrientation([]byte(in))); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

// FuzzReadMetadata checks that no file makes the metadata readers or writers panic, and that
// what is read stays within the limit.
func FuzzReadMetadata(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 10))
	meta := Metadata{ICC: fakeProfile(rng, 70_000), EXIF: tiffExif(6, binary.LittleEndian), XMP: []byte("<x/>")}
	jpg, _ := EmbedJPEG(encodeJPEG(f, photo(rng, 8, 8), 80), meta)
	pngFile, _ := EmbedPNG(encodePNG(f, photo(rng, 8, 8)), meta)
	f.Add(jpg)
	f.Add(pngFile)
	if w, err := os.ReadFile("testdata/lossy.webp"); err == nil {
		wm, _ := EmbedWebP(w, meta)
		f.Add(wm)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []string{"jpeg", "png", "webp", "tiff"} {
			m := ReadMetadata(format, data, true, true)
			if len(m.ICC) > MaxMetadataSize || len(m.EXIF) > MaxMetadataSize || len(m.XMP) > MaxMetadataSize {
				t.Fatalf("%s: a block over the limit", format)
			}
			ResetOrientation(m.EXIF)
			ResetXMPOrientation(m.XMP)
		}
		EmbedJPEG(data, meta)
		EmbedPNG(data, meta)
		EmbedWebP(data, meta)
	})
}
