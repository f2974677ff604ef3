package icc

import (
	"encoding/binary"
	"math"
)

// lutProfile writes the RGB space of m as a LUT-based profile: an A2B0 lut16Type tag (input
// tables holding the tone curve, a 2×2×2 table of the colorants' sums, which trilinear
// interpolation makes exactly the matrix, identity output tables), and no colorants or TRCs,
// so that only a full colour engine can read it.
func lutProfile(m MatrixProfile) []byte {
	be := binary.BigEndian
	cols := RGBToXYZ(m.Primaries, m.White)
	const n = 256
	lut := []byte("mft2\x00\x00\x00\x00")
	lut = append(lut, 3, 3, 2, 0)
	for i := range 9 { // the e matrix: identity
		v := int32(0)
		if i%4 == 0 {
			v = 65536
		}
		lut = be.AppendUint32(lut, uint32(v))
	}
	lut = be.AppendUint16(lut, n)
	lut = be.AppendUint16(lut, 2)
	for range 3 {
		for i := range n {
			lut = be.AppendUint16(lut, uint16(math.Round(m.TRC.Eval(float64(i)/(n-1))*65535)))
		}
	}
	// XYZ in lut16 is u1Fixed15: 1.0 is 0x8000.
	for r := range 2 {
		for g := range 2 {
			for b := range 2 {
				for i := range 3 {
					v := cols[i][0]*float64(r) + cols[i][1]*float64(g) + cols[i][2]*float64(b)
					lut = be.AppendUint16(lut, uint16(math.Round(min(max(v, 0), 65535.0/32768)*32768)))
				}
			}
		}
	}
	for range 3 {
		lut = be.AppendUint16(lut, 0)
		lut = be.AppendUint16(lut, 65535)
	}
	wtpt := []byte("XYZ \x00\x00\x00\x00")
	for _, c := range D50 {
		wtpt = be.AppendUint32(wtpt, uint32(s15Encode(c)))
	}
	desc := []byte("desc\x00\x00\x00\x00")
	text := "LUT " + m.Description + "\x00"
	desc = be.AppendUint32(desc, uint32(len(text)))
	desc = append(desc, text...)
	desc = append(desc, make([]byte, 4+4+2+1+67)...) // no Unicode, no ScriptCode
	for len(desc)%4 != 0 {
		desc = append(desc, 0)
	}
	for len(lut)%4 != 0 {
		lut = append(lut, 0)
	}
	tags := [][]byte{desc, wtpt, lut}
	sigs := []string{"desc", "wtpt", "A2B0"}
	start := 128 + 4 + 12*len(tags)
	table := be.AppendUint32(nil, uint32(len(tags)))
	var body []byte
	for i, t := range tags {
		table = append(table, sigs[i]...)
		table = be.AppendUint32(table, uint32(start+len(body)))
		table = be.AppendUint32(table, uint32(len(t)))
		body = append(body, t...)
	}
	h := make([]byte, 128)
	be.PutUint32(h[0:], uint32(start+len(body)))
	be.PutUint32(h[8:], 0x02100000)
	copy(h[12:], "mntrRGB XYZ ")
	copy(h[36:], "acsp")
	for i, c := range D50 {
		be.PutUint32(h[68+4*i:], uint32(s15Encode(c)))
	}
	return append(append(h, table...), body...)
}
