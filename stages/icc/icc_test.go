package icc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/stages/imageio"
)

var standard = []MatrixProfile{SRGB, DisplayP3, AdobeRGB, ProPhoto}

func TestStandardProfilesRoundTrip(t *testing.T) {
	for _, m := range standard {
		p, err := Parse(m.Encode())
		if err != nil {
			t.Fatalf("%s: %v", m.Description, err)
		}
		if p.Description != m.Description || p.ColorSpace != "RGB " || p.Class != "mntr" || !p.HasColorants || p.Adaptation == nil {
			t.Errorf("%s: read back %+v", m.Description, p)
		}
		want := RGBToXYZ(m.Primaries, m.White)
		for k := range 3 {
			for i := range 3 {
				if d := math.Abs(p.Colorants[k][i] - want[i][k]); d > 1e-4 {
					t.Errorf("%s: colorant %d component %d off by %g", m.Description, k, i, d)
				}
			}
		}
		c, err := p.Conversion()
		if err != nil {
			t.Fatal(err)
		}
		if c.SRGB != (m.Description == "sRGB") || (c.Map == nil) != c.SRGB {
			t.Errorf("%s: SRGB %v, map %v", m.Description, c.SRGB, c.Map != nil)
		}
	}
	// sRGB's colorants are the well-known D50-adapted ones of the sRGB profiles in use.
	s := RGBToXYZ(SRGBPrimaries, WhiteD65)
	if math.Abs(s[0][0]-0.4361) > 2e-4 || math.Abs(s[1][1]-0.7169) > 2e-4 || math.Abs(s[2][2]-0.7141) > 2e-4 {
		t.Errorf("sRGB D50 matrix %v", s)
	}
}

// TestDisplayP3Red is the example of a phone photo: P3's stored (234,51,35) is sRGB's
// (255,0,3) with Apple's Display P3 profile, as vipsthumbnail -e srgb and Pillow's ImageCms
// give; this package's Display P3 (the specification's primaries and curve) makes it
// (255,0,0), as vips does with it: both within 3 levels.
func TestDisplayP3Red(t *testing.T) {
	p, _ := Parse(DisplayP3.Encode())
	c, err := p.Conversion()
	if err != nil {
		t.Fatal(err)
	}
	src, _ := raster.NewImage(1, 1, 3)
	copy(src.Pix, []byte{234, 51, 35})
	dst, _ := raster.NewImage(1, 1, 3)
	if err := kernels.ApplyColorMap(dst, src, c.Map); err != nil {
		t.Fatal(err)
	}
	want := []int{255, 0, 3}
	for i, v := range dst.Pix {
		if math.Abs(float64(int(v)-want[i])) > 3 {
			t.Fatalf("P3 (234,51,35) became %v, want about %v", dst.Pix, want)
		}
	}
}

// patches makes an image of colour patches: the corners of the RGB cube, a grid through it,
// greys, and saturated colours near the gamut's edge, 4×4 pixels each.
func patches() *image.NRGBA {
	var cs []color.NRGBA
	levels := []uint8{0, 40, 90, 128, 170, 215, 255}
	for _, r := range levels {
		for _, g := range levels {
			for _, b := range levels {
				cs = append(cs, color.NRGBA{r, g, b, 255})
			}
		}
	}
	for v := 0; v < 256; v += 5 {
		cs = append(cs, color.NRGBA{uint8(v), uint8(v), uint8(v), 255})
	}
	cs = append(cs, color.NRGBA{234, 51, 35, 255}, color.NRGBA{20, 230, 40, 255}, color.NRGBA{30, 40, 240, 255})
	const side, per = 4, 20
	rows := (len(cs) + per - 1) / per
	m := image.NewNRGBA(image.Rect(0, 0, side*per, side*rows))
	for i, c := range cs {
		x0, y0 := side*(i%per), side*(i/per)
		for y := y0; y < y0+side; y++ {
			for x := x0; x < x0+side; x++ {
				m.SetNRGBA(x, y, c)
			}
		}
	}
	return m
}

// vipsToSRGB converts the file with vips icc_transform (Little CMS, relative colorimetric:
// what vipsthumbnail -e srgb does) and returns the pixels.
func vipsToSRGB(t *testing.T, vips, in, intent string) *image.NRGBA {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.png")
	if b, err := exec.Command(vips, "icc_transform", in, out, "srgb", "--embedded", "--intent", intent).CombinedOutput(); err != nil {
		t.Fatalf("vips icc_transform: %v: %s", err, b)
	}
	f, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := png.Decode(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	n := image.NewNRGBA(m.Bounds())
	for y := m.Bounds().Min.Y; y < m.Bounds().Max.Y; y++ {
		for x := m.Bounds().Min.X; x < m.Bounds().Max.X; x++ {
			n.Set(x, y, m.At(x, y))
		}
	}
	return n
}

// TestConversionAgainstLittleCMS converts colour patches tagged with each profile, by the
// project's kernels (matrix/TRC profiles) or through Little CMS (a LUT-based profile), and
// compares them with vips's conversion: CIEDE2000 under 2 on every patch.
func TestConversionAgainstLittleCMS(t *testing.T) {
	vips, err := exec.LookPath("vips")
	if err != nil {
		t.Skip("vips not installed: no reference conversion")
	}
	src := patches()
	var buf bytes.Buffer
	if err := png.Encode(&buf, src); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		icc  []byte
	}{
		{"Display P3", DisplayP3.Encode()}, {"Adobe RGB", AdobeRGB.Encode()}, {"ProPhoto", ProPhoto.Encode()},
		{"LUT Display P3", lutProfile(DisplayP3)},
	}
	var conv Converter
	for _, tc := range cases {
		tagged, err := imageio.EmbedPNG(buf.Bytes(), imageio.Metadata{ICC: tc.icc})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "in.png")
		if err := os.WriteFile(path, tagged, 0o644); err != nil {
			t.Fatal(err)
		}
		// A profile with only an A2B0 tag has only the perceptual intent for vips; Little CMS
		// falls back to it for the relative colorimetric one.
		intent := "relative"
		if tc.name == "LUT Display P3" {
			intent = "perceptual"
		}
		want := vipsToSRGB(t, vips, path, intent)
		d, err := (&imageio.Decoder{}).DecodeBytes(tc.name, tagged)
		if err != nil {
			t.Fatal(err)
		}
		img := d.Image
		act := conv.For(d.ICC, img.Channels)
		switch {
		case act.Err != nil:
			if tc.name == "LUT Display P3" && LittleCMS() != nil {
				t.Logf("%s: %v", tc.name, act.Err)
				continue
			}
			t.Fatalf("%s: %v", tc.name, act.Err)
		case act.Map != nil:
			p, _ := kernels.NewChain().ToSRGB().Plan()
			out, err := p.RunColors([]raster.Image{img}, []*kernels.ColorMap{act.Map})
			if err != nil {
				t.Fatal(err)
			}
			img = out.Images[0]
		case act.Host != nil:
			if err := act.Host(img); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("%s: no conversion", tc.name)
		}
		if (act.Host != nil) != (tc.name == "LUT Display P3") {
			t.Errorf("%s: converted on the host %v", tc.name, act.Host != nil)
		}
		worst, sum, n := 0.0, 0.0, 0
		for y := 0; y < img.Height; y += 4 {
			for x := 0; x < img.Width; x += 4 {
				g := img.Pix[y*img.Stride+x*img.Channels:]
				w := want.Pix[y*want.Stride+4*x:]
				e := DeltaE2000([3]float64{float64(g[0]), float64(g[1]), float64(g[2])}, [3]float64{float64(w[0]), float64(w[1]), float64(w[2])})
				if e > worst {
					worst = e
				}
				sum += e
				n++
			}
		}
		t.Logf("%s: ΔE2000 against vips (Little CMS): mean %.3f, worst %.3f over %d patches", tc.name, sum/float64(n), worst, n)
		if worst >= 2 {
			t.Errorf("%s: worst ΔE2000 %.2f", tc.name, worst)
		}
	}
}

func TestConverterActions(t *testing.T) {
	var c Converter
	if a := c.For(nil, 3); a.Map != nil || a.Host != nil || a.Err != nil {
		t.Errorf("no profile: %+v", a)
	}
	if a := c.For(SRGB.Encode(), 3); a.Map != nil || a.Host != nil || a.Err != nil {
		t.Errorf("sRGB profile: %+v", a)
	}
	p3 := DisplayP3.Encode()
	a, b := c.For(p3, 3), c.For(bytes.Clone(p3), 4)
	if a.Map == nil || a.Map != b.Map {
		t.Errorf("P3: maps %p and %p, want one shared map", a.Map, b.Map)
	}
	if a := c.For(p3, 1); a.Err == nil {
		t.Error("an RGB profile on a grey image was used")
	}
	if a := c.For([]byte("not a profile at all, but long enough to have a header............................................................................................................"), 3); !errors.Is(a.Err, ErrProfile) {
		t.Errorf("junk: %v", a.Err)
	}
	cmyk := DisplayP3.Encode()
	copy(cmyk[16:], "CMYK")
	if a := c.For(cmyk, 3); a.Err == nil || !bytes.Contains([]byte(a.Err.Error()), []byte("CMYK")) {
		t.Errorf("CMYK: %v", a.Err)
	}
	if _, ok := c.CMYK(p3, image.NewCMYK(image.Rect(0, 0, 2, 2))); ok {
		t.Error("CMYK pixels converted through an RGB profile")
	}
	off := Converter{NoLittleCMS: true}
	if a := off.For(lutProfile(AdobeRGB), 3); a.Err == nil || a.Host != nil {
		t.Errorf("LUT profile without Little CMS: %+v", a)
	}
}

// TestGreyProfile converts a grey image through a gamma 2.2 grey profile.
func TestGreyProfile(t *testing.T) {
	icc := DisplayP3.Encode()
	p, _ := Parse(icc)
	p.ColorSpace = "GRAY"
	p.Curves = [3]*Curve{{Type: -1, Gamma: 2.2}}
	c, err := p.Conversion()
	if err != nil {
		t.Fatal(err)
	}
	src, _ := raster.NewImage(256, 1, 1)
	for i := range src.Pix {
		src.Pix[i] = byte(i)
	}
	dst, _ := raster.NewImage(256, 1, 1)
	if err := kernels.ApplyColorMap(dst, src, c.Map); err != nil {
		t.Fatal(err)
	}
	for i, v := range dst.Pix {
		want := 255 * kernels.SRGBEncode(math.Pow(float64(i)/255, 2.2))
		if math.Abs(float64(v)-want) > 0.62 {
			t.Fatalf("grey %d became %d, want %.2f", i, v, want)
		}
	}
}

// TestUnadaptedV2Colorants checks an old v2 profile whose colorants sum to a D65 media white
// and that has no chad tag: they are adapted to D50, so it converts as the adapted profile.
func TestUnadaptedV2Colorants(t *testing.T) {
	adapted, _ := Parse(AdobeRGB.Encode())
	old := *adapted
	old.Adaptation = nil
	toD65 := Bradford(D50, WhiteD65.xyz())
	for k := range old.Colorants {
		old.Colorants[k] = apply(toD65, old.Colorants[k])
	}
	old.White = WhiteD65.xyz()
	a, _ := adapted.Conversion()
	b, err := old.Conversion()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		for k := range 3 {
			if d := math.Abs(a.Matrix[i][k] - b.Matrix[i][k]); d > 1e-3 {
				t.Fatalf("matrix %d,%d: %g against %g", i, k, b.Matrix[i][k], a.Matrix[i][k])
			}
		}
	}
}

// TestParseRefusesHostileProfiles breaks each rule once.
func TestParseRefusesHostileProfiles(t *testing.T) {
	good := DisplayP3.Encode()
	be := binary.BigEndian
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tagAt := func(b []byte, sig string) int {
		n := int(be.Uint32(b[128:]))
		for i := range n {
			if string(b[132+12*i:][:4]) == sig {
				return 132 + 12*i
			}
		}
		t.Fatalf("no %s tag", sig)
		return 0
	}
	for name, b := range map[string][]byte{
		"short":          good[:100],
		"no signature":   mod(func(b []byte) []byte { copy(b[36:], "xxxx"); return b }),
		"size too large": mod(func(b []byte) []byte { be.PutUint32(b, uint32(len(b)+1)); return b }),
		"size too small": mod(func(b []byte) []byte { be.PutUint32(b, 100); return b }),
		"tag count":      mod(func(b []byte) []byte { be.PutUint32(b[128:], 0xffffffff); return b }),
		"tag offset":     mod(func(b []byte) []byte { be.PutUint32(b[tagAt(b, "rXYZ")+4:], 0xfffffff0); return b }),
		"tag length":     mod(func(b []byte) []byte { be.PutUint32(b[tagAt(b, "rTRC")+8:], 0xffffffff); return b }),
		"tiny tag":       mod(func(b []byte) []byte { be.PutUint32(b[tagAt(b, "gXYZ")+8:], 4); return b }),
		"curve type":     mod(func(b []byte) []byte { o := be.Uint32(b[tagAt(b, "rTRC")+4:]); copy(b[o:], "XYZ "); return b }),
		"para type":      mod(func(b []byte) []byte { o := be.Uint32(b[tagAt(b, "rTRC")+4:]); be.PutUint16(b[o+8:], 9); return b }),
		"curv count": mod(func(b []byte) []byte {
			o := be.Uint32(b[tagAt(b, "rTRC")+4:])
			copy(b[o:], "curv")
			be.PutUint32(b[o+8:], 0x7fffffff)
			return b
		}),
		"colorant type": mod(func(b []byte) []byte { o := be.Uint32(b[tagAt(b, "bXYZ")+4:]); copy(b[o:], "para"); return b }),
	} {
		if _, err := Parse(b); !errors.Is(err, ErrProfile) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Colorants that make no matrix to invert: a profile, but no conversion.
	flat := mod(func(b []byte) []byte {
		for _, sig := range []string{"rXYZ", "gXYZ", "bXYZ"} {
			o := be.Uint32(b[tagAt(b, sig)+4:])
			for i := range 3 {
				be.PutUint32(b[o+8+4*uint32(i):], 0x8000)
			}
		}
		return b
	})
	p, err := Parse(flat)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Conversion(); !errors.Is(err, ErrProfile) {
		t.Errorf("singular colorants: %v", err)
	}
}

// FuzzParse checks that no profile makes Parse, Conversion or the curves panic, and that
// every curve stays within 0..1.
func FuzzParse(f *testing.F) {
	for _, m := range standard {
		f.Add(m.Encode())
	}
	f.Add(lutProfile(AdobeRGB))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		for _, c := range p.Curves {
			if c == nil {
				continue
			}
			for _, x := range []float64{0, 0.001, 0.04, 0.5, 0.999, 1} {
				if y := c.Eval(x); !(y >= 0 && y <= 1) {
					t.Fatalf("curve %+v at %v: %v", c, x, y)
				}
			}
		}
		p.Conversion()
	})
}
