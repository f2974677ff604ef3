package imageio

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// The baseline JPEG of the DC coefficients decodes at 1/8 to the pixels of the whole
// progressive file, for every subsampling but 4:2:0, which it declines.
func TestDCBaselineDecodesTheSamePixelsAtOneEighth(t *testing.T) {
	requireTurbo(t)
	for _, name := range progressiveFiles {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		base, ok := dcBaseline(data)
		if name == "progressive_420.jpg" {
			if ok {
				t.Errorf("%s: transcoded, but its chroma is decoded at 2×2 from AC coefficients", name)
			}
			continue
		}
		if !ok {
			t.Fatalf("%s: not transcoded", name)
		}
		if base[2] != 0xFF || !bytes.Contains(base[:200], []byte{0xFF, 0xC0}) {
			t.Errorf("%s: no baseline frame", name)
		}
		whole, err := decodeScaled(turboDecode, data, data, 8)
		if err != nil {
			t.Fatal(err)
		}
		part, err := decodeScaled(turboDecode, data, base, 8)
		if err != nil {
			t.Fatalf("%s: the baseline stream: %v", name, err)
		}
		if !bytes.Equal(whole.Pix, part.Pix) {
			t.Errorf("%s: 1/8 decode of the baseline stream differs", name)
		}
	}
}

// Damaged or foreign files are declined, or give a whole JPEG.
func TestDCBaselineDeclinesDamage(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "progressive_444.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	sos := bytes.Index(data, []byte{0xFF, 0xDA})
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"truncated", data[:len(data)/3]},
		{"baseline", encodeJPEG(t, photo(rand.New(rand.NewPCG(5, 6)), 40, 30), 90)},
		{"garbage in the first scan", append(append(bytes.Clone(data[:sos+20]), 0xFF, 0xFF, 0xFF, 0x00), data[sos+24:]...)},
	} {
		if out, ok := dcBaseline(c.b); ok {
			// A damaged scan may still parse; what comes out must then be a whole JPEG.
			if c.name != "garbage in the first scan" || !bytes.HasSuffix(out, []byte{0xFF, 0xD9}) {
				t.Errorf("%s: transcoded to %d bytes", c.name, len(out))
			}
		}
	}
}

// Damaged copies of the test files (1 to 4 bytes changed, 300 of each): whenever both the
// copy and its transcoding (or trimming) decode, they decode at 1/8 to the same pixels, and a
// copy that decodes is never made into one that does not. (libjpeg-turbo is called here rather
// than in FuzzDCBaseline: cgo calls stall the fuzzing workers.)
func TestDCBaselineAgreesWithLibjpegOnDamage(t *testing.T) {
	requireTurbo(t)
	for name, short := range map[string]func([]byte) ([]byte, bool){"dcBaseline": dcBaseline, "dcOnly": dcOnly} {
		t.Run(name, func(t *testing.T) { agreesOnDamage(t, short) })
	}
}

func agreesOnDamage(t *testing.T, short func([]byte) ([]byte, bool)) {
	rng := rand.New(rand.NewPCG(8, 9))
	copies := 300
	if raceEnabled {
		copies = 40 // the detector slows libjpeg's callers tenfold
	}
	transcoded, compared := 0, 0
	for _, name := range progressiveFiles {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		for range copies {
			b := bytes.Clone(data)
			for range 1 + rng.IntN(4) {
				b[rng.IntN(len(b))] = byte(rng.IntN(256))
			}
			out, ok := short(b)
			if !ok {
				continue
			}
			transcoded++
			whole, err := decodeScaled(turboDecodeStrict, b, b, 8)
			if err != nil {
				continue // damage libjpeg notices, even where turboDecode forgives it
			}
			compared++
			part, err := decodeScaled(turboDecode, b, out, 8)
			if err != nil {
				t.Fatalf("%s damaged: the copy decodes, its transcoding does not: %v", name, err)
			}
			if !bytes.Equal(whole.Pix, part.Pix) {
				t.Fatalf("%s damaged: the transcoding decodes to other pixels", name)
			}
		}
	}
	if compared < 10 {
		t.Errorf("only %d of %d transcoded copies compared: the test shows little", compared, transcoded)
	}
}

func FuzzDCBaseline(f *testing.F) {
	for _, name := range progressiveFiles {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if out, ok := dcBaseline(b); ok && !bytes.HasPrefix(out, []byte{0xFF, 0xD8}) {
			t.Errorf("transcoded to %d bytes without SOI", len(out))
		}
	})
}

// Huffman tables with more codes than their lengths allow (as libjpeg counts them: a code of
// all ones is none) are refused, not indexed past.
func TestHuffDecoderRefusesOverfullTables(t *testing.T) {
	for _, counts := range [][16]byte{{3}, {2}, {0, 5}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 2}, {0, 4}} {
		n := 0
		for _, c := range counts {
			n += int(c)
		}
		if _, err := newHuffDecoder(counts[:], make([]byte, n)); err == nil {
			t.Errorf("counts %v accepted", counts)
		}
	}
	if _, err := newHuffDecoder(stdDCBits[:], make([]byte, 12)); err != nil {
		t.Errorf("the standard DC table: %v", err)
	}
	if _, err := newHuffDecoder([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200}, make([]byte, 200)); err != nil {
		t.Errorf("200 codes of 16 bits: %v", err)
	}
}
