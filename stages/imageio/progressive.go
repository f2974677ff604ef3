package imageio

import (
	"encoding/binary"
	"math/bits"
)

// A progressive JPEG stores its coefficients in scans: first the DC coefficients (each
// block's average), then bands of AC coefficients and the refinements of their low bits, one
// component at a time. Decoding at 1/8 scale, libjpeg turns each 8×8 block of a component
// stored at full resolution into one pixel with its DC coefficient alone; only the
// subsampled components (the chroma of 4:2:0) are decoded at 2×2 or more and read AC
// coefficients. So the AC scans of the full-resolution components, most of a progressive
// file and most of its decoding time, do not change a 1/8-scale decode: dcOnly leaves them
// out.
//
// One thing would: libjpeg smooths the blocks of a progressive image whose low AC
// coefficients are not all known (it guesses them, and the DC too, from the neighbours: the
// "block smoothing" that makes a partly loaded image look less blocky). So in their place
// dcOnly writes, before EOI, one AC scan per such component that says "every AC coefficient
// is zero" in a few bytes (runs of end-of-band codes, with a Huffman table of its own):
// every coefficient is then known, no block is smoothed, and the decode reads the same DC
// coefficients as the whole file's, to the same pixels.

// dcOnly returns the progressive JPEG data with the AC scans of its full-resolution
// components replaced by all-zero ones, for a decode at 1/8 scale, and true; or nil and false when data is not a
// progressive Huffman JPEG whose segments all parse up to EOI (a truncated or damaged file
// is decoded whole, so that the damage is reported as before), or has no such scan.
func dcOnly(data []byte) ([]byte, bool) {
	var sof *progressiveFrame
	out := make([]byte, 0, len(data)/4)
	out = append(out, 0xFF, 0xD8)
	dropped := false
	ok := wholeSegments(data, func(g jpegSegment) bool {
		switch m := g.marker; {
		case m == 0xD9: // EOI
			return true
		case m == 0xC2:
			if sof = parseProgressiveFrame(data[g.start:g.end]); sof == nil {
				return false
			}
		case isSOF(m): // baseline, lossless, arithmetic: one pass, nothing to leave out
			return false
		case m == 0xDA:
			if sof == nil {
				return false
			}
			keep, ok := sof.needScan(data[g.start:g.end])
			if !ok {
				return false
			}
			sof.prog.scan(data[g.start:g.end])
			if !keep {
				dropped = true
				return true
			}
		}
		out = append(out, data[g.start:g.next]...)
		return true
	})
	if !ok || !dropped || !sof.prog.complete() {
		return nil, false
	}
	return append(sof.zeroScans(out), 0xFF, 0xD9), true
}

// jpegSegment is one marker segment: its code, the offset of its 0xFF, the end of its header
// (of the marker itself, for RSTn and TEM, which have no length) and the offset of the next
// marker (after the entropy-coded data, for a scan).
type jpegSegment struct {
	marker           byte
	start, end, next int
}

// wholeSegments calls fn for each marker segment of data after SOI, up to and including EOI,
// and reports whether they all parsed, the data reached EOI and fn returned true for each. It
// is the strict walk the short cuts need (jpegCost's tolerates damage, as decoders do).
func wholeSegments(data []byte, fn func(jpegSegment) bool) bool {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return false
	}
	pos := 2
	for {
		m, start, ok := nextMarker(data, pos)
		if !ok {
			return false
		}
		g := jpegSegment{marker: m, start: start, end: start + 2, next: start + 2}
		switch {
		case m == 0xD9:
			return fn(g)
		case m >= 0xD0 && m <= 0xD7, m == 0x01: // no length (RSTn outside a scan, TEM)
		default:
			if start+4 > len(data) {
				return false
			}
			g.end = start + 2 + int(binary.BigEndian.Uint16(data[start+2:]))
			if g.end > len(data) || g.end < start+4 {
				return false
			}
			g.next = g.end
			if m == 0xDA {
				if g.next = skipEntropy(data, g.end); g.next >= len(data) {
					return false // truncated in a scan
				}
			}
		}
		if !fn(g) {
			return false
		}
		pos = g.next
	}
}

// progression follows what a progressive JPEG's scans leave of each component's low AC
// coefficients: libjpeg smooths the blocks of an image whose coefficients 1 to 9 are not all
// known to their last bit when the file ends (libjpeg-turbo 2.1 reads 1 to 9, earlier ones 1
// to 5), and that smoothing changes the DC the 1/8 scale shows. The short cuts leave no
// coefficient unknown, so they give the whole file's pixels only for a file whose scans do
// the same: a damaged or unusual progression is decoded whole.
type progression struct {
	bits map[byte]*[10]int8 // per component id: the low bit known of coefficients 0-9, -1 none
}

func newProgression(comps []jpegComponent) *progression {
	p := &progression{bits: make(map[byte]*[10]int8, len(comps))}
	for _, c := range comps {
		b := &[10]int8{}
		for i := range b {
			b[i] = -1
		}
		p.bits[c.id] = b
	}
	return p
}

// scan records a scan header (FF DA, length, Ns, Ns × (id, tables), Ss, Se, Ah<<4|Al).
func (p *progression) scan(seg []byte) {
	n := int(seg[4])
	ss, se, al := int(seg[5+2*n]), int(seg[6+2*n]), int8(seg[7+2*n]&15)
	for i := range n {
		b := p.bits[seg[5+2*i]]
		if b == nil {
			continue
		}
		for k := ss; k <= min(se, 9); k++ {
			b[k] = al
		}
	}
}

// complete reports whether every component's coefficients 0 to 9 are known to the last bit.
func (p *progression) complete() bool {
	for _, b := range p.bits {
		for _, v := range b {
			if v != 0 {
				return false
			}
		}
	}
	return true
}

// nextMarker finds the marker at pos, after any fill bytes (0xFF), and returns its code and
// the offset of its 0xFF.
func nextMarker(data []byte, pos int) (code byte, start int, ok bool) {
	if pos >= len(data) || data[pos] != 0xFF {
		return 0, 0, false
	}
	for pos+1 < len(data) && data[pos+1] == 0xFF {
		pos++
	}
	if pos+1 >= len(data) || data[pos+1] == 0 {
		return 0, 0, false
	}
	return data[pos+1], pos, true
}

// progressiveFrame is what dcOnly needs of an SOF2 segment: the components, and which are
// stored at full resolution.
type progressiveFrame struct {
	comps []jpegComponent
	full  map[byte]bool // by component id
	prog  *progression
}

func parseProgressiveFrame(seg []byte) *progressiveFrame {
	comps, _, _ := frame(seg[4:], &jpegStats{}) // after FF C2 and the length
	if len(comps) == 0 {
		return nil
	}
	var maxH, maxV int
	for _, c := range comps {
		maxH, maxV = max(maxH, c.h), max(maxV, c.v)
	}
	f := &progressiveFrame{comps: comps, full: make(map[byte]bool, len(comps)), prog: newProgression(comps)}
	for _, c := range comps {
		f.full[c.id] = c.h == maxH && c.v == maxV
	}
	return f
}

// needScan reports whether a 1/8-scale decode reads the scan with header seg (FF DA,
// length, Ns, Ns × (id, tables), Ss, Se, Ah<<4|Al): every DC scan, and the AC scans of the
// subsampled components.
func (f *progressiveFrame) needScan(seg []byte) (keep, ok bool) {
	if len(seg) < 5 {
		return false, false
	}
	n := int(seg[4])
	if n < 1 || len(seg) < 5+2*n+3 {
		return false, false
	}
	if ss := seg[5+2*n]; ss == 0 {
		return true, true
	}
	for i := range n {
		full, known := f.full[seg[5+2*i]]
		if !known {
			return false, false
		}
		if !full {
			return true, true
		}
	}
	return false, true
}

// eobTable is a DHT segment defining AC table 0 as the 15 end-of-band run codes EOB0-EOB14
// (symbols 0x00, 0x10, ..., 0xE0), each 4 bits long: symbol r<<4 gets code r.
var eobTable = func() []byte {
	t := []byte{0xFF, 0xC4, 0, 2 + 1 + 16 + 15, 0x10}
	bits := make([]byte, 16)
	bits[3] = 15 // 15 codes of length 4
	t = append(t, bits...)
	for r := range 15 {
		t = append(t, byte(r<<4))
	}
	return t
}()

// zeroScans appends to out, for every full-resolution component, an AC scan (Ss 1, Se 63,
// no successive approximation) in which every block is empty, after the table it is coded
// with and a DRI that turns restart markers off (a later DRI would apply to these scans).
func (f *progressiveFrame) zeroScans(out []byte) []byte {
	out = append(out, 0xFF, 0xDD, 0, 4, 0, 0)
	out = append(out, eobTable...)
	for _, c := range f.comps {
		if !f.full[c.id] || c.blocks == 0 {
			continue
		}
		out = append(out, 0xFF, 0xDA, 0, 8, 1, c.id, 0x00, 1, 63, 0x00)
		var w bitWriter
		for left := c.blocks; left > 0; {
			// EOBr covers 2^r + (r extra bits) blocks: at most 32767, with r = 14.
			r := min(14, bits.Len64(uint64(left))-1)
			run := min(left, int64(1)<<(r+1)-1)
			w.put(uint32(r), 4)
			w.put(uint32(run-int64(1)<<r), r)
			left -= run
		}
		out = w.flush(out)
	}
	return out
}

// bitWriter packs entropy-coded bits most significant first, as JPEG stores them.
type bitWriter struct {
	bytes []byte
	acc   uint64
	n     int
}

func (w *bitWriter) put(v uint32, bits int) {
	w.acc = w.acc<<bits | uint64(v)&(1<<bits-1)
	w.n += bits
	for w.n >= 8 {
		w.n -= 8
		w.bytes = append(w.bytes, byte(w.acc>>w.n))
	}
}

// flush pads the last byte with one-bits and appends the bytes to out, with a zero after
// every 0xFF so that none reads as a marker.
func (w *bitWriter) flush(out []byte) []byte {
	if w.n > 0 {
		w.put(1<<(8-w.n)-1, 8-w.n)
	}
	for _, b := range w.bytes {
		out = append(out, b)
		if b == 0xFF {
			out = append(out, 0)
		}
	}
	return out
}
