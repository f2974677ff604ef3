package imageio

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

func xmpPacket(o string) []byte {
	return []byte(`<?xpacket begin=""?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description ` + o +
		`/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`)
}

func withJPEGXMP(jpg, packet []byte) []byte {
	payload := append([]byte("http://ns.adobe.com/xap/1.0/\x00"), packet...)
	var b bytes.Buffer
	b.Write(jpg[:2])
	b.Write([]byte{0xff, 0xe1})
	binary.Write(&b, binary.BigEndian, uint16(len(payload)+2))
	b.Write(payload)
	b.Write(jpg[2:])
	return b.Bytes()
}

func withPNGXMP(p, packet []byte) []byte {
	const ihdrEnd = 8 + 25
	body := append([]byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"), packet...)
	out := append([]byte{}, p[:ihdrEnd]...)
	out = append(out, pngChunk("iTXt", body)...)
	return append(out, p[ihdrEnd:]...)
}

// XMP's tiff:Orientation turns a JPEG or PNG without EXIF orientation, as an attribute or an
// element; EXIF, where present, decides.
func TestXMPOrientation(t *testing.T) {
	src := photo(rand.New(rand.NewPCG(95, 96)), 20, 12)
	jpg, png := encodeJPEG(t, src, 90), encodePNG(t, src)
	for _, c := range []struct {
		name string
		data []byte
		want int
	}{
		{"attr.jpg", withJPEGXMP(jpg, xmpPacket(`tiff:Orientation="6"`)), 6},
		{"elem.png", withPNGXMP(png, xmpPacket(`><tiff:Orientation>8</tiff:Orientation`)), 8},
		{"exif-wins.jpg", withJPEGExif(withJPEGXMP(jpg, xmpPacket(`tiff:Orientation="6"`)), 3, binary.BigEndian), 3},
		{"bad.png", withPNGXMP(png, xmpPacket(`tiff:Orientation="9"`)), 1},
	} {
		got, err := (&Decoder{PureGo: true}).DecodeBytes(c.name, c.data)
		if err != nil {
			t.Fatal(err)
		}
		w, h := 20, 12
		if c.want >= 5 {
			w, h = 12, 20
		}
		if got.Orientation != c.want || got.Image.Width != w || got.Image.Height != h {
			t.Errorf("%s: orientation %d, %d×%d; want %d", c.name, got.Orientation, got.Image.Width, got.Image.Height, c.want)
		}
	}
}
