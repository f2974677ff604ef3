// Package icc reads ICC colour profiles and turns the colour space they describe into a
// conversion to sRGB.
//
// # Matrix/TRC profiles
//
// Most RGB profiles in photographs (sRGB, Display P3, Adobe RGB, ProPhoto, the profiles of
// cameras and phones) are matrix/TRC profiles: three tone curves (rTRC, gTRC, bTRC) take the
// stored values to linear light, and three colorants (rXYZ, gXYZ, bXYZ) are the columns of a
// matrix to the D50 XYZ of the profile connection space. Grey profiles have one curve (kTRC).
// Parse reads them, checking every size, count and offset against the profile, and
// Profile.Conversion composes them with the inverse of sRGB's own matrix (D50-adapted, as
// the sRGB profile's colorants are) into a kernels.ColorMap: per-channel tables and one 3×3
// matrix, which the GPU applies with the resize (kernels.Chain.ToSRGB). This is
// relative colorimetric rendering, as Little CMS and vips do by default for these profiles.
//
// The colorants of a profile are D50-adapted already (the ICC v4 rule, followed by v2
// profiles in practice; a chad tag records how). An old v2 profile whose colorants add up to
// its media white point (wtpt) rather than to D50 and that has no chad tag is adapted here
// with the Bradford transform from that white to D50.
//
// # Other profiles
//
// LUT-based profiles (A2B0 without colorants) and CMYK, Lab and other spaces need a full
// colour engine: a Transformer converts them through Little CMS (liblcms2), loaded at run
// time like libjpeg-turbo, where it is installed (LittleCMS reports whether it is).
package icc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrProfile is wrapped by every error about a profile's contents.
var ErrProfile = errors.New("icc: bad profile")

// ErrNotMatrix is wrapped by Conversion for a valid profile that is not a matrix/TRC RGB or
// grey profile: a LUT-based, CMYK, Lab or named-colour profile.
var ErrNotMatrix = errors.New("icc: not a matrix/TRC profile")

// MaxSize is the largest profile Parse reads. The largest profiles in use (printer LUTs)
// are a few megabytes.
const MaxSize = 16 << 20

// maxTags bounds the tag count: a profile has a few dozen tags.
const maxTags = 1000

// XYZ is a CIE XYZ colour.
type XYZ [3]float64

// D50 is the white of the ICC profile connection space (the header's illuminant).
var D50 = XYZ{0.9642, 1.0, 0.8249}

// Profile is a parsed ICC profile: its header and the tags of matrix/TRC profiles.
type Profile struct {
	Size        int
	Version     uint32 // major.minor.bugfix as in the header: 0x04300000 is 4.3
	Class       string // "mntr", "scnr", "prtr", "spac", "link", "abst", "nmcl"
	ColorSpace  string // data colour space: "RGB ", "GRAY", "CMYK", "Lab ", ...
	PCS         string // "XYZ " or "Lab "
	Description string // the desc tag's ASCII or first Unicode text, when present

	// Colorants are rXYZ, gXYZ, bXYZ; HasColorants reports all three were present.
	Colorants    [3]XYZ
	HasColorants bool
	// Curves are rTRC, gTRC, bTRC (or kTRC in Curves[0] for grey); nil when absent.
	Curves [3]*Curve
	// White is wtpt, the media white point, or D50 when absent.
	White XYZ
	// Adaptation is chad, the matrix that adapted the colorants to D50, when present.
	Adaptation *[3][3]float64
	// HasLUT reports an A2B0 tag: the profile has a lookup-table transform.
	HasLUT bool
}

// Parse reads an ICC profile. It refuses profiles that break the format's rules (sizes,
// counts and offsets outside the data, a missing signature, tags of the wrong type) with an
// error wrapping ErrProfile; tags it does not use are not read.
func Parse(data []byte) (*Profile, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrProfile, fmt.Sprintf(format, a...))
	}
	if len(data) < 132 {
		return nil, bad("%d bytes, shorter than a header and tag count", len(data))
	}
	if len(data) > MaxSize {
		return nil, bad("%d bytes, over the limit of %d", len(data), MaxSize)
	}
	be := binary.BigEndian
	size := int64(be.Uint32(data))
	if string(data[36:40]) != "acsp" {
		return nil, bad("no 'acsp' signature")
	}
	if size < 132 || size > int64(len(data)) {
		return nil, bad("header says %d bytes, the data holds %d", size, len(data))
	}
	data = data[:size]
	p := &Profile{
		Size:       int(size),
		Version:    be.Uint32(data[8:]),
		Class:      string(data[12:16]),
		ColorSpace: string(data[16:20]),
		PCS:        string(data[20:24]),
		White:      D50,
	}
	n := int64(be.Uint32(data[128:]))
	if n > maxTags || 132+12*n > size {
		return nil, bad("%d tags do not fit in %d bytes", n, size)
	}
	tags := map[string][]byte{}
	for i := range n {
		e := 132 + 12*i
		sig := string(data[e : e+4])
		off, ln := int64(be.Uint32(data[e+4:])), int64(be.Uint32(data[e+8:]))
		if off < 128 || ln < 8 || off > size || ln > size-off {
			return nil, bad("tag %q at %d, %d bytes, outside the profile", sig, off, ln)
		}
		if _, dup := tags[sig]; !dup {
			tags[sig] = data[off : off+ln]
		}
	}
	_, p.HasLUT = tags["A2B0"]
	if d, ok := tags["desc"]; ok {
		p.Description = description(d)
	}
	var err error
	if d, ok := tags["wtpt"]; ok {
		if p.White, err = readXYZ(d); err != nil {
			return nil, bad("wtpt: %v", err)
		}
	}
	if d, ok := tags["chad"]; ok {
		m, err := readSF32(d)
		if err != nil {
			return nil, bad("chad: %v", err)
		}
		p.Adaptation = m
	}
	switch p.ColorSpace {
	case "RGB ":
		have := 0
		for i, sig := range []string{"rXYZ", "gXYZ", "bXYZ"} {
			if d, ok := tags[sig]; ok {
				if p.Colorants[i], err = readXYZ(d); err != nil {
					return nil, bad("%s: %v", sig, err)
				}
				have++
			}
		}
		p.HasColorants = have == 3
		for i, sig := range []string{"rTRC", "gTRC", "bTRC"} {
			if d, ok := tags[sig]; ok {
				if p.Curves[i], err = readCurve(d); err != nil {
					return nil, bad("%s: %v", sig, err)
				}
			}
		}
	case "GRAY":
		if d, ok := tags["kTRC"]; ok {
			if p.Curves[0], err = readCurve(d); err != nil {
				return nil, bad("kTRC: %v", err)
			}
		}
	}
	return p, nil
}

// s15 reads an s15Fixed16Number.
func s15(b []byte) float64 { return float64(int32(binary.BigEndian.Uint32(b))) / 65536 }

// readXYZ reads an XYZType tag's first value.
func readXYZ(d []byte) (XYZ, error) {
	if string(d[:4]) != "XYZ " || len(d) < 20 {
		return XYZ{}, fmt.Errorf("type %q, %d bytes: not an XYZ value", d[:4], len(d))
	}
	return XYZ{s15(d[8:]), s15(d[12:]), s15(d[16:])}, nil
}

// readSF32 reads an s15Fixed16ArrayType of nine values, a 3×3 matrix by rows.
func readSF32(d []byte) (*[3][3]float64, error) {
	if string(d[:4]) != "sf32" || len(d) < 8+36 {
		return nil, fmt.Errorf("type %q, %d bytes: not 9 s15Fixed16 values", d[:4], len(d))
	}
	var m [3][3]float64
	for i := range 9 {
		m[i/3][i%3] = s15(d[8+4*i:])
	}
	return &m, nil
}

// description reads a textDescriptionType (v2) or multiLocalizedUnicodeType (v4) tag's
// text, or "".
func description(d []byte) string {
	be := binary.BigEndian
	switch string(d[:4]) {
	case "desc":
		if len(d) < 12 {
			return ""
		}
		n := int64(be.Uint32(d[8:]))
		if n < 1 || n > int64(len(d)-12) {
			return ""
		}
		return trimNUL(string(d[12 : 12+n]))
	case "mluc":
		if len(d) < 28 || be.Uint32(d[8:]) < 1 {
			return ""
		}
		ln, off := int64(be.Uint32(d[20:])), int64(be.Uint32(d[24:]))
		if off < 0 || ln < 0 || off > int64(len(d)) || ln > int64(len(d))-off {
			return ""
		}
		u := d[off : off+ln]
		r := make([]rune, 0, len(u)/2)
		for i := 0; i+1 < len(u); i += 2 {
			r = append(r, rune(be.Uint16(u[i:])))
		}
		return trimNUL(string(r))
	}
	return ""
}

func trimNUL(s string) string {
	for len(s) > 0 && s[len(s)-1] == 0 {
		s = s[:len(s)-1]
	}
	return s
}

// Curve is a tone curve: a curveType (identity, a gamma, or a table) or a
// parametricCurveType.
type Curve struct {
	Gamma  float64   // curv with one entry, or para type 0: y = x^Gamma
	Table  []float64 // curv with 2 or more entries, 0..1, interpolated linearly
	Type   int       // para function type 0 to 4; -1 for curv
	Params []float64 // para parameters g, a, b, c, d, e, f (as many as the type has)
}

// maxCurvePoints bounds a curv table (its count is a 32-bit number); real tables have at
// most 4096 entries.
const maxCurvePoints = 1 << 16

// readCurve reads a curveType or parametricCurveType tag.
func readCurve(d []byte) (*Curve, error) {
	be := binary.BigEndian
	switch string(d[:4]) {
	case "curv":
		if len(d) < 12 {
			return nil, fmt.Errorf("curv of %d bytes", len(d))
		}
		n := int64(be.Uint32(d[8:]))
		if n > maxCurvePoints || 12+2*n > int64(len(d)) {
			return nil, fmt.Errorf("curv of %d points in %d bytes", n, len(d))
		}
		c := &Curve{Type: -1}
		switch n {
		case 0:
			c.Gamma = 1
		case 1:
			c.Gamma = float64(be.Uint16(d[12:])) / 256
			if c.Gamma <= 0 {
				return nil, fmt.Errorf("gamma 0")
			}
		default:
			c.Table = make([]float64, n)
			for i := range c.Table {
				c.Table[i] = float64(be.Uint16(d[12+2*i:])) / 65535
			}
		}
		return c, nil
	case "para":
		if len(d) < 12 {
			return nil, fmt.Errorf("para of %d bytes", len(d))
		}
		typ := int(be.Uint16(d[8:]))
		counts := [...]int{1, 3, 4, 5, 7}
		if typ >= len(counts) {
			return nil, fmt.Errorf("parametric curve type %d", typ)
		}
		k := counts[typ]
		if len(d) < 12+4*k {
			return nil, fmt.Errorf("para type %d of %d bytes", typ, len(d))
		}
		c := &Curve{Type: typ, Params: make([]float64, k)}
		for i := range c.Params {
			c.Params[i] = s15(d[12+4*i:])
		}
		c.Gamma = c.Params[0]
		return c, nil
	}
	return nil, fmt.Errorf("type %q is not a curve", d[:4])
}

// Eval returns the curve's value at x in 0..1: linear light for a TRC. Results are clamped
// to 0..1, and a curve whose formula has no value there (a negative base to a fractional
// power) gives 0.
func (c *Curve) Eval(x float64) float64 {
	var y float64
	switch {
	case c.Table != nil:
		pos := x * float64(len(c.Table)-1)
		i := int(math.Floor(pos))
		if i >= len(c.Table)-1 {
			y = c.Table[len(c.Table)-1]
		} else {
			i = max(i, 0)
			f := pos - float64(i)
			y = c.Table[i]*(1-f) + c.Table[i+1]*f
		}
	case c.Type <= 0:
		y = math.Pow(x, c.Gamma)
	default:
		p := c.Params
		g, a, b := p[0], p[1], p[2]
		pw := func(v float64) float64 {
			if v <= 0 {
				return 0
			}
			return math.Pow(v, g)
		}
		switch c.Type {
		case 1:
			if a != 0 && x >= -b/a {
				y = pw(a*x + b)
			}
		case 2:
			y = p[3]
			if a != 0 && x >= -b/a {
				y = pw(a*x+b) + p[3]
			}
		case 3:
			if x >= p[4] {
				y = pw(a*x + b)
			} else {
				y = p[3] * x
			}
		case 4:
			if x >= p[4] {
				y = pw(a*x+b) + p[5]
			} else {
				y = p[3]*x + p[6]
			}
		}
	}
	if !(y > 0) { // also NaN
		return 0
	}
	return min(y, 1)
}
