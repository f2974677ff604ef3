package imageio

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// The cost of a JPEG is not its pixel count. A progressive JPEG is decoded in scans, and every
// scan visits every 8×8 block of the components it covers; a scan can cost a few bytes (one
// end-of-band run covers 32767 blocks), so a 156 KB file of thousands of scans kept Go's
// image/jpeg busy for 20 seconds. Before either decoder sees a JPEG, jpegCost walks its
// markers, which costs one pass over the bytes, and the Decoder refuses it when the walk finds
// more marker segments or scans than its limits, or scans that would visit each block more
// than maxBlockPasses times over.

// maxBlockPasses bounds the work of a JPEG's scans: the blocks they visit, summed over the
// scans, may be at most this many times the blocks of the image. A baseline JPEG visits each
// block once; the progression libjpeg writes by default about 5 times, and a grey progressive
// JPEG of N scans N times. At Go's image/jpeg's 70 ns a visit, a 100-megapixel grey image at
// the limit costs about 3.5 s.
const maxBlockPasses = 32

// jpegStats is what a walk over a JPEG's markers found.
type jpegStats struct {
	sof        byte // the frame's marker (0xc0 baseline, 0xc2 progressive, ...); 0 if none
	precision  int  // bits per sample
	components int
	markers    int   // marker segments, not counting the restart markers inside scans
	scans      int   // start-of-scan segments
	blocks     int64 // 8×8 blocks of the frame, over all components
	visits     int64 // blocks the scans visit, summed over the scans
}

// jpegLimits are a walk's limits; a negative value means none.
type jpegLimits struct {
	markers, scans int
}

type jpegComponent struct {
	id     byte
	h, v   int   // sampling factors
	blocks int64 // 8×8 blocks of the component alone
}

// jpegCost walks the markers of a JPEG from its start to its end-of-image marker and returns
// what it found, or an error wrapping ErrTooComplex as soon as a limit is passed, so that a
// refusal costs no more than the bytes up to that point. A damaged structure ends the walk
// without an error: refusing damaged files is the decoders' job.
func jpegCost(data []byte, lim jpegLimits) (jpegStats, error) {
	var s jpegStats
	if len(data) < 2 || data[0] != 0xff || data[1] != 0xd8 {
		return s, nil
	}
	var comps []jpegComponent
	var mcus int64 // MCUs of an interleaved scan
	var mcuBlocks int64
	p := 2
	for p+1 < len(data) {
		if data[p] != 0xff {
			// Bytes between segments: decoders skip them up to the next marker.
			i := bytes.IndexByte(data[p:], 0xff)
			if i < 0 {
				break
			}
			p += i
			continue
		}
		marker := data[p+1]
		switch {
		case marker == 0xff: // fill byte
			p++
			continue
		case marker == 0x00:
			p += 2
			continue
		}
		p += 2
		if s.markers++; lim.markers >= 0 && s.markers > lim.markers {
			return s, fmt.Errorf("%w: jpeg: more than %d marker segments", ErrTooComplex, lim.markers)
		}
		switch {
		case marker == 0xd9: // end of image
			return s, nil
		case marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8): // no length
			continue
		}
		if p+2 > len(data) {
			return s, nil
		}
		n := int(binary.BigEndian.Uint16(data[p:]))
		if n < 2 || p+n > len(data) {
			return s, nil
		}
		seg := data[p+2 : p+n]
		p += n
		switch {
		case isSOF(marker) && s.sof == 0:
			s.sof = marker
			comps, mcus, mcuBlocks = frame(seg, &s)
		case marker == 0xda:
			if s.scans++; lim.scans >= 0 && s.scans > lim.scans {
				return s, fmt.Errorf("%w: jpeg: more than %d scans (a progressive JPEG has about 10)", ErrTooComplex, lim.scans)
			}
			s.visits += scanBlocks(seg, comps, mcus, mcuBlocks)
			if lim.scans >= 0 && s.blocks > 0 && s.visits > maxBlockPasses*s.blocks {
				return s, fmt.Errorf("%w: jpeg: its %d scans visit each 8×8 block more than %d times (a progressive JPEG: about 5)",
					ErrTooComplex, s.scans, maxBlockPasses)
			}
			p = skipEntropy(data, p)
		}
	}
	return s, nil
}

// isSOF reports whether marker starts a frame: SOF0 to SOF15 but DHT (c4), JPG (c8) and
// DAC (cc).
func isSOF(marker byte) bool {
	return marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc
}

// frame reads a start-of-frame segment into s and returns its components, and the MCUs of an
// interleaved scan and the blocks of one MCU.
func frame(seg []byte, s *jpegStats) (comps []jpegComponent, mcus, mcuBlocks int64) {
	if len(seg) < 6 {
		return nil, 0, 0
	}
	s.precision = int(seg[0])
	height, width := int64(binary.BigEndian.Uint16(seg[1:])), int64(binary.BigEndian.Uint16(seg[3:]))
	n := int(seg[5])
	if len(seg) < 6+3*n {
		return nil, 0, 0
	}
	s.components = n
	hmax, vmax := 1, 1
	for i := range n {
		c := seg[6+3*i:]
		h, v := max(int(c[1]>>4), 1), max(int(c[1]&15), 1)
		comps = append(comps, jpegComponent{id: c[0], h: h, v: v})
		hmax, vmax = max(hmax, h), max(vmax, v)
	}
	for i := range comps {
		c := &comps[i]
		cw := ceilDiv64(width*int64(c.h), int64(hmax))
		ch := ceilDiv64(height*int64(c.v), int64(vmax))
		c.blocks = ceilDiv64(cw, 8) * ceilDiv64(ch, 8)
		s.blocks += c.blocks
		mcuBlocks += int64(c.h * c.v)
	}
	mcus = ceilDiv64(width, int64(8*hmax)) * ceilDiv64(height, int64(8*vmax))
	return comps, mcus, mcuBlocks
}

// scanBlocks is the number of blocks a scan visits: a scan of one component visits that
// component's blocks, an interleaved scan every MCU of the components it names.
func scanBlocks(seg []byte, comps []jpegComponent, mcus, mcuBlocks int64) int64 {
	if len(seg) < 1 {
		return 0
	}
	n := int(seg[0])
	if len(seg) < 1+2*n {
		return 0
	}
	var blocks, perMCU int64
	for i := range n {
		id := seg[1+2*i]
		for _, c := range comps {
			if c.id == id {
				blocks += c.blocks
				perMCU += int64(c.h * c.v)
				break
			}
		}
	}
	if n > 1 {
		return mcus * perMCU
	}
	return blocks
}

// skipEntropy returns the position of the first marker after the entropy-coded data that
// starts at p: a 0xff followed by neither a stuffed zero nor a restart marker.
func skipEntropy(data []byte, p int) int {
	for {
		i := bytes.IndexByte(data[p:], 0xff)
		if i < 0 {
			return len(data)
		}
		p += i
		q := p + 1
		for q < len(data) && data[q] == 0xff {
			q++
		}
		if q >= len(data) {
			return len(data)
		}
		if m := data[q]; m == 0x00 || (m >= 0xd0 && m <= 0xd7) {
			p = q + 1
			continue
		}
		return q - 1
	}
}

func ceilDiv64(a, b int64) int64 { return (a + b - 1) / b }

// jpegFeature names what makes a JPEG one that Go's decoder does not read, from its frame, or
// returns "".
func jpegFeature(s jpegStats) string {
	switch {
	case s.sof == 0xc3 || s.sof == 0xcb:
		return "lossless JPEG"
	case s.sof == 0xc5 || s.sof == 0xc6 || s.sof == 0xc7 || s.sof == 0xcd || s.sof == 0xce || s.sof == 0xcf:
		return "hierarchical JPEG"
	case s.sof == 0xc9 || s.sof == 0xca:
		return "arithmetic-coded JPEG"
	case s.precision != 0 && s.precision != 8:
		return fmt.Sprintf("%d-bit JPEG", s.precision)
	case s.components == 2 || s.components > 4:
		return fmt.Sprintf("JPEG with %d colour components", s.components)
	}
	return ""
}
