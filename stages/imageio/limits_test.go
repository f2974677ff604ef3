package imageio

import (
	"context"
	"errors"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/tiff"

	"github.com/gpupipe/gpupipe/internal/hostile"
)

// quick is how long refusing a file from its markers may take, with room for a loaded
// machine and the race detector: the walk itself takes well under a millisecond.
const quick = time.Second

// JPEGs whose decoding would cost far more than their pixels are refused from a walk over
// their markers, on both paths, in no time, with the reason.
func TestJPEGWorkLimits(t *testing.T) {
	cases := []struct {
		name   string
		data   []byte
		dec    Decoder
		reason string
	}{
		// 2048×2048 with 4000 scans, 84 KB: Go's image/jpeg took 16.5 s to decode it.
		{"scans.jpg", hostile.ProgressiveJPEG(2048, 2048, 4000), Decoder{}, "visit each 8×8 block more than 32 times"},
		{"scans-limit.jpg", hostile.ProgressiveJPEG(64, 64, 30), Decoder{MaxScans: 20}, "more than 20 scans"},
		{"markers.jpg", hostile.ManyMarkersJPEG(5000), Decoder{}, "more than 1000 marker segments"},
		{"markers-limit.jpg", hostile.ManyMarkersJPEG(50), Decoder{MaxMarkers: 40}, "more than 40 marker segments"},
	}
	for _, c := range cases {
		for path, pureGo := range map[string]bool{"go": true, "default": false} {
			t.Run(c.name+"/"+path, func(t *testing.T) {
				d := c.dec
				d.PureGo = pureGo
				f := writeFile(t, c.name, c.data)
				start := time.Now()
				_, err := d.Decode(context.Background(), f)
				took := time.Since(start)
				if !errors.Is(err, ErrTooComplex) || !strings.Contains(err.Error(), c.reason) ||
					!strings.HasPrefix(err.Error(), f.Path()+": too costly to decode: jpeg: ") {
					t.Fatalf("err = %v, want ErrTooComplex saying %q", err, c.reason)
				}
				if took > quick {
					t.Errorf("refusing %s took %v", c.name, took)
				}
				t.Logf("%d bytes refused in %v: %v", len(c.data), took, err)
			})
		}
	}
	// Within the limits, the same kinds of file decode.
	for name, data := range map[string][]byte{
		"scans": hostile.ProgressiveJPEG(64, 64, 30), "markers": hostile.ManyMarkersJPEG(500),
	} {
		for path, d := range decoders(nil) {
			if got, err := d.DecodeBytes(name, data); err != nil || got.Image.Width == 0 {
				t.Errorf("%s/%s: %v", name, path, err)
			}
		}
	}
}

func TestJPEGCost(t *testing.T) {
	s, err := jpegCost(hostile.JPEG(100, 60), jpegLimits{markers: -1, scans: -1})
	// 13×8 blocks of one grey component, one scan.
	if err != nil || s.sof != 0xc0 || s.scans != 1 || s.blocks != 13*8 || s.visits != 13*8 || s.precision != 8 {
		t.Errorf("baseline grey: %+v, %v", s, err)
	}
	s, err = jpegCost(encodeJPEG(t, photo(rand.New(rand.NewPCG(1, 2)), 33, 17), 80), jpegLimits{markers: -1, scans: -1})
	// 4:2:0: Y is 5×3 blocks, Cb and Cr 3×2 each; one interleaved scan of 3×2 MCUs of 6.
	if err != nil || s.scans != 1 || s.blocks != 15+6+6 || s.visits != 36 || s.components != 3 {
		t.Errorf("baseline colour: %+v, %v", s, err)
	}
	s, err = jpegCost(hostile.ProgressiveJPEG(64, 64, 7), jpegLimits{markers: -1, scans: -1})
	if err != nil || s.sof != 0xc2 || s.scans != 7 || s.visits != 7*64 || s.markers != 11 { // DQT, SOF2, DHT, 7 SOS, EOI
		t.Errorf("progressive: %+v, %v", s, err)
	}
	for _, data := range [][]byte{nil, {0xff}, {0xff, 0xd8}, {0xff, 0xd8, 0xff, 0xda, 0, 1}, []byte("not a jpeg")} {
		if s, err := jpegCost(data, jpegLimits{markers: 1, scans: 1}); err != nil {
			t.Errorf("%q: %+v, %v", data, s, err)
		}
	}
}

// The fast path's refusal for one of its limits is final: the pure-Go decoder, with no limit
// of its own on scans, never gets the file. Here libjpeg-turbo refuses a file of 600 scans,
// which Go's decoder would spend about 2 s on.
func TestTurboLimitIsFinal(t *testing.T) {
	requireTurbo(t)
	data := hostile.ProgressiveJPEG(512, 512, 600)
	d := &Decoder{MaxScans: -1, MaxMarkers: -1}
	start := time.Now()
	_, err := d.DecodeBytes("scans.jpg", data)
	if !errors.Is(err, ErrTooComplex) || !strings.Contains(err.Error(), "scans") {
		t.Fatalf("err = %v, want libjpeg-turbo's scan limit", err)
	}
	t.Logf("refused by libjpeg-turbo in %v: %v", time.Since(start), err)
}

// A decode past its time budget is abandoned: Decode returns at once with the reason, the
// decode stops at its next read of the file, and its buffers go back.
func TestDecodeTimeBudget(t *testing.T) {
	// 20000 scans of 4096 blocks: about 6 s in Go's decoder, with the limits off.
	data := hostile.ProgressiveJPEG(512, 512, 20000)
	f := writeFile(t, "slow.jpg", data)
	d := &Decoder{PureGo: true, MaxScans: -1, MaxMarkers: -1, MaxDecodeTime: 200 * time.Millisecond, Pool: &Pool{}}
	start := time.Now()
	_, err := d.Decode(context.Background(), f)
	took := time.Since(start)
	if !errors.Is(err, ErrTooComplex) || !strings.Contains(err.Error(), "not decoded within 200ms") {
		t.Fatalf("err = %v", err)
	}
	if took > 200*time.Millisecond+quick {
		t.Errorf("Decode returned after %v, with a budget of 200ms", took)
	}
	if n, bytes := d.Abandoned(); n != 1 || bytes < int64(len(data))+4*512*512 {
		t.Errorf("Abandoned() = %d, %d bytes, want 1 holding the file and the image", n, bytes)
	}
	waitAbandoned(t, d)
	// DecodeBytes cannot abandon the caller's bytes: the Go decoder stops at its next read.
	start = time.Now()
	if _, err := d.DecodeBytes("slow.jpg", data); !errors.Is(err, ErrTooComplex) {
		t.Fatalf("DecodeBytes: err = %v", err)
	}
	t.Logf("Decode returned in %v, DecodeBytes in %v", took, time.Since(start))
}

func waitAbandoned(t *testing.T, d *Decoder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	if err := d.Wait(ctx); err != nil {
		t.Fatalf("abandoned decodes still running: %v", err)
	}
	if n, bytes := d.Abandoned(); n != 0 || bytes != 0 {
		t.Fatalf("after Wait: Abandoned() = %d, %d", n, bytes)
	}
	t.Logf("the abandoned decode ended %v later", time.Since(start))
}

// A cancelled context ends a decode in progress at once.
func TestDecodeCancelledMidway(t *testing.T) {
	f := writeFile(t, "slow.jpg", hostile.ProgressiveJPEG(512, 512, 20000))
	d := &Decoder{PureGo: true, MaxScans: -1, MaxMarkers: -1, MaxDecodeTime: -1}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := d.Decode(ctx, f)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > 100*time.Millisecond+quick {
		t.Errorf("Decode returned %v after it started, the context being cancelled after 100ms", took)
	}
	waitAbandoned(t, d)
}

// While MaxAbandoned abandoned decodes run, a new decode waits for one to end.
func TestMaxAbandoned(t *testing.T) {
	slow := writeFile(t, "slow.jpg", hostile.ProgressiveJPEG(512, 512, 20000))
	small := writeFile(t, "small.jpg", hostile.JPEG(8, 8))
	d := &Decoder{PureGo: true, MaxScans: -1, MaxMarkers: -1, MaxDecodeTime: 50 * time.Millisecond, MaxAbandoned: 1}
	if _, err := d.Decode(context.Background(), slow); !errors.Is(err, ErrTooComplex) {
		t.Fatalf("slow: %v", err)
	}
	if n, _ := d.Abandoned(); n == 1 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		_, err := d.Decode(ctx, small)
		cancel()
		if n, _ := d.Abandoned(); n == 1 && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a decode started while the abandoned one ran: %v", err)
		}
	}
	waitAbandoned(t, d)
	if _, err := d.Decode(context.Background(), small); err != nil {
		t.Fatal(err)
	}
}

// Valid files of kinds the decoders do not read are unsupported, not corrupt, and say what
// they are, on both paths.
func TestUnsupportedKinds(t *testing.T) {
	bmp64 := encodeBMP(t, photo(rand.New(rand.NewPCG(1, 2)), 4, 4))
	bmp64[28] = 64 // bits per pixel
	bmpJPEG := encodeBMP(t, photo(rand.New(rand.NewPCG(1, 2)), 4, 4))
	bmpJPEG[30] = 4 // BI_JPEG
	cases := []struct {
		name, feature string
		data          []byte
	}{
		{"lzma.tif", "TIFF with LZMA compression", hostile.UnsupportedTIFF(hostile.TIFFLZMA)},
		{"64.bmp", "64-bit BMP", bmp64},
		{"jpeg.bmp", "BMP with JPEG compression", bmpJPEG},
	}
	for _, c := range cases {
		for path, d := range decoders(nil) {
			f := writeFile(t, c.name, c.data)
			_, err := d.Decode(context.Background(), f)
			if !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrCorrupt) ||
				err.Error() != f.Path()+": unsupported: "+c.feature {
				t.Errorf("%s/%s: err = %v, want %q", c.name, path, err, "unsupported: "+c.feature)
			}
		}
	}
}

// The decoders' own error types decide between unsupported and corrupt when no header says.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		format string
		err    error
		kind   error
		text   string
	}{
		{"jpeg", jpeg.UnsupportedError("luma/chroma subsampling ratio"), ErrUnsupported, "unsupported: JPEG (luma/chroma subsampling ratio)"},
		{"png", png.UnsupportedError("bit depth 3"), ErrUnsupported, "unsupported: PNG (bit depth 3)"},
		{"tiff", tiff.UnsupportedError("compression value 9"), ErrUnsupported, "unsupported: TIFF (compression value 9)"},
		{"png", png.FormatError("invalid checksum"), ErrCorrupt, "corrupt image: png: invalid format: invalid checksum"},
		{"jpeg", jpeg.FormatError("missing SOI marker"), ErrCorrupt, "corrupt image: jpeg: invalid JPEG format: missing SOI marker"},
		{"tiff", tiff.FormatError("bad IFD entry"), ErrCorrupt, "corrupt image: tiff: invalid format: bad IFD entry"},
	} {
		err := classify(c.format, "", c.err, "")
		if !errors.Is(err, c.kind) || !errors.Is(err, c.err) || err.Error() != c.text {
			t.Errorf("classify(%s, %v) = %v, want %q", c.format, c.err, err, c.text)
		}
	}
}
