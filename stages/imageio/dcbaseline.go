package imageio

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// When no component of a progressive JPEG reads AC coefficients at 1/8 scale (4:4:4, 4:2:2,
// 4:4:0, 4:1:1 and grey; not 4:2:0, whose chroma libjpeg-turbo decodes at 2×2), the DC
// coefficients alone make the 1/8 image. dcBaseline decodes them from the DC scans and
// writes them again as a baseline JPEG whose blocks have no AC coefficient: libjpeg-turbo
// decodes that one row of blocks at a time, instead of holding every coefficient of the
// image until the last scan (72 MB for a 5640×3172 photo), and faster still than the DC
// scans alone. The pixels are the same, bit for bit: the frame, its quantisation tables and
// every DC coefficient are the original's.

// dcBaseline returns the baseline JPEG made of data's DC coefficients and true, or nil and
// false when data is not such a progressive JPEG or anything in it does not parse.
func dcBaseline(data []byte) ([]byte, bool) {
	t := dcTranscoder{data: data}
	if err := t.read(); err != nil {
		return nil, false
	}
	return t.write()
}

var errDC = errors.New("not transcodable")

// dcComponent is one component of the frame and the DC coefficient of each of its blocks,
// over the blocks of whole MCUs (an interleaved scan codes the padding blocks too).
type dcComponent struct {
	id, hv, tq byte
	h, v       int
	bw, bh     int // the component's own blocks, across and down
	pw, ph     int // the blocks of whole MCUs
	dc         []int32
}

type dcTranscoder struct {
	data        []byte
	header      []byte // DQT and APPn segments, as found
	width, high int
	mcusX       int
	mcusY       int
	comps       []dcComponent
	tables      [4]*huffDecoder // DC tables, as defined so far
	restart     int
	prog        *progression
}

func (t *dcTranscoder) read() error {
	d, sof := t.data, false
	var err error
	ok := wholeSegments(d, func(g jpegSegment) bool {
		seg := d[min(g.start+4, g.end):g.end] // the segment's contents, after its length
		switch m := g.marker; {
		case m == 0xD9:
			return sof && t.prog.complete()
		case m == 0xC2:
			if sof {
				return false
			}
			sof, err = true, t.frame(seg)
		case isSOF(m):
			return false
		case m == 0xDB, m >= 0xE0 && m <= 0xEF:
			// Quantisation tables, and the application segments: JFIF and Adobe's say
			// how the components make colours (an Adobe segment can say RGB).
			t.header = append(t.header, d[g.start:g.end]...)
		case m == 0xC4:
			err = t.defineTables(seg)
		case m == 0xDD:
			if len(seg) < 2 {
				return false
			}
			t.restart = int(binary.BigEndian.Uint16(seg))
		case m == 0xDA:
			if !sof {
				return false
			}
			err = t.scan(d[g.start:g.end], g.end, g.next)
		}
		return err == nil
	})
	if !ok {
		return errDC
	}
	return nil
}

// frame reads SOF2: 8-bit samples, and no component that libjpeg-turbo decodes at 2×2 at
// 1/8 scale (it scales a component up while both its sampling factors divide the largest
// an even number of times: the chroma of 4:2:0).
func (t *dcTranscoder) frame(seg []byte) error {
	if len(seg) < 6 || seg[0] != 8 {
		return errDC
	}
	t.high, t.width = int(binary.BigEndian.Uint16(seg[1:])), int(binary.BigEndian.Uint16(seg[3:]))
	n := int(seg[5])
	if t.width == 0 || t.high == 0 || n < 1 || n > 4 || len(seg) < 6+3*n {
		return errDC
	}
	hmax, vmax := 1, 1
	for i := range n {
		c := seg[6+3*i:]
		h, v := int(c[1]>>4), int(c[1]&15)
		if h < 1 || h > 4 || v < 1 || v > 4 || c[2] > 3 {
			return errDC
		}
		t.comps = append(t.comps, dcComponent{id: c[0], hv: c[1], tq: c[2], h: h, v: v})
		hmax, vmax = max(hmax, h), max(vmax, v)
	}
	t.mcusX, t.mcusY = ceilDiv(t.width, 8*hmax), ceilDiv(t.high, 8*vmax)
	blocksPerMCU := 0
	for i := range t.comps {
		c := &t.comps[i]
		if hmax%(2*c.h) == 0 && vmax%(2*c.v) == 0 {
			return errDC // read at 2×2: needs its AC coefficients
		}
		c.bw, c.bh = ceilDiv(ceilDiv(t.width*c.h, hmax), 8), ceilDiv(ceilDiv(t.high*c.v, vmax), 8)
		c.pw, c.ph = t.mcusX*c.h, t.mcusY*c.v
		blocksPerMCU += c.h * c.v
	}
	// Every block's DC takes at least one bit of the file: a frame of more blocks than that
	// is not whole, and is not worth the arrays.
	if blocksPerMCU > 10 || int64(t.mcusX)*int64(t.mcusY)*int64(blocksPerMCU) > 8*int64(len(t.data)) {
		return errDC
	}
	ids := make([]jpegComponent, len(t.comps))
	for i := range t.comps {
		c := &t.comps[i]
		c.dc = make([]int32, c.pw*c.ph)
		ids[i].id = c.id
	}
	t.prog = newProgression(ids)
	return nil
}

// defineTables reads a DHT segment's DC tables; its AC tables are not needed.
func (t *dcTranscoder) defineTables(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return errDC
		}
		class, id := seg[0]>>4, seg[0]&15
		n := 0
		for _, c := range seg[1:17] {
			n += int(c)
		}
		if class > 1 || id > 3 || len(seg) < 17+n {
			return errDC
		}
		if class == 0 {
			hd, err := newHuffDecoder(seg[1:17], seg[17:17+n])
			if err != nil {
				return err
			}
			t.tables[id] = hd
		}
		seg = seg[17+n:]
	}
	return nil
}

// scan reads a scan's header (hdr, from its FF DA) and, for a DC scan, its coefficients from
// data[from:to].
func (t *dcTranscoder) scan(hdr []byte, from, to int) error {
	seg := hdr[4:]
	if len(seg) < 1 {
		return errDC
	}
	n := int(seg[0])
	if n < 1 || len(seg) < 1+2*n+3 {
		return errDC
	}
	ss, se, ah, al := seg[1+2*n], seg[2+2*n], seg[3+2*n]>>4, seg[3+2*n]&15
	t.prog.scan(hdr)
	if ss != 0 {
		return nil // an AC scan: not read at 1/8
	}
	if se != 0 || al > 13 {
		return errDC
	}
	comps := make([]*dcComponent, n)
	tables := make([]*huffDecoder, n)
	for i := range n {
		id, td := seg[1+2*i], seg[2+2*i]>>4
		for j := range t.comps {
			if t.comps[j].id == id {
				comps[i] = &t.comps[j]
			}
		}
		if comps[i] == nil || td > 3 || (ah == 0 && t.tables[td] == nil) {
			return errDC
		}
		if ah == 0 {
			tables[i] = t.tables[td]
		}
	}
	r := bitReader{data: t.data[from:to]}
	return t.dcScan(&r, comps, tables, ah, al)
}

// dcScan decodes one DC scan: first pass (ah 0: Huffman-coded differences, shifted left by
// al) or refinement (one raw bit per block, at bit al).
func (t *dcTranscoder) dcScan(r *bitReader, comps []*dcComponent, tables []*huffDecoder, ah, al byte) error {
	var units []dcUnit // the blocks of one MCU, or the one block of a non-interleaved scan
	total := 0
	if len(comps) == 1 {
		c := comps[0]
		units = []dcUnit{{c: 0}}
		total = c.bw * c.bh
	} else {
		for i, c := range comps {
			for y := range c.v {
				for x := range c.h {
					units = append(units, dcUnit{c: i, x: x, y: y})
				}
			}
		}
		total = t.mcusX * t.mcusY
	}
	preds := make([]int32, len(comps))
	for k := range total {
		if t.restart > 0 && k > 0 && k%t.restart == 0 {
			if err := r.restart(); err != nil {
				return err
			}
			clear(preds)
		}
		for _, u := range units {
			c := comps[u.c]
			var i int
			if len(comps) == 1 {
				i = (k/c.bw)*c.pw + k%c.bw
			} else {
				mx, my := k%t.mcusX, k/t.mcusX
				i = (my*c.v+u.y)*c.pw + mx*c.h + u.x
			}
			if ah != 0 {
				b, err := r.bit()
				if err != nil {
					return err
				}
				c.dc[i] |= int32(b) << al
				continue
			}
			s, err := tables[u.c].decode(r)
			if err != nil || s > 11 {
				return errDC
			}
			diff, err := r.receive(int(s))
			if err != nil {
				return err
			}
			preds[u.c] += diff
			c.dc[i] = preds[u.c] << al
		}
	}
	return nil
}

type dcUnit struct{ c, x, y int }

// write makes the baseline JPEG: SOI, the application segments and quantisation tables, SOF0 with the original's
// components, a DC table and an AC table of one code (end of block), one scan of every
// component. It fails for a difference beyond the 11 bits of an 8-bit JPEG's DC, which only
// a damaged file has.
func (t *dcTranscoder) write() ([]byte, bool) {
	out := make([]byte, 0, 1024+len(t.comps[0].dc))
	out = append(out, 0xFF, 0xD8)
	out = append(out, t.header...)
	out = append(out, 0xFF, 0xC0, 0, byte(8+3*len(t.comps)), 8, byte(t.high>>8), byte(t.high), byte(t.width>>8), byte(t.width), byte(len(t.comps)))
	for _, c := range t.comps {
		out = append(out, c.id, c.hv, c.tq)
	}
	out = append(out, dcTables...)
	out = append(out, 0xFF, 0xDA, 0, byte(6+2*len(t.comps)), byte(len(t.comps)))
	for _, c := range t.comps {
		out = append(out, c.id, 0x00)
	}
	out = append(out, 0, 63, 0)
	var w bitWriter
	preds := make([]int32, len(t.comps))
	block := func(ci, i int) bool {
		v := t.comps[ci].dc[i]
		if !putDC(&w, v-preds[ci]) {
			return false
		}
		preds[ci] = v
		w.put(0, 1) // end of block: the AC table's one code
		return true
	}
	if c := &t.comps[0]; len(t.comps) == 1 {
		// One component: its own blocks in raster order, whatever its sampling factors.
		for y := range c.bh {
			for x := range c.bw {
				if !block(0, y*c.pw+x) {
					return nil, false
				}
			}
		}
		return append(w.flush(out), 0xFF, 0xD9), true
	}
	for my := range t.mcusY {
		for mx := range t.mcusX {
			for ci := range t.comps {
				c := &t.comps[ci]
				for y := range c.v {
					row := (my*c.v + y) * c.pw
					for x := range c.h {
						if !block(ci, row+mx*c.h+x) {
							return nil, false
						}
					}
				}
			}
		}
	}
	return append(w.flush(out), 0xFF, 0xD9), true
}

// dcTables is a DHT segment with the standard luminance DC table (JPEG Annex K.3, categories
// 0-11) as table 0 and, as AC table 0, one code of one bit for end of block.
var dcTables = func() []byte {
	b := []byte{0xFF, 0xC4, 0, 2 + 17 + 12 + 17 + 1, 0x00}
	b = append(b, stdDCBits[:]...)
	for s := range 12 {
		b = append(b, byte(s))
	}
	b = append(b, 0x10, 1)
	b = append(b, make([]byte, 15)...)
	return append(b, 0x00)
}()

var stdDCBits = [16]byte{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}

// stdDCCodes are the codes and lengths of stdDCBits' categories 0-11.
var stdDCCodes = func() (codes [12][2]uint32) {
	code, s := uint32(0), 0
	for l := 1; l <= 16; l++ {
		for range stdDCBits[l-1] {
			codes[s] = [2]uint32{code, uint32(l)}
			code++
			s++
		}
		code <<= 1
	}
	return codes
}()

// putDC writes a DC difference: its category's code, then its low bits (one less, for a
// negative difference, as JPEG codes them); false beyond category 11.
func putDC(w *bitWriter, diff int32) bool {
	a := diff
	if a < 0 {
		a = -a
	}
	s := bits.Len32(uint32(a))
	if s > 11 {
		return false
	}
	c := stdDCCodes[s]
	w.put(c[0], int(c[1]))
	if s > 0 {
		v := diff
		if diff < 0 {
			v = diff - 1
		}
		w.put(uint32(v), s)
	}
	return true
}

// huffDecoder decodes one Huffman table: codes of up to lookBits bits from a table indexed
// by the next lookBits bits, longer ones length by length.
type huffDecoder struct {
	look    [1 << lookBits]uint16 // symbol<<8 | code length; 0 for a longer code
	maxCode [17]int32             // the largest code of each length, -1 if none
	valPtr  [17]int32             // the index in vals of each length's first code, less that code
	vals    []byte
}

const lookBits = 9

func newHuffDecoder(counts, vals []byte) (*huffDecoder, error) {
	h := &huffDecoder{vals: vals}
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		h.maxCode[l] = -1
		if n > 0 && code+n >= 1<<l {
			return nil, errDC // more codes than the length has (all ones is no code, as libjpeg says)
		}
		if n > 0 {
			h.valPtr[l] = k - code
			if l <= lookBits {
				for c := code; c < code+n; c++ {
					if int(k+c-code) >= len(vals) {
						return nil, errDC
					}
					first := c << (lookBits - l)
					for j := range int32(1) << (lookBits - l) {
						h.look[first+j] = uint16(vals[k+c-code])<<8 | uint16(l)
					}
				}
			}
			code += n
			k += n
			h.maxCode[l] = code - 1
		}
		code <<= 1
	}
	return h, nil
}

func (h *huffDecoder) decode(r *bitReader) (byte, error) {
	if r.n < 16 {
		r.fill()
	}
	if e := h.look[r.acc>>(64-lookBits)]; e != 0 && uint(e&0xff) <= r.n {
		r.skip(uint(e & 0xff))
		return byte(e >> 8), nil
	}
	code := int32(0)
	for l := 1; l <= 16; l++ {
		b, err := r.bits(1)
		if err != nil {
			return 0, err
		}
		code = code<<1 | int32(b)
		if code <= h.maxCode[l] {
			i := h.valPtr[l] + code
			if i < 0 || int(i) >= len(h.vals) {
				return 0, errDC
			}
			return h.vals[i], nil
		}
	}
	return 0, errDC
}

// bitReader reads a scan's entropy-coded bits, most significant first, skipping the zero
// stuffed after each 0xFF. It holds up to 64 bits ahead, from the top of acc; a marker ends
// the bits until restart is called.
type bitReader struct {
	data []byte
	pos  int
	acc  uint64
	n    uint // bits held
}

// fill reads bytes into acc while it has room, up to a marker or the end of the data.
func (r *bitReader) fill() {
	for r.n <= 56 && r.pos < len(r.data) {
		b := r.data[r.pos]
		if b == 0xFF {
			if r.pos+1 >= len(r.data) || r.data[r.pos+1] != 0 {
				return // a marker where bits were due, or the end
			}
			r.pos++
		}
		r.pos++
		r.acc |= uint64(b) << (56 - r.n)
		r.n += 8
	}
}

func (r *bitReader) skip(k uint) { r.acc <<= k; r.n -= k }

// bits reads k bits (at most 16).
func (r *bitReader) bits(k uint) (uint32, error) {
	if r.n < k {
		r.fill()
		if r.n < k {
			return 0, errDC
		}
	}
	v := uint32(r.acc >> (64 - k))
	r.skip(k)
	return v, nil
}

func (r *bitReader) bit() (uint32, error) { return r.bits(1) }

// receive reads s bits and extends them to a signed difference, as JPEG's RECEIVE and
// EXTEND do.
func (r *bitReader) receive(s int) (int32, error) {
	if s == 0 {
		return 0, nil
	}
	u, err := r.bits(uint(s))
	if err != nil {
		return 0, err
	}
	v := int32(u)
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v, nil
}

// restart drops the padding bits left in the last byte and reads past the restart marker
// that must follow; whole bytes before it are damage.
func (r *bitReader) restart() error {
	if r.n >= 8 {
		return errDC
	}
	r.acc, r.n = 0, 0
	for r.pos+1 < len(r.data) && r.data[r.pos] == 0xFF && r.data[r.pos+1] == 0xFF {
		r.pos++ // fill bytes
	}
	if r.pos+1 >= len(r.data) || r.data[r.pos] != 0xFF || r.data[r.pos+1] < 0xD0 || r.data[r.pos+1] > 0xD7 {
		return errDC
	}
	r.pos += 2
	return nil
}
