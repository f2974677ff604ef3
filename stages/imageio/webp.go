package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"sync/atomic"

	"golang.org/x/image/webp"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// WebP. golang.org/x/image/webp decodes both bitstreams correctly but hands lossy (VP8)
// pictures back as an image.YCbCr, whose colour model is JPEG's full-range one, while VP8
// stores BT.601 limited-range colour (Y from 16 to 235): read through image.YCbCr, white came
// out 235 and black 16. The planes are converted here with libwebp's own arithmetic (its
// "fancy" bilinear chroma upsampling and 14-bit fixed-point matrix, src/dsp/upsampling.c and
// yuv.h), so the pixels equal what libwebp, dwebp, Pillow and vips give, bit for bit (the
// tests compare them with Pillow's). Lossless (VP8L) pictures are RGBA already.
//
// Where libwebp (libwebp.so.7) can be loaded at run time, it decodes still WebPs instead,
// about three times as fast and to the same pixels (the tests compare the two); Decoder.PureGo
// or GPUPIPE_LIBWEBP=off keeps to Go.
//
// Animated WebPs are decoded to their first frame, placed on the canvas as libwebp's
// animation decoder places it: the canvas starts transparent (black when the header says the
// animation has no alpha), and the frame covers its rectangle.

// decodeWebP decodes a still or animated WebP to interleaved pixels.
func (d *Decoder) decodeWebP(data []byte, stop *atomic.Bool) (raster.Image, error) {
	if !webpAnimated(data) {
		return d.decodeWebPStill(data, stop)
	}
	canvasW, canvasH, f, err := webpFirstFrame(data)
	if err != nil {
		return raster.Image{}, &decodeError{kind: ErrCorrupt, format: "webp", msg: err.Error()}
	}
	frame, err := d.decodeWebPStill(f.still, stop)
	if err != nil {
		return raster.Image{}, err
	}
	if frame.Width != f.w || frame.Height != f.h {
		d.Pool.Put(frame.Pix)
		return raster.Image{}, &decodeError{kind: ErrCorrupt, format: "webp",
			msg: fmt.Sprintf("frame of %d×%d holds a %d×%d picture", f.w, f.h, frame.Width, frame.Height)}
	}
	if f.x == 0 && f.y == 0 && f.w == canvasW && f.h == canvasH {
		return frame, nil // the frame is the canvas
	}
	canvas := newImage(d.Pool, canvasW, canvasH, 4)
	clear(canvas.Pix)
	rgba := ToChannels(frame, 4, [3]uint8{}, d.Pool)
	for y := range f.h {
		copy(row(&canvas, f.y+y)[4*f.x:], row(&rgba, y))
	}
	if &rgba.Pix[0] != &frame.Pix[0] {
		d.Pool.Put(rgba.Pix)
	}
	d.Pool.Put(frame.Pix)
	if data[20]&0x10 == 0 {
		// The header says the animation has no alpha: the transparent canvas is black, as
		// Pillow and vips show it.
		return d.replace(canvas, ToChannels(canvas, 3, [3]uint8{}, d.Pool)), nil
	}
	return canvas, nil
}

func (d *Decoder) decodeWebPStill(data []byte, stop *atomic.Bool) (raster.Image, error) {
	if !d.PureGo && libwebpLoad() == nil {
		if img, ok := d.decodeWebPNative(data); ok {
			return img, nil
		}
		// A file libwebp refuses is left to the Go decoder, which says why in its words.
	}
	m, err := webp.Decode(&stopReader{data: data, stop: stop})
	if err != nil {
		if errors.Is(err, errAbandoned) {
			return raster.Image{}, errAbandoned
		}
		return raster.Image{}, classify("webp", "", err, "")
	}
	switch m := m.(type) {
	case *image.YCbCr:
		return vp8ToRGB(m, nil, 0, d.Pool), nil
	case *image.NYCbCrA:
		return vp8ToRGB(&m.YCbCr, m.A, m.AStride, d.Pool), nil
	}
	return FromImage(m, d.Pool), nil
}

// decodeWebPNative decodes a still WebP with libwebp, to RGBA when its header says it has
// alpha (dropped again when every pixel is opaque), else RGB.
func (d *Decoder) decodeWebPNative(data []byte) (raster.Image, bool) {
	cfg, err := webp.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return raster.Image{}, false
	}
	ch := 3
	if webpHasAlpha(data) {
		ch = 4
	}
	img := newImage(d.Pool, cfg.Width, cfg.Height, ch)
	if err := libwebpDecode(data, img); err != nil {
		d.Pool.Put(img.Pix)
		return raster.Image{}, false
	}
	if ch == 4 && opaque8(img.Pix, img.Stride, img.Width, img.Height) {
		img = d.replace(img, ToChannels(img, 3, [3]uint8{}, d.Pool))
	}
	return img, true
}

// webpHasAlpha reads from a still WebP's header whether it may have alpha: the VP8X alpha
// flag, or the alpha bit of a VP8L header.
func webpHasAlpha(data []byte) bool {
	if len(data) < 30 {
		return false
	}
	switch string(data[12:16]) {
	case "VP8X":
		return data[20]&0x10 != 0
	case "VP8L":
		return data[20] == 0x2f && data[24]&0x10 != 0
	}
	return false
}

// webpAnimated reports whether the extended header (VP8X, the first chunk) of a WebP has the
// animation flag.
func webpAnimated(data []byte) bool {
	return len(data) >= 21 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WEBP" &&
		string(data[12:16]) == "VP8X" && data[20]&0x02 != 0
}

// webpFrame is one ANMF frame: its rectangle on the canvas and its picture as a still WebP.
type webpFrame struct {
	x, y, w, h int
	still      []byte
}

// webpFirstFrame finds the first frame of an animated WebP and wraps its bitstream (an
// optional ALPH chunk and a VP8 or VP8L chunk) in a still WebP of its own. Every offset is
// checked against the data.
func webpFirstFrame(data []byte) (canvasW, canvasH int, f webpFrame, err error) {
	u24 := func(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }
	end := min(len(data), 8+int(binary.LittleEndian.Uint32(data[4:8])))
	p := 12
	for p+8 <= end {
		id := string(data[p : p+4])
		n := int(binary.LittleEndian.Uint32(data[p+4:]))
		if n < 0 || n > end-p-8 {
			return 0, 0, f, fmt.Errorf("chunk %q of %d bytes runs past the end of the file", id, n)
		}
		body := data[p+8 : p+8+n]
		switch id {
		case "VP8X":
			if n < 10 {
				return 0, 0, f, errors.New("short VP8X chunk")
			}
			canvasW, canvasH = u24(body[4:])+1, u24(body[7:])+1
		case "ANMF":
			if n < 16 {
				return 0, 0, f, errors.New("short ANMF chunk")
			}
			f.x, f.y = 2*u24(body[0:]), 2*u24(body[3:])
			f.w, f.h = u24(body[6:])+1, u24(body[9:])+1
			if canvasW == 0 || f.x+f.w > canvasW || f.y+f.h > canvasH {
				return 0, 0, f, fmt.Errorf("frame %d×%d at %d,%d lies outside the %d×%d canvas", f.w, f.h, f.x, f.y, canvasW, canvasH)
			}
			f.still, err = webpStill(body[16:], f.w, f.h)
			return canvasW, canvasH, f, err
		}
		p += 8 + n + n&1
	}
	return 0, 0, f, errors.New("animated WebP without a frame")
}

// webpStill wraps the chunks of a frame (ALPH then VP8, or VP8L) in a still WebP file: a
// bare RIFF when there is no ALPH chunk, else one with a VP8X header flagging alpha.
func webpStill(frame []byte, w, h int) ([]byte, error) {
	var alph, bits []byte
	for p := 0; p+8 <= len(frame); {
		id := string(frame[p : p+4])
		n := int(binary.LittleEndian.Uint32(frame[p+4:]))
		if n < 0 || n > len(frame)-p-8 {
			return nil, fmt.Errorf("frame chunk %q of %d bytes runs past its frame", id, n)
		}
		whole := frame[p : p+8+n]
		switch id {
		case "ALPH":
			alph = whole
		case "VP8 ", "VP8L":
			bits = whole
		}
		p += 8 + n + n&1
		if bits != nil {
			break
		}
	}
	if bits == nil {
		return nil, errors.New("frame without a VP8 or VP8L bitstream")
	}
	out := []byte("RIFF\x00\x00\x00\x00WEBP")
	if alph != nil && string(bits[:4]) == "VP8 " {
		out = append(out, "VP8X\x0a\x00\x00\x00\x10\x00\x00\x00"...)
		out = append(out, byte(w-1), byte((w-1)>>8), byte((w-1)>>16), byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
		out = append(out, alph...)
		if len(alph)%2 == 1 {
			out = append(out, 0)
		}
	}
	out = append(out, bits...)
	if len(bits)%2 == 1 {
		out = append(out, 0)
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out, nil
}

// vp8ToRGB converts a decoded VP8 picture (4:2:0 limited-range BT.601, as VP8 always is) and
// its alpha plane (of stride aStride), if any, as libwebp does: each pair of rows is upsampled from the two
// chroma rows around it with the 9-3-3-1 bilinear weights, then converted with libwebp's
// fixed-point matrix.
func vp8ToRGB(m *image.YCbCr, alpha []byte, aStride int, pool *Pool) raster.Image {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	ch := 3
	if alpha != nil && !opaquePlane(alpha, w, h, aStride) {
		ch = 4
	}
	out := newImage(pool, w, h, ch)
	yRow := func(y int) []byte { return m.Y[y*m.YStride : y*m.YStride+w] }
	cw := (w + 1) / 2
	uRow := func(y int) []byte { return m.Cb[y*m.CStride : y*m.CStride+cw] }
	vRow := func(y int) []byte { return m.Cr[y*m.CStride : y*m.CStride+cw] }
	// The first row has the first chroma row on both sides.
	upsampleRows(yRow(0), nil, uRow(0), vRow(0), uRow(0), vRow(0), row(&out, 0), nil, ch)
	for y := 1; y+1 < h; y += 2 {
		c := (y + 1) / 2
		upsampleRows(yRow(y), yRow(y+1), uRow(c-1), vRow(c-1), uRow(c), vRow(c), row(&out, y), row(&out, y+1), ch)
	}
	if h > 1 && h%2 == 0 {
		c := h/2 - 1
		upsampleRows(yRow(h-1), nil, uRow(c), vRow(c), uRow(c), vRow(c), row(&out, h-1), nil, ch)
	}
	if ch == 4 {
		for y := range h {
			a, dst := alpha[y*aStride:y*aStride+w], row(&out, y)
			for x, v := range a {
				dst[4*x+3] = v
			}
		}
	}
	return out
}

func opaquePlane(a []byte, w, h, stride int) bool {
	for y := range h {
		for _, v := range a[y*stride : y*stride+w] {
			if v != 0xff {
				return false
			}
		}
	}
	return true
}

// upsampleRows is libwebp's UpsampleRgbLinePair: it converts the luma rows top and bottom
// (bottom may be nil) with chroma interpolated between the chroma rows above (tu, tv) and
// below (cu, cv) them, writing pixels of ch channels (3 or 4; alpha is left alone).
func upsampleRows(top, bottom, tu, tv, cu, cv, topDst, bottomDst []byte, ch int) {
	n := len(top)
	load := func(u, v byte) uint32 { return uint32(u) | uint32(v)<<16 }
	put := func(dst []byte, x int, y byte, uv uint32) {
		r, g, b := vp8YUVToRGB(int(y), int(uv&0xff), int((uv>>16)&0xff))
		d := dst[ch*x : ch*x+3]
		d[0], d[1], d[2] = r, g, b
	}
	tl, l := load(tu[0], tv[0]), load(cu[0], cv[0])
	put(topDst, 0, top[0], (3*tl+l+0x00020002)>>2)
	if bottom != nil {
		put(bottomDst, 0, bottom[0], (3*l+tl+0x00020002)>>2)
	}
	last := (n - 1) >> 1
	for x := 1; x <= last; x++ {
		t, c := load(tu[x], tv[x]), load(cu[x], cv[x])
		avg := tl + t + l + c + 0x00080008
		diag12 := (avg + 2*(t+l)) >> 3
		diag03 := (avg + 2*(tl+c)) >> 3
		put(topDst, 2*x-1, top[2*x-1], (diag12+tl)>>1)
		put(topDst, 2*x, top[2*x], (diag03+t)>>1)
		if bottom != nil {
			put(bottomDst, 2*x-1, bottom[2*x-1], (diag03+l)>>1)
			put(bottomDst, 2*x, bottom[2*x], (diag12+c)>>1)
		}
		tl, l = t, c
	}
	if n&1 == 0 {
		put(topDst, n-1, top[n-1], (3*tl+l+0x00020002)>>2)
		if bottom != nil {
			put(bottomDst, n-1, bottom[n-1], (3*l+tl+0x00020002)>>2)
		}
	}
}

// vp8YUVToRGB is libwebp's VP8YuvToRgb: BT.601 limited range in 14-bit fixed point.
func vp8YUVToRGB(y, u, v int) (r, g, b uint8) {
	mulHi := func(v, c int) int { return (v * c) >> 8 }
	yy := mulHi(y, 19077)
	return vp8Clip8(yy + mulHi(v, 26149) - 14234),
		vp8Clip8(yy - mulHi(u, 6419) - mulHi(v, 13320) + 8708),
		vp8Clip8(yy + mulHi(u, 33050) - 17685)
}

func vp8Clip8(v int) uint8 {
	const mask = (256 << 6) - 1
	if v&^mask == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}
