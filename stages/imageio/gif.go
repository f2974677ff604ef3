package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"sync/atomic"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// GIF. image/gif hands back the first frame at its own size and position; a GIF is shown on
// its logical screen, which a first frame may not cover. The frame is placed on the screen as
// Pillow places it: the rest of the screen is the background colour of the global palette,
// or transparent when the frame has a transparent colour.

// decodeGIF decodes the first frame of a GIF on its logical screen.
func (d *Decoder) decodeGIF(data []byte, h header, stop *atomic.Bool) (raster.Image, error) {
	m, err := gif.Decode(&stopReader{data: data, stop: stop})
	if err != nil {
		if errors.Is(err, errAbandoned) {
			return raster.Image{}, errAbandoned
		}
		return raster.Image{}, classify("gif", "", err, "")
	}
	p, ok := m.(*image.Paletted)
	screen := image.Rect(0, 0, h.width, h.height)
	if !ok || p.Rect == screen || !p.Rect.In(screen) {
		return FromImage(m, d.Pool), nil
	}
	var bg color.Color = color.NRGBA{}
	transparent := false
	for _, c := range p.Palette {
		if _, _, _, a := c.RGBA(); a == 0 {
			transparent = true
		}
	}
	if cfg, err := gif.DecodeConfig(bytes.NewReader(data)); err == nil && !transparent && len(data) > 11 {
		if pal, ok := cfg.ColorModel.(color.Palette); ok && int(data[11]) < len(pal) {
			bg = pal[data[11]]
		}
	}
	canvas := image.NewNRGBA(screen)
	bgc := color.NRGBAModel.Convert(bg).(color.NRGBA)
	for i := 0; i < len(canvas.Pix); i += 4 {
		canvas.Pix[i], canvas.Pix[i+1], canvas.Pix[i+2], canvas.Pix[i+3] = bgc.R, bgc.G, bgc.B, bgc.A
	}
	for y := p.Rect.Min.Y; y < p.Rect.Max.Y; y++ {
		for x := p.Rect.Min.X; x < p.Rect.Max.X; x++ {
			c := color.NRGBAModel.Convert(p.Palette[p.ColorIndexAt(x, y)]).(color.NRGBA)
			if c.A != 0 {
				canvas.SetNRGBA(x, y, c)
			}
		}
	}
	return FromImage(canvas, d.Pool), nil
}
