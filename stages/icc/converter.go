package icc

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"sync"

	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Action is what to do with an image to bring it to sRGB: nothing, convert it on the device
// with Map (kernels.Chain.ToSRGB), or convert it on the host with Host (Little CMS). Err,
// when set, says why its profile is not used: the image is left as it is, and a caller
// tells the user.
type Action struct {
	Map  *kernels.ColorMap
	Host func(raster.Image) error
	Err  error
}

// Converter finds each embedded profile's Action, once per distinct profile: a run of
// photos from one camera parses its profile once. The zero value is ready; a Converter is
// safe for concurrent use.
type Converter struct {
	// NoLittleCMS never uses Little CMS: LUT-based profiles are reported, not converted.
	NoLittleCMS bool

	mu    sync.Mutex
	cache map[[32]byte]*entry
}

// maxCached bounds the profiles a Converter keeps (each costs about 20 KB): more distinct
// profiles than this in one run are unusual, and are then parsed again.
const maxCached = 256

type entry struct {
	once    sync.Once
	profile *Profile
	conv    *Conversion
	cms     *cmsTransform
	err     error
}

// For returns the action for an image of the given channels whose file embeds the profile
// icc (nil: none, so the image is taken as sRGB).
func (c *Converter) For(icc []byte, channels int) Action {
	if len(icc) == 0 {
		return Action{}
	}
	e := c.entry(icc)
	e.once.Do(func() { e.build(icc, !c.NoLittleCMS) })
	if e.err != nil {
		return Action{Err: e.err}
	}
	space := e.profile.ColorSpace
	switch {
	case space == "GRAY" && channels != 1 && e.conv == nil,
		space == "RGB " && channels == 1:
		return Action{Err: fmt.Errorf("a %s profile on a %d-channel image: not converted", name(space), channels)}
	case e.conv != nil && e.conv.SRGB:
		return Action{}
	case e.conv != nil:
		return Action{Map: e.conv.Map}
	}
	t := e.cms
	return Action{Host: func(img raster.Image) error { return t.apply(img) }}
}

// CMYK converts a decoded CMYK image whose file embeds the CMYK profile icc to sRGB through
// Little CMS; ok is false when it cannot (another profile, no Little CMS), and the decoder
// converts by its own formula. It has the signature of imageio.Decoder.ConvertCMYK.
func (c *Converter) CMYK(icc []byte, m *image.CMYK) (img raster.Image, ok bool) {
	e := c.entry(icc)
	e.once.Do(func() { e.build(icc, !c.NoLittleCMS) })
	if e.profile == nil || e.profile.ColorSpace != "CMYK" || e.cms == nil || m.Rect.Empty() {
		return raster.Image{}, false
	}
	return e.cms.applyCMYK(m), true
}

func name(space string) string {
	switch space {
	case "RGB ":
		return "RGB"
	case "GRAY":
		return "grey"
	}
	return fmt.Sprintf("%q", space)
}

func (c *Converter) entry(icc []byte) *entry {
	key := sha256.Sum256(icc)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache == nil || len(c.cache) >= maxCached {
		c.cache = map[[32]byte]*entry{}
	}
	e := c.cache[key]
	if e == nil {
		e = &entry{}
		c.cache[key] = e
	}
	return e
}

// build parses the profile and works out its conversion: the matrix/TRC path, else Little
// CMS for an RGB profile, else an error that says what the profile is.
func (e *entry) build(icc []byte, useCMS bool) {
	p, err := Parse(icc)
	if err != nil {
		e.err = fmt.Errorf("ICC profile not used: %w", err)
		return
	}
	e.profile = p
	conv, err := p.Conversion()
	if err == nil {
		e.conv = conv
		return
	}
	if !errors.Is(err, ErrNotMatrix) {
		e.err = fmt.Errorf("ICC profile %q not used: %w", p.Description, err)
		return
	}
	if p.ColorSpace == "CMYK" {
		// CMYK pixels are converted while decoding (CMYK); an RGB image here is one
		// that was not.
		if !useCMS {
			e.err = fmt.Errorf("ICC profile %q not used: a CMYK profile needs Little CMS, which is switched off", p.Description)
		} else if e.cms, err = newCMYKTransform(icc); err != nil {
			e.err = fmt.Errorf("ICC profile %q not used: a CMYK profile: %v", p.Description, cmsProblem(err))
		} else {
			e.err = fmt.Errorf("ICC profile %q not used: a CMYK profile, on an image not decoded as CMYK", p.Description)
		}
		return
	}
	if p.ColorSpace != "RGB " {
		e.err = fmt.Errorf("ICC profile %q not used: a %s profile (class %q) is not converted", p.Description, name(p.ColorSpace), p.Class)
		return
	}
	if !useCMS {
		e.err = fmt.Errorf("ICC profile %q not used: a LUT-based profile needs Little CMS, which is switched off", p.Description)
		return
	}
	if e.cms, err = newCMSTransform(icc); err != nil {
		e.err = fmt.Errorf("ICC profile %q not used: a LUT-based profile: %v", p.Description, cmsProblem(err))
	}
}

// cmsProblem says why Little CMS did not convert: it is not there, or it refused the profile.
func cmsProblem(err error) string {
	if LittleCMS() != nil {
		return "it needs Little CMS (install liblcms2): " + err.Error()
	}
	return err.Error()
}
