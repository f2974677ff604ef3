package icc

import (
	"fmt"
	"math"

	"github.com/gpupipe/gpupipe/gpu/kernels"
)

// Chromaticity is a CIE xy chromaticity.
type Chromaticity struct{ X, Y float64 }

// xyz is the XYZ of chromaticity c at luminance 1.
func (c Chromaticity) xyz() XYZ { return XYZ{c.X / c.Y, 1, (1 - c.X - c.Y) / c.Y} }

// Chromaticities of the standard spaces.
var (
	WhiteD65 = Chromaticity{0.3127, 0.3290}
	WhiteD50 = Chromaticity{0.3457, 0.3585}

	SRGBPrimaries      = [3]Chromaticity{{0.64, 0.33}, {0.30, 0.60}, {0.15, 0.06}}
	DisplayP3Primaries = [3]Chromaticity{{0.680, 0.320}, {0.265, 0.690}, {0.150, 0.060}}
	AdobeRGBPrimaries  = [3]Chromaticity{{0.64, 0.33}, {0.21, 0.71}, {0.15, 0.06}}
	ProPhotoPrimaries  = [3]Chromaticity{{0.7347, 0.2653}, {0.1596, 0.8404}, {0.0366, 0.0001}}
)

type mat3 = [3][3]float64

func mul(a, b mat3) mat3 {
	var c mat3
	for i := range 3 {
		for j := range 3 {
			for k := range 3 {
				c[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return c
}

func apply(m mat3, v XYZ) XYZ {
	var o XYZ
	for i := range 3 {
		o[i] = m[i][0]*v[0] + m[i][1]*v[1] + m[i][2]*v[2]
	}
	return o
}

func inverse(m mat3) (mat3, bool) {
	det := m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
		m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
		m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	if math.Abs(det) < 1e-9 || math.IsNaN(det) || math.IsInf(det, 0) {
		return mat3{}, false
	}
	var r mat3
	for i := range 3 {
		for j := range 3 {
			a, b := (j+1)%3, (j+2)%3
			c, d := (i+1)%3, (i+2)%3
			r[i][j] = (m[a][c]*m[b][d] - m[a][d]*m[b][c]) / det
		}
	}
	return r, true
}

// bradfordM is the Bradford cone response matrix.
var bradfordM = mat3{{0.8951, 0.2664, -0.1614}, {-0.7502, 1.7135, 0.0367}, {0.0389, -0.0685, 1.0296}}

// Bradford returns the matrix that adapts XYZ colours seen under white from to white to, by
// the Bradford transform (as ICC profiles' chad tags and Little CMS do).
func Bradford(from, to XYZ) mat3 {
	inv, _ := inverse(bradfordM)
	s, d := apply(bradfordM, from), apply(bradfordM, to)
	var scale mat3
	for i := range 3 {
		scale[i][i] = d[i] / s[i]
	}
	return mul(inv, mul(scale, bradfordM))
}

// RGBToXYZ returns the matrix from linear RGB with the given primaries and white to XYZ,
// adapted to D50 by Bradford as an ICC profile's colorants are: its columns are rXYZ, gXYZ,
// bXYZ.
func RGBToXYZ(primaries [3]Chromaticity, white Chromaticity) mat3 {
	var p mat3
	for k, c := range primaries {
		v := c.xyz()
		for i := range 3 {
			p[i][k] = v[i]
		}
	}
	pi, _ := inverse(p)
	w := white.xyz()
	s := apply(pi, w)
	for i := range 3 {
		for k := range 3 {
			p[i][k] *= s[k]
		}
	}
	return mul(Bradford(w, D50), p)
}

// srgbFromXYZ takes D50 XYZ to linear sRGB.
var srgbFromXYZ = func() mat3 {
	m, _ := inverse(RGBToXYZ(SRGBPrimaries, WhiteD65))
	return m
}()

// Conversion is what a profile needs to reach sRGB: nothing (SRGB), or a colour map.
type Conversion struct {
	// SRGB reports a profile that is sRGB within a level everywhere: images with it are
	// left as they are.
	SRGB bool
	// Map converts to sRGB; nil when SRGB.
	Map *kernels.ColorMap
	// Curves and Matrix are what Map was made from: the linear value of each byte of each
	// channel, and linear source RGB to linear sRGB.
	Curves [3][256]float64
	Matrix mat3
}

// Conversion returns the conversion to sRGB of a matrix/TRC RGB profile or a grey profile
// with a tone curve, or an error wrapping ErrNotMatrix for other profiles.
func (p *Profile) Conversion() (*Conversion, error) {
	c := &Conversion{}
	switch {
	case p.ColorSpace == "GRAY" && p.Curves[0] != nil:
		p.tables(c, [3]*Curve{p.Curves[0], p.Curves[0], p.Curves[0]})
		c.Matrix = mat3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	case p.ColorSpace == "RGB " && p.HasColorants && p.Curves[0] != nil && p.Curves[1] != nil && p.Curves[2] != nil:
		p.tables(c, p.Curves)
		var m mat3
		for k, v := range p.Colorants {
			for i := range 3 {
				m[i][k] = v[i]
			}
		}
		if p.unadapted(m) {
			m = mul(Bradford(p.White, D50), m)
		}
		if _, ok := inverse(m); !ok {
			return nil, fmt.Errorf("%w: colorants make a singular matrix", ErrProfile)
		}
		c.Matrix = mul(srgbFromXYZ, m)
	default:
		what := p.ColorSpace
		if p.HasLUT {
			what += " LUT-based"
		}
		return nil, fmt.Errorf("%w: a %sprofile of class %q", ErrNotMatrix, what+" ", p.Class)
	}
	c.SRGB = c.nearIdentity()
	if !c.SRGB {
		var err error
		if c.Map, err = kernels.NewColorMap(&c.Curves, c.Matrix); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrProfile, err)
		}
	}
	return c, nil
}

// unadapted reports colorants that add up to the media white point rather than D50, in a
// profile without a chad tag: an old v2 profile that did not adapt them.
func (p *Profile) unadapted(m mat3) bool {
	if p.Adaptation != nil {
		return false
	}
	w := apply(m, XYZ{1, 1, 1})
	near := func(a, b XYZ) bool {
		return math.Abs(a[0]-b[0]) < 0.01 && math.Abs(a[1]-b[1]) < 0.01 && math.Abs(a[2]-b[2]) < 0.01
	}
	return !near(w, D50) && near(w, p.White)
}

func (p *Profile) tables(c *Conversion, curves [3]*Curve) {
	for ch, cv := range curves {
		for b := range 256 {
			c.Curves[ch][b] = cv.Eval(float64(b) / 255)
		}
	}
}

// Eval converts one RGB colour (0..1) to sRGB (0..1, clipped) in float64: the reference the
// kernels' tables approximate.
func (c *Conversion) Eval(rgb [3]float64) [3]float64 {
	var out [3]float64
	for i := range 3 {
		v := 0.0
		for k := range 3 {
			b := min(max(rgb[k], 0), 1) * 255
			// the curve between its bytes, linearly
			lo := int(math.Floor(b))
			hi := min(lo+1, 255)
			f := b - float64(lo)
			v += c.Matrix[i][k] * (c.Curves[k][lo]*(1-f) + c.Curves[k][hi]*f)
		}
		out[i] = kernels.SRGBEncode(min(max(v, 0), 1))
	}
	return out
}

// nearIdentity reports a conversion that moves no byte by a level or more: greys, and a
// grid of colours.
func (c *Conversion) nearIdentity() bool {
	const steps = 8
	for r := 0; r <= steps; r++ {
		for g := 0; g <= steps; g++ {
			for b := 0; b <= steps; b++ {
				in := [3]float64{float64(r) / steps, float64(g) / steps, float64(b) / steps}
				out := c.Eval(in)
				for i := range 3 {
					if math.Abs(out[i]-in[i])*255 >= 1 {
						return false
					}
				}
			}
		}
	}
	for v := range 256 {
		x := float64(v) / 255
		out := c.Eval([3]float64{x, x, x})
		for i := range 3 {
			if math.Abs(out[i]-x)*255 >= 1 {
				return false
			}
		}
	}
	return true
}
