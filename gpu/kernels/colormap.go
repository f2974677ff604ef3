package kernels

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// The Go side of color (csrc/pixel.cu) and resample_v_color (csrc/resample.cu), and the
// Color record of csrc/color.cuh.

var colorK = &kernelDef{name: "color", module: "pixel", prepare: prepareColor, row: rowColor}

var resampleVColor = &kernelDef{name: "resample_v_color", module: "resample", prepare: prepareVColor, row: rowVColor}

// colorEncSize is COLOR_ENC_SIZE: the entries of the sRGB encoding table. 16384 steps of
// linear light are 0.2 of a level apart where sRGB is steepest (near black, 12.92× linear),
// so the table adds at most a tenth of a level to the rounding of the result.
const colorEncSize = 16384

// colorHeader is the size of the Color record before its encoding table: m, pad and lin.
const colorHeader = 4*12 + 4*3*256

// colorSize is sizeof(Color).
const colorSize = colorHeader + colorEncSize

// ColorMap converts 8-bit pixels from one source colour space to sRGB: each channel's stored
// byte is linearised by a table, a 3×3 matrix takes linear source RGB to linear sRGB, and the
// result is clamped and encoded as sRGB by a table. Package icc makes one from an ICC
// profile; one-channel images use the first curve and no matrix. A ColorMap is immutable and
// safe for concurrent use; batches refer to it by pointer, and images sharing one map share
// its table on the device.
type ColorMap struct {
	rec []byte // the Color record of csrc/color.cuh, colorSize bytes
}

// NewColorMap makes a ColorMap from the linear value (0..1) of every byte of each channel and
// the matrix from linear source RGB to linear sRGB (row-major: out[i] = Σ m[i][k]·in[k]).
// They are rounded to float32 here, once, so that every device computes with the same
// numbers.
func NewColorMap(curves *[3][256]float64, m [3][3]float64) (*ColorMap, error) {
	rec := make([]byte, colorSize)
	le := binary.LittleEndian
	for i := range 3 {
		for k := range 3 {
			v := m[i][k]
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e6 {
				return nil, fmt.Errorf("kernels: NewColorMap: matrix element %d,%d is %v", i, k, v)
			}
			le.PutUint32(rec[4*(3*i+k):], math.Float32bits(float32(v)))
		}
	}
	for ch := range 3 {
		for b, v := range curves[ch] {
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e6 {
				return nil, fmt.Errorf("kernels: NewColorMap: curve %d at %d is %v", ch, b, v)
			}
			le.PutUint32(rec[48+4*(256*ch+b):], math.Float32bits(float32(v)))
		}
	}
	copy(rec[colorHeader:], srgbEncodeTable[:])
	return &ColorMap{rec: rec}, nil
}

// srgbEncodeTable is enc of the Color record: the sRGB byte of linear value i/(size-1).
var srgbEncodeTable = func() (t [colorEncSize]byte) {
	for i := range t {
		t[i] = byte(math.Floor(255*SRGBEncode(float64(i)/(colorEncSize-1)) + 0.5))
	}
	return t
}()

// SRGBEncode is the sRGB transfer function (IEC 61966-2-1): linear light 0..1 to the encoded
// value 0..1.
func SRGBEncode(v float64) float64 {
	if v <= 0.0031308 {
		return 12.92 * v
	}
	return 1.055*math.Pow(v, 1/2.4) - 0.055
}

// SRGBDecode is the inverse of SRGBEncode.
func SRGBDecode(v float64) float64 {
	if v <= 0.04045 {
		return v / 12.92
	}
	return math.Pow((v+0.055)/1.055, 2.4)
}

// colorRec is a Color record decoded for the Go implementation.
type colorRec struct {
	m   [9]float32
	lin [3][256]float32
	enc []byte
}

// decodeColor decodes the Color record at offset off of the table buffer.
func decodeColor(ln *launch, j *job, off int64) error {
	b, err := j.table(ln, off-j.tab, colorSize)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	var c colorRec
	for i := range c.m {
		c.m[i] = math.Float32frombits(le.Uint32(b[4*i:]))
	}
	for ch := range 3 {
		for k := range 256 {
			c.lin[ch][k] = math.Float32frombits(le.Uint32(b[48+4*(256*ch+k):]))
		}
	}
	c.enc = b[colorHeader:colorSize]
	j.color = &c
	return nil
}

// encode is color_encode.
func (c *colorRec) encode(v float32) byte {
	if !(v > 0) {
		v = 0
	}
	if v > 1 {
		v = 1
	}
	return c.enc[int32(float32(v*(colorEncSize-1))+0.5)]
}

// pixel is color_pixel: it converts the c channels of s into d.
func (c *colorRec) pixel(s, d []byte, ch int) {
	if ch == 1 {
		d[0] = c.encode(c.lin[0][s[0]])
		return
	}
	r, g, b := c.lin[0][s[0]], c.lin[1][s[1]], c.lin[2][s[2]]
	m := &c.m
	o0 := float32(m[0]*r) + float32(m[1]*g)
	o0 += float32(m[2] * b)
	o1 := float32(m[3]*r) + float32(m[4]*g)
	o1 += float32(m[5] * b)
	o2 := float32(m[6]*r) + float32(m[7]*g)
	o2 += float32(m[8] * b)
	if ch == 4 {
		d[3] = s[3]
	}
	d[0], d[1], d[2] = c.encode(o0), c.encode(o1), c.encode(o2)
}

func prepareColor(ln *launch, j *job) error {
	if err := checkChannels(j); err != nil {
		return err
	}
	if j.dw != j.sw || j.dh != j.sh {
		return errorf("%d×%d to %d×%d", j.sw, j.sh, j.dw, j.dh)
	}
	if err := j.source(ln, j.sw, j.sh, j.sw*j.c, 1); err != nil {
		return err
	}
	if err := j.dest(ln, j.dw, j.dh, j.dw*j.c, 1); err != nil {
		return err
	}
	if j.i0 == 0 {
		return nil
	}
	return decodeColor(ln, j, j.tab)
}

func rowColor(_ *worker, ln *launch, j *job, y, x0, x1 int) {
	c := j.c
	src := ln.src[j.src+int64(y)*int64(j.ss)+int64(x0*c):]
	dst := ln.dst[j.dst+int64(y)*int64(j.ds)+int64(x0*c):]
	dst = dst[:(x1-x0)*c]
	src = src[:len(dst)]
	if j.color == nil {
		copy(dst, src)
		return
	}
	for i := 0; i < len(dst); i += c {
		j.color.pixel(src[i:i+c:i+c], dst[i:i+c:i+c], c)
	}
}

func prepareVColor(ln *launch, j *job) error {
	if err := prepareVSource(ln, j); err != nil {
		return err
	}
	if err := j.dest(ln, j.dw, j.dh, j.dw*j.c, 1); err != nil {
		return err
	}
	if j.i0 == 0 {
		return decodeJobTaps(ln, j, 0, j.dh, j.sh)
	}
	if err := decodeColor(ln, j, j.tab); err != nil {
		return err
	}
	return decodeJobTaps(ln, j, colorSize, j.dh, j.sh)
}

// rowVColor is resample_v_color: resample_v, then the conversion of each rounded pixel.
func rowVColor(w *worker, ln *launch, j *job, y, x0, x1 int) {
	acc := vsum(w, ln, j, y, x0, x1)
	c := j.c
	dst := ln.dst[j.dst+int64(y)*int64(j.ds)+int64(x0*c):]
	var v [4]byte
	for i := 0; i < len(acc); i += c {
		finishPixel(acc[i:i+c], c, v[:])
		if j.color != nil {
			j.color.pixel(v[:c], dst[i:i+c:i+c], c)
		} else {
			copy(dst[i:i+c], v[:c])
		}
	}
}

// ErrNoColorMap is returned by ApplyColorMap for a nil map.
var ErrNoColorMap = errors.New("kernels: no colour map")

// ApplyColorMap converts src into dst, of the same size and channels, through cm, on all
// cores: what the chain's ToSRGB does on a device, for one image on the host.
func ApplyColorMap(dst, src raster.Image, cm *ColorMap) error {
	if cm == nil {
		return ErrNoColorMap
	}
	if err := checkPair(dst, src); err != nil {
		return err
	}
	if dst.Width != src.Width || dst.Height != src.Height {
		return fmt.Errorf("%w: colour map from %d×%d to %d×%d", raster.ErrImage, src.Width, src.Height, dst.Width, dst.Height)
	}
	j := job{sw: src.Width, sh: src.Height, ss: src.Stride, dw: dst.Width, dh: dst.Height, ds: dst.Stride, c: src.Channels, i0: 1}
	return runJobs(colorK, []job{j}, src.Pix, dst.Pix, cm.rec)
}
