package imageio

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
)

// turboLibrary is where Debian's libturbojpeg0 package installs the library.
const turboLibrary = "/usr/lib/x86_64-linux-gnu/libturbojpeg.so.0"

// A cgo build on a machine with the library must use it: otherwise the fast path would go
// untested without anyone noticing.
func TestTurboLoadsWhereInstalled(t *testing.T) {
	err := TurboJPEG()
	switch {
	case !cgoBuild:
		if err == nil || !strings.Contains(err.Error(), "without cgo") {
			t.Fatalf("CGO_ENABLED=0 build: TurboJPEG() = %v", err)
		}
	case os.Getenv("GPUPIPE_TURBOJPEG") != "":
		t.Skipf("GPUPIPE_TURBOJPEG is set: %v", err)
	case fileExists(turboLibrary) && err != nil:
		t.Fatalf("%s is installed but TurboJPEG() = %v", turboLibrary, err)
	case err != nil:
		t.Skipf("libjpeg-turbo not available: %v", err)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func requireTurbo(t *testing.T) {
	t.Helper()
	if err := TurboJPEG(); err != nil {
		t.Skipf("libjpeg-turbo not available: %v", err)
	}
}

// GPUPIPE_TURBOJPEG=off and a wrong library path fall back to the pure-Go decoder. The
// variable is read once per process, so each setting runs in a child process.
func TestTurboEnvironment(t *testing.T) {
	if mode := os.Getenv("IMAGEIO_TEST_CHILD"); mode != "" {
		err := TurboJPEG()
		if err == nil || !strings.Contains(err.Error(), mode) {
			t.Fatalf("TurboJPEG() = %v, want it to mention %q", err, mode)
		}
		rng := rand.New(rand.NewPCG(1, 1))
		got, err := (&Decoder{}).DecodeBytes("a.jpg", encodeJPEG(t, photo(rng, 16, 16), 90))
		if err != nil || got.Turbo {
			t.Fatalf("decode: %+v, %v", got, err)
		}
		return
	}
	if !cgoBuild {
		t.Skip("without cgo the variable is not read")
	}
	for value, mode := range map[string]string{"off": "disabled", "/nonexistent/libturbojpeg.so": "/nonexistent"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTurboEnvironment$", "-test.v")
		cmd.Env = append(os.Environ(), "GPUPIPE_TURBOJPEG="+value, "IMAGEIO_TEST_CHILD="+mode)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("GPUPIPE_TURBOJPEG=%s: %v\n%s", value, err, out)
		}
	}
}

func TestShrinkFactor(t *testing.T) {
	cases := []struct {
		w, h, minW, minH int
		want             int
	}{
		{4000, 3000, 4000, 3000, 1}, // no shrinking
		{4000, 3000, 500, 375, 8},   // exactly 1/8
		{4000, 3000, 500, 376, 4},   // fit in 250×250 makes 250×188: 1/8 is a row short of twice
		{4000, 3000, 502, 377, 4},   // fit in 251×251: 500 < 502
		{4000, 3000, 1000, 750, 4},  // fit in 500×500
		{4000, 3000, 2000, 1500, 2}, // fit in 1000×1000
		{4000, 3000, 2002, 1502, 1}, // fit in 1001×1001: 2000 < 2002
		{4000, 3000, 666, 500, 4},   // cover 250×250: 3000/8 = 375 < 500
		{4001, 3001, 501, 376, 8},   // sizes round up: 501×376
		{3000, 4000, 375, 500, 8},   // portrait
		{17, 9, 2, 2, 8},            // 3×2
		{0, 10, 1, 1, 1},            // no pixels
		{100, 100, 0, 0, 8},         // anything goes
	}
	for _, c := range cases {
		if got := ShrinkFactor(c.w, c.h, c.minW, c.minH); got != c.want {
			t.Errorf("ShrinkFactor(%d, %d, %d, %d) = %d, want %d", c.w, c.h, c.minW, c.minH, got, c.want)
		}
	}
}

// Shrink-on-load gives the scaled size libjpeg-turbo documents and about the pixels of a
// box-filtered full-size decode.
func TestShrinkOnLoad(t *testing.T) {
	requireTurbo(t)
	rng := rand.New(rand.NewPCG(31, 32))
	src := photo(rng, 803, 601)
	jpg := encodeJPEG(t, src, 92)
	for _, c := range []struct{ tw, th, scale int }{{50, 50, 8}, {100, 100, 4}, {200, 200, 2}, {400, 400, 1}} {
		got, err := (&Decoder{MinSize: twiceFit(c.tw, c.th)}).DecodeBytes("big.jpg", jpg)
		if err != nil {
			t.Fatal(err)
		}
		w, h := ceilDiv(803, c.scale), ceilDiv(601, c.scale)
		if !got.Turbo || got.Scale != c.scale || got.Image.Width != w || got.Image.Height != h {
			t.Fatalf("target %d: turbo %v scale %d size %d×%d, want scale %d size %d×%d", c.tw, got.Turbo,
				got.Scale, got.Image.Width, got.Image.Height, c.scale, w, h)
		}
		if diff := meanAbsDiff(t, got.Image, boxShrink(fromNRGBA(src, 3), c.scale)); diff > 3 {
			t.Errorf("scale 1/%d differs from a resized source by %.2f per sample", c.scale, diff)
		}
	}
	// The pure-Go path has no shrink-on-load: it decodes at full size.
	got, err := (&Decoder{MinSize: twiceFit(50, 50), PureGo: true}).DecodeBytes("big.jpg", jpg)
	if err != nil || got.Scale != 1 || got.Image.Width != 803 {
		t.Fatalf("pure Go: %+v, %v", got, err)
	}
}

// MinSize answers for the image as shown: a portrait photo stored sideways is shrunk by its
// shown size.
func TestShrinkOnLoadWithOrientation(t *testing.T) {
	requireTurbo(t)
	rng := rand.New(rand.NewPCG(33, 34))
	jpg := withJPEGExif(encodeJPEG(t, photo(rng, 800, 400), 90), 6, binary.LittleEndian)
	// Shown as 400×800, fitted into 100×100 it becomes 50×100. At 1/8 it would be 50×100,
	// less than twice that; at 1/4 it is 100×200.
	var asked [2]int
	fit := twiceFit(100, 100)
	minSize := func(w, h int) (int, int) { asked = [2]int{w, h}; return fit(w, h) }
	got, err := (&Decoder{MinSize: minSize}).DecodeBytes("side.jpg", jpg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Scale != 4 || got.Image.Width != 100 || got.Image.Height != 200 || asked != [2]int{400, 800} {
		t.Fatalf("scale %d, size %d×%d, MinSize asked for %v; want 4, 100×200, 400×800",
			got.Scale, got.Image.Width, got.Image.Height, asked)
	}
}

// boxShrink averages s×s blocks (smaller at the right and bottom edges), which is what
// decoding at 1/s in the DCT domain approximates.
func boxShrink(m raster.Image, s int) raster.Image {
	out := newImage(nil, ceilDiv(m.Width, s), ceilDiv(m.Height, s), m.Channels)
	for y := range out.Height {
		for x := range out.Width {
			for c := range m.Channels {
				sum, n := 0, 0
				for yy := y * s; yy < min((y+1)*s, m.Height); yy++ {
					for xx := x * s; xx < min((x+1)*s, m.Width); xx++ {
						sum += int(m.Pix[yy*m.Stride+xx*m.Channels+c])
						n++
					}
				}
				out.Pix[y*out.Stride+x*m.Channels+c] = uint8((sum + n/2) / n)
			}
		}
	}
	return out
}

// A decoder asks a kernels plan directly.
func TestShrinkOnLoadAsksThePlan(t *testing.T) {
	requireTurbo(t)
	jpg := encodeJPEG(t, photo(rand.New(rand.NewPCG(35, 36)), 1603, 1201), 90)
	plan, err := kernels.NewChain().ResizeFit(200, 200, raster.Lanczos3).Plan()
	if err != nil {
		t.Fatal(err)
	}
	got, err := (&Decoder{MinSize: plan.MinDecodeSize}).DecodeBytes("plan.jpg", jpg)
	if err != nil {
		t.Fatal(err)
	}
	// 200×150 needs 400×300: 1/4 leaves 401×301, 1/8 only 201×151.
	if got.Scale != 4 || got.Image.Width != 401 || got.Image.Height != 301 {
		t.Fatalf("scale %d, size %d×%d; want 4, 401×301", got.Scale, got.Image.Width, got.Image.Height)
	}
}

// libjpeg keeps what a stream defined in its decompressor: a handle that read a damaged file
// must not be pooled for the next, which it fails ("Bogus Huffman table definition").
func TestTurboHandlesSurviveDamagedFiles(t *testing.T) {
	requireTurbo(t)
	rng := rand.New(rand.NewPCG(21, 22))
	var good [][]byte
	for _, name := range []string{"progressive_444.jpg", "progressive_420.jpg", "progressive_gray.jpg"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		good = append(good, data)
	}
	for i := range 600 {
		b := bytes.Clone(good[i%len(good)])
		for range 1 + rng.IntN(4) {
			b[rng.IntN(len(b))] = byte(rng.IntN(256))
		}
		if th, err := turboReadHeader(b); err == nil && th.width*th.height <= 1<<22 {
			_ = turboDecode(b, newImage(&Pool{}, ceilDiv(th.width, 4), ceilDiv(th.height, 4), 3))
		}
		data := good[rng.IntN(len(good))]
		th, err := turboReadHeader(data)
		if err != nil {
			t.Fatalf("after %d damaged files, a good one's header: %v", i+1, err)
		}
		ch := 3
		if th.gray {
			ch = 1
		}
		if err := turboDecode(data, newImage(&Pool{}, ceilDiv(th.width, 4), ceilDiv(th.height, 4), ch)); err != nil {
			t.Fatalf("after %d damaged files, a good one: %v", i+1, err)
		}
	}
}
