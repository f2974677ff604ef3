package job

import (
	"context"
	"fmt"

	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/stages/imageio"
)

// ColorMode is what a run does with images that embed an ICC profile.
type ColorMode string

// The colour modes of Config.Color.
const (
	// ColorSRGB converts images to sRGB (tensors too) and writes sRGB outputs, which carry
	// no profile: matrix/TRC profiles on the device, with the resize; LUT-based ones on the
	// host through Little CMS. Images without a profile are taken as sRGB.
	ColorSRGB ColorMode = "srgb"
	// ColorKeep leaves the pixels in their own colour space and embeds the profile in the
	// outputs (JPEG, PNG), as vipsthumbnail does by default.
	ColorKeep ColorMode = "keep"
	// ColorIgnore skips colour management: pixels are left as stored and the profile is
	// dropped (kept with Config.KeepMetadata).
	ColorIgnore ColorMode = "ignore"
)

// ParseColorMode reads a colour mode as a user gives it.
func ParseColorMode(s string) (ColorMode, error) {
	switch m := ColorMode(s); m {
	case ColorSRGB, ColorKeep, ColorIgnore:
		return m, nil
	}
	return "", fmt.Errorf("colour mode %q: want srgb, keep or ignore", s)
}

// decode reads one admitted file at the smallest size the chain allows and, converting to
// sRGB, converts it on the host when its profile needs Little CMS. The image holds the file's
// memory charge until its result is written; a failed decode's charge goes back with the
// admitted file, which the pipeline releases. A profile that cannot be used
// is named on the log, and the image goes on unconverted: a wrong colour is better than no
// image.
func (r *run) decode(ctx context.Context, a *admitted) (*imageio.Decoded, error) {
	d, err := r.decoder.Decode(ctx, a.file)
	if err != nil {
		return nil, err
	}
	d.Hold(a.Release)
	if r.cfg.Color != ColorSRGB || len(d.ICC) == 0 {
		return d, nil
	}
	act := r.colors.For(d.ICC, d.Image.Channels)
	if act.Host != nil {
		if herr := act.Host(d.Image); herr != nil {
			act.Err = herr
		}
	}
	if act.Err != nil {
		r.warn(a.file.Path(), act.Err)
	}
	return d, nil
}

// colorMap is the colour map of a decoded image for the chain's ToSRGB.
func (r *run) colorMap(d *imageio.Decoded) *kernels.ColorMap {
	return r.colors.For(d.ICC, d.Image.Channels).Map
}

// metadata is what an output of d carries.
func (r *run) metadata(d *imageio.Decoded) imageio.Metadata {
	var m imageio.Metadata
	if r.cfg.KeepMetadata {
		m.EXIF = imageio.ResetOrientation(d.EXIF)
		m.XMP = imageio.ResetXMPOrientation(d.XMP)
	}
	switch r.cfg.Color {
	case ColorKeep:
		m.ICC = d.ICC
	case ColorIgnore:
		if r.cfg.KeepMetadata {
			m.ICC = d.ICC
		}
	case ColorSRGB:
		// The profile still describes the pixels only when they were not converted: it is
		// sRGB's own, or it could not be used.
		if act := r.colors.For(d.ICC, d.Image.Channels); r.cfg.KeepMetadata && act.Map == nil && act.Host == nil {
			m.ICC = d.ICC
		}
	}
	return m
}

// warn names a file and a problem that does not fail it on the log.
func (r *run) warn(path string, err error) {
	r.logFailure(path, "colour", err)
}

// The colour modes print as the words of the --color flag.
func (m ColorMode) String() string { return string(m) }
