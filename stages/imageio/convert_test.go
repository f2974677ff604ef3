package imageio

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// randomImages returns one random image of every type FromImage has a fast path for, and
// one it has not, some of them sub-images with a non-zero origin.
func randomImages(rng *rand.Rand, w, h int) map[string]image.Image {
	fill := func(p []byte) {
		for i := range p {
			p[i] = uint8(rng.IntN(256))
		}
	}
	r := image.Rect(0, 0, w, h)
	out := map[string]image.Image{}
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		m := image.NewYCbCr(r, ratio)
		fill(m.Y)
		fill(m.Cb)
		fill(m.Cr)
		out["ycbcr-"+ratio.String()] = m
		out["ycbcr-sub-"+ratio.String()] = m.SubImage(image.Rect(3, 1, w-2, h-1))
	}
	nya := image.NewNYCbCrA(r, image.YCbCrSubsampleRatio420)
	fill(nya.Y)
	fill(nya.Cb)
	fill(nya.Cr)
	fill(nya.A)
	out["nycbcra"] = nya
	nyaOpaque := image.NewNYCbCrA(r, image.YCbCrSubsampleRatio444)
	fill(nyaOpaque.Y)
	for i := range nyaOpaque.A {
		nyaOpaque.A[i] = 0xff
	}
	out["nycbcra-opaque"] = nyaOpaque

	rgba := image.NewRGBA(r)
	for i := 0; i < len(rgba.Pix); i += 4 {
		a := uint8(rng.IntN(256))
		rgba.Pix[i+3] = a
		for j := range 3 {
			rgba.Pix[i+j] = uint8(rng.IntN(int(a) + 1)) // premultiplied: c ≤ a
		}
	}
	out["rgba"] = rgba
	out["rgba-sub"] = rgba.SubImage(image.Rect(1, 2, w-1, h))
	rgbaOpaque := image.NewRGBA(r)
	fill(rgbaOpaque.Pix)
	for i := 3; i < len(rgbaOpaque.Pix); i += 4 {
		rgbaOpaque.Pix[i] = 0xff
	}
	out["rgba-opaque"] = rgbaOpaque

	nrgba := image.NewNRGBA(r)
	fill(nrgba.Pix)
	out["nrgba"] = nrgba
	gray := image.NewGray(r)
	fill(gray.Pix)
	out["gray"] = gray
	out["gray-sub"] = gray.SubImage(image.Rect(2, 2, w, h))
	gray16 := image.NewGray16(r)
	fill(gray16.Pix)
	out["gray16"] = gray16
	cmyk := image.NewCMYK(r)
	fill(cmyk.Pix)
	out["cmyk"] = cmyk
	nrgba64 := image.NewNRGBA64(r)
	fill(nrgba64.Pix)
	out["nrgba64"] = nrgba64
	rgba64 := image.NewRGBA64(r)
	for i := 0; i < len(rgba64.Pix); i += 8 {
		a := uint16(rng.IntN(65536))
		for j := range 3 {
			c := uint16(rng.IntN(int(a) + 1))
			rgba64.Pix[i+2*j], rgba64.Pix[i+2*j+1] = uint8(c>>8), uint8(c)
		}
		rgba64.Pix[i+6], rgba64.Pix[i+7] = uint8(a>>8), uint8(a)
	}
	out["rgba64"] = rgba64

	pal := image.NewPaletted(r, palette.Plan9)
	fill(pal.Pix)
	out["paletted"] = pal
	trans := append(color.Palette{color.NRGBA{10, 20, 30, 0}, color.NRGBA{200, 100, 50, 128}}, palette.WebSafe...)
	palA := image.NewPaletted(r, trans)
	fill(palA.Pix) // also indexes past the palette's end
	out["paletted-alpha-short"] = palA
	out["alpha-generic"] = &image.Alpha{Pix: nrgba.Pix[:w*h], Stride: w, Rect: r}
	return out
}

func TestFromImageMatchesColorModels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range [][2]int{{17, 13}, {64, 33}} {
		for name, m := range randomImages(rng, size[0], size[1]) {
			t.Run(fmt.Sprintf("%s-%dx%d", name, size[0], size[1]), func(t *testing.T) {
				if pal, ok := m.(*image.Paletted); ok && len(pal.Palette) < 256 {
					// At panics on an index past the palette; the reference reads it as
					// opaque black, as FromImage does.
					pal = &image.Paletted{Pix: pal.Pix, Stride: pal.Stride, Rect: pal.Rect,
						Palette: append(append(color.Palette{}, pal.Palette...), make(color.Palette, 256-len(pal.Palette))...)}
					for i := len(m.(*image.Paletted).Palette); i < 256; i++ {
						pal.Palette[i] = color.NRGBA{0, 0, 0, 255}
					}
					m = pal
				}
				got := FromImage(m, nil)
				equalImages(t, got, reference(m))
			})
		}
	}
}

func TestToChannels(t *testing.T) {
	rgba := raster.Image{Pix: []byte{
		10, 20, 30, 255, 200, 100, 50, 0, 255, 255, 255, 128,
	}, Width: 3, Height: 1, Stride: 12, Channels: 4}
	bg := [3]uint8{0, 0, 255}

	rgb := ToChannels(rgba, 3, bg, nil)
	want := []byte{10, 20, 30, 0, 0, 255, 128, 128, 255}
	if string(rgb.Pix) != string(want) || rgb.Channels != 3 || rgb.Stride != 9 {
		t.Fatalf("flatten: got %v (stride %d), want %v", rgb.Pix, rgb.Stride, want)
	}
	gray := ToChannels(rgb, 1, bg, nil)
	for x := range 3 {
		c := color.RGBA{rgb.Pix[3*x], rgb.Pix[3*x+1], rgb.Pix[3*x+2], 255}
		if w := color.GrayModel.Convert(c).(color.Gray).Y; gray.Pix[x] != w {
			t.Fatalf("gray pixel %d = %d, want %d", x, gray.Pix[x], w)
		}
	}
	back := ToChannels(gray, 4, bg, nil)
	for x := range 3 {
		p := back.Pix[4*x : 4*x+4]
		if p[0] != gray.Pix[x] || p[1] != gray.Pix[x] || p[2] != gray.Pix[x] || p[3] != 255 {
			t.Fatalf("gray to RGBA pixel %d = %v", x, p)
		}
	}
	if same := ToChannels(rgb, 3, bg, nil); &same.Pix[0] != &rgb.Pix[0] {
		t.Fatal("ToChannels copied an image that already had the channels")
	}

	// A padded stride is honoured.
	padded := raster.Image{Pix: []byte{1, 2, 3, 99, 4, 5, 6, 99}, Width: 1, Height: 2, Stride: 4, Channels: 3}
	g := ToChannels(padded, 4, bg, nil)
	if string(g.Pix) != string([]byte{1, 2, 3, 255, 4, 5, 6, 255}) {
		t.Fatalf("padded: got %v", g.Pix)
	}
}

func TestPool(t *testing.T) {
	for _, n := range []int{1, 4095, 4096, 4097, 1 << 20, 3<<20 + 5, 36_000_000} {
		c := classSize(n)
		if c < n || c-n > max(n/4, 1<<minClassShift) || classSize(c) != c {
			t.Errorf("classSize(%d) = %d", n, c)
		}
	}
	var p Pool
	b := p.Get(10_000)
	if len(b) != 10_000 || cap(b) != classSize(10_000) {
		t.Fatalf("Get: len %d cap %d", len(b), cap(b))
	}
	p.Put(b)
	p.Put(make([]byte, 5000)) // not from Get: ignored
	if c := p.Get(9_000); len(c) != 9_000 || cap(c) != classSize(9_000) {
		t.Fatalf("Get after Put: len %d cap %d", len(c), cap(c))
	}
	var nilPool *Pool
	if b := nilPool.Get(100); len(b) != 100 {
		t.Fatal("nil pool Get")
	}
	nilPool.Put(b)
	if p.Get(0) != nil {
		t.Fatal("Get(0) allocated")
	}
}

// The pool keeps at most MaxBytes idle, lets the buffers idle longest go first, reuses the
// newest, and does not keep an outlier at all.
func TestPoolBounded(t *testing.T) {
	p := Pool{MaxBytes: 1 << 20}
	small := make([][]byte, 40)
	for i := range small {
		small[i] = p.Get(100_000 + i*1000) // classes of 104 KiB and up
	}
	for _, b := range small {
		p.Put(b)
		if p.Idle() > p.MaxBytes {
			t.Fatalf("%d bytes idle, over MaxBytes %d", p.Idle(), p.MaxBytes)
		}
	}
	if p.Idle() < p.MaxBytes/2 {
		t.Errorf("only %d bytes kept of %d", p.Idle(), p.MaxBytes)
	}
	// The last buffer given back is still there; the first ones are gone.
	last := small[len(small)-1]
	if b := p.Get(len(last)); &b[:1][0] != &last[:1][0] {
		t.Error("the newest buffer was not reused")
	}
	first := small[0]
	if b := p.Get(len(first)); &b[:1][0] == &first[:1][0] {
		t.Error("the oldest buffer was kept past the bound")
	}
	before := p.Idle()
	p.Put(p.Get(300_000)) // over a quarter of MaxBytes
	if p.Idle() != before {
		t.Errorf("an outlier was kept: idle %d, was %d", p.Idle(), before)
	}
}

// fromImageOwned gives what FromImage gives, in the image's own memory where it can.
func TestFromImageOwnedMatchesFromImage(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	r := image.Rect(0, 0, 37, 23)
	fill := func(pix []byte, bpp, alphaAt int, opaque bool) {
		for i := range pix {
			pix[i] = byte(rng.IntN(256))
		}
		for i := alphaAt; i < len(pix); i += bpp {
			switch {
			case opaque:
				pix[i] = 0xff
				if bpp == 8 {
					pix[i+1] = 0xff
				}
			case i/bpp%5 == 0:
				pix[i] = 0xff // some opaque pixels among the others
			}
		}
	}
	var cases []image.Image
	for _, opaque := range []bool{true, false} {
		nrgba, rgba := image.NewNRGBA(r), image.NewRGBA(r)
		fill(nrgba.Pix, 4, 3, opaque)
		fill(rgba.Pix, 4, 3, opaque)
		for i := 0; i < len(rgba.Pix); i += 4 { // premultiplied: colour at most alpha
			for j := range 3 {
				rgba.Pix[i+j] = min(rgba.Pix[i+j], rgba.Pix[i+3])
			}
		}
		n64, r64 := image.NewNRGBA64(r), image.NewRGBA64(r)
		fill(n64.Pix, 8, 6, opaque)
		fill(r64.Pix, 8, 6, opaque)
		for i := 0; i < len(r64.Pix); i += 8 {
			a := uint16(r64.Pix[i+6])<<8 | uint16(r64.Pix[i+7])
			for j := 0; j < 6; j += 2 {
				if c := uint16(r64.Pix[i+j])<<8 | uint16(r64.Pix[i+j+1]); c > a {
					r64.Pix[i+j], r64.Pix[i+j+1] = r64.Pix[i+6], r64.Pix[i+7]
				}
			}
		}
		cases = append(cases, nrgba, rgba, n64, r64)
	}
	gray, gray16 := image.NewGray(r), image.NewGray16(r)
	fill(gray.Pix, 1, 1<<30, false)
	fill(gray16.Pix, 2, 1<<30, false)
	cases = append(cases, gray, gray16, image.NewNRGBA(r).SubImage(image.Rect(3, 3, 20, 20)))
	for i, m := range cases {
		want := FromImage(m, nil)
		before := pixelsOf(m)
		got := fromImageOwned(cloneImage(m), nil)
		if got.Width != want.Width || got.Height != want.Height || got.Channels != want.Channels || !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("case %d (%T): %d×%d×%d, want %d×%d×%d, same pixels %v", i, m, got.Width, got.Height, got.Channels,
				want.Width, want.Height, want.Channels, bytes.Equal(got.Pix, want.Pix))
		}
		if !bytes.Equal(before, pixelsOf(m)) {
			t.Errorf("case %d: FromImage changed its input", i)
		}
	}
	// In place: the result is the image's own memory.
	m := image.NewNRGBA(r)
	if got := fromImageOwned(m, nil); &got.Pix[0] != &m.Pix[0] {
		t.Errorf("NRGBA copied")
	}
}

// pixelsOf copies the pixel bytes of an image of the standard library's types.
func pixelsOf(m image.Image) []byte {
	return bytes.Clone(reflect.ValueOf(m).Elem().FieldByName("Pix").Bytes())
}

// cloneImage copies m with its own pixel memory, so that converting it in place leaves m.
func cloneImage(m image.Image) image.Image {
	v := reflect.ValueOf(m).Elem()
	c := reflect.New(v.Type())
	c.Elem().Set(v)
	pix := c.Elem().FieldByName("Pix")
	pix.SetBytes(bytes.Clone(pix.Bytes()))
	return c.Interface().(image.Image)
}
