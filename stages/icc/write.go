package icc

import (
	"bytes"
	"encoding/binary"
	"math"
	"unicode/utf16"
)

// MatrixProfile describes a matrix/TRC RGB display profile, which Encode writes as an ICC
// v4.3 profile: what an output in a standard space embeds, and what the tests convert.
type MatrixProfile struct {
	Description string
	Primaries   [3]Chromaticity
	White       Chromaticity
	TRC         Curve // the same tone curve for the three channels
}

// The sRGB tone curve as a parametric curve (type 3).
var srgbTRC = Curve{Type: 3, Params: []float64{2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045}}

// Standard RGB spaces.
var (
	SRGB      = MatrixProfile{"sRGB", SRGBPrimaries, WhiteD65, srgbTRC}
	DisplayP3 = MatrixProfile{"Display P3", DisplayP3Primaries, WhiteD65, srgbTRC}
	// AdobeRGB is Adobe RGB (1998): gamma 563/256, as its specification rounds 2.2.
	AdobeRGB = MatrixProfile{"Adobe RGB (1998)", AdobeRGBPrimaries, WhiteD65, Curve{Type: -1, Gamma: 563.0 / 256}}
	// ProPhoto is ROMM RGB with a pure gamma of 1.8, as most ProPhoto profiles in use.
	ProPhoto = MatrixProfile{"ProPhoto RGB", ProPhotoPrimaries, WhiteD50, Curve{Type: -1, Gamma: 1.8}}
)

// Encode writes the profile: header, desc, cprt, wtpt (D50, as in v4), chad (the Bradford
// adaptation from the space's white), the D50-adapted colorants and the tone curves (one tag
// shared by the three).
func (m MatrixProfile) Encode() []byte {
	be := binary.BigEndian
	xyzTag := func(v XYZ) []byte {
		b := []byte("XYZ \x00\x00\x00\x00")
		for _, c := range v {
			b = be.AppendUint32(b, uint32(s15Encode(c)))
		}
		return b
	}
	mluc := func(s string) []byte {
		u := utf16.Encode([]rune(s))
		b := []byte("mluc\x00\x00\x00\x00")
		b = be.AppendUint32(b, 1)  // records
		b = be.AppendUint32(b, 12) // record size
		b = append(b, "enUS"...)
		b = be.AppendUint32(b, uint32(2*len(u)))
		b = be.AppendUint32(b, 28)
		for _, c := range u {
			b = be.AppendUint16(b, c)
		}
		return b
	}
	w := m.White.xyz()
	chad := Bradford(w, D50)
	sf32 := []byte("sf32\x00\x00\x00\x00")
	for i := range 9 {
		sf32 = be.AppendUint32(sf32, uint32(s15Encode(chad[i/3][i%3])))
	}
	cols := RGBToXYZ(m.Primaries, m.White)
	trc := m.TRC.encode()
	type tag struct {
		sig  string
		data []byte
	}
	tags := []tag{
		{"desc", mluc(m.Description)}, {"cprt", mluc("No copyright, use freely")},
		{"wtpt", xyzTag(D50)}, {"chad", sf32},
		{"rXYZ", xyzTag(XYZ{cols[0][0], cols[1][0], cols[2][0]})},
		{"gXYZ", xyzTag(XYZ{cols[0][1], cols[1][1], cols[2][1]})},
		{"bXYZ", xyzTag(XYZ{cols[0][2], cols[1][2], cols[2][2]})},
		{"rTRC", trc}, {"gTRC", trc}, {"bTRC", trc},
	}
	var body bytes.Buffer
	offsets := map[string]int{}
	table := make([]byte, 0, 4+12*len(tags))
	table = be.AppendUint32(table, uint32(len(tags)))
	start := 128 + 4 + 12*len(tags)
	for _, t := range tags {
		off, ok := offsets[string(t.data)] // identical tags share their bytes
		if !ok {
			off = start + body.Len()
			offsets[string(t.data)] = off
			body.Write(t.data)
			for body.Len()%4 != 0 {
				body.WriteByte(0)
			}
		}
		table = append(table, t.sig...)
		table = be.AppendUint32(table, uint32(off))
		table = be.AppendUint32(table, uint32(len(t.data)))
	}
	h := make([]byte, 128)
	be.PutUint32(h[0:], uint32(start+body.Len()))
	be.PutUint32(h[8:], 0x04300000)
	copy(h[12:], "mntrRGB XYZ ")
	be.PutUint16(h[24:], 2024) // creation date: 2024-01-01
	be.PutUint16(h[26:], 1)
	be.PutUint16(h[28:], 1)
	copy(h[36:], "acsp")
	for i, c := range D50 {
		be.PutUint32(h[68+4*i:], uint32(s15Encode(c)))
	}
	out := append(h, table...)
	return append(out, body.Bytes()...)
}

func s15Encode(v float64) int32 { return int32(math.Round(v * 65536)) }

// encode writes the curve as a curveType or parametricCurveType tag.
func (c Curve) encode() []byte {
	be := binary.BigEndian
	if c.Type >= 0 {
		b := []byte("para\x00\x00\x00\x00")
		b = be.AppendUint16(b, uint16(c.Type))
		b = be.AppendUint16(b, 0)
		for _, p := range c.Params {
			b = be.AppendUint32(b, uint32(s15Encode(p)))
		}
		return b
	}
	b := []byte("curv\x00\x00\x00\x00")
	if c.Table != nil {
		b = be.AppendUint32(b, uint32(len(c.Table)))
		for _, v := range c.Table {
			b = be.AppendUint16(b, uint16(math.Round(min(max(v, 0), 1)*65535)))
		}
		return b
	}
	b = be.AppendUint32(b, 1)
	return be.AppendUint16(b, uint16(math.Round(c.Gamma*256)))
}
