package imageio

import (
	"bytes"
	"image"
	"sync/atomic"

	"golang.org/x/image/webp"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// rasterDecoders decode the formats whose decoders here write interleaved pixels themselves
// rather than an image.Image. They are called with the header probe has checked; a panic is
// caught by decodeGo.
var rasterDecoders = map[string]func(d *Decoder, data []byte, h header, stop *atomic.Bool) (raster.Image, error){
	"webp": func(d *Decoder, data []byte, _ header, stop *atomic.Bool) (raster.Image, error) {
		return d.decodeWebP(data, stop)
	},
	"bmp":  (*Decoder).decodeBMP,
	"tiff": (*Decoder).decodeTIFF,
	"gif":  (*Decoder).decodeGIF,
	"heif": (*Decoder).decodeHEIF,
	"avif": (*Decoder).decodeHEIF,
}

// decodeConfig reads the format and size of an image from its header. The formats decoded
// here are sniffed here, not through image.DecodeConfig, whose registry is global: another
// package registering a "webp" decoder (github.com/gen2brain/webp does) would otherwise take
// the header reads of this one.
func decodeConfig(data []byte) (image.Config, string, error) {
	var cfg image.Config
	var err error
	switch f := formatOf(data); f {
	case "webp":
		cfg, err = webp.DecodeConfig(bytes.NewReader(data))
	case "bmp":
		cfg, err = bmpConfig(data)
	case "tiff":
		cfg, err = tiffConfig(data)
	case "heif", "avif":
		cfg, err = heifConfig(data, f)
	default:
		return image.DecodeConfig(bytes.NewReader(data))
	}
	return cfg, formatOf(data), err
}

// formatOf names the format of the formats the package reads with its own decoders, from
// the signature at the start of data: "webp", "bmp", "tiff" (BigTIFF too), "heif", "avif",
// or "" for any other.
func formatOf(data []byte) string {
	switch {
	case len(data) >= 16 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return "webp"
	case len(data) >= 2 && string(data[:2]) == "BM":
		return "bmp"
	case len(data) >= 4 && (string(data[:4]) == "II*\x00" || string(data[:4]) == "MM\x00*" ||
		string(data[:4]) == "II+\x00" || string(data[:4]) == "MM\x00+"):
		return "tiff"
	}
	return heifBrand(data)
}
