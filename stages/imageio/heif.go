package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"sync/atomic"

	"github.com/gen2brain/avif"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// HEIF (HEIC, as phones write it) and AVIF. Both are ISO base media files whose first box,
// ftyp, names the brands the file conforms to; both are read by libheif (its HEVC decoder
// libde265 and its AV1 decoder dav1d or aom), loaded at run time as libjpeg-turbo is, which
// applies the image's rotation, mirror and crop (HEIF's irot, imir and clap boxes: the
// orientation of a HEIF image, which an EXIF block in it only repeats) and converts its
// colour to 8-bit RGB by the matrix and range the file gives. Without libheif (a build
// without cgo, or the library absent), AVIF files are decoded by libavif compiled to
// WebAssembly (github.com/gen2brain/avif) and HEIC files are unsupported, named as such.

// HEIFLib reports whether HEIC and AVIF files are decoded by libheif in this process, and if
// not, why: the program was built without cgo, the library is not installed, or it was
// disabled by GPUPIPE_LIBHEIF=off.
func HEIFLib() error { return heifLoad() }

// heifBrand reads the ftyp box at the start of an ISO base media file and returns "avif"
// for an AVIF image, "heif" for a HEIF image (HEVC-coded, HEIC, or any image brand), or "".
func heifBrand(data []byte) string {
	if len(data) < 16 || string(data[4:8]) != "ftyp" {
		return ""
	}
	n := int(binary.BigEndian.Uint32(data[0:4]))
	if n < 16 || n > len(data) || n > 4096 {
		return ""
	}
	brands := [][]byte{data[8:12]}
	for p := 16; p+4 <= n; p += 4 {
		brands = append(brands, data[p:p+4])
	}
	heif := false
	for _, b := range brands {
		switch string(b) {
		case "avif", "avis":
			return "avif"
		case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1":
			heif = true
		}
	}
	if heif {
		return "heif"
	}
	return ""
}

// heifConfig reads the size of a HEIF or AVIF file's primary image, as shown.
func heifConfig(data []byte, format string) (image.Config, error) {
	f, err := heifOpen(data)
	if err == nil {
		defer f.close()
		return image.Config{Width: f.width, Height: f.height}, nil
	}
	if heifLoad() == nil {
		return image.Config{}, &decodeError{kind: ErrCorrupt, format: format, what: "header", msg: err.Error()}
	}
	if format == "heif" {
		return image.Config{}, unsupported(format, "HEIF/HEIC without libheif ("+err.Error()+")", nil)
	}
	cfg, err := avifConfigWasm(data)
	if err != nil {
		return image.Config{}, &decodeError{kind: ErrCorrupt, format: format, what: "header", msg: err.Error()}
	}
	return cfg, nil
}

func avifConfigWasm(data []byte) (cfg image.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder failed: %v", r)
		}
	}()
	return avif.DecodeConfig(bytes.NewReader(data))
}

// decodeHEIF decodes the primary image of a HEIF or AVIF file to RGB, or RGBA when it has
// alpha.
func (d *Decoder) decodeHEIF(data []byte, h header, stop *atomic.Bool) (raster.Image, error) {
	if stop.Load() {
		return raster.Image{}, errAbandoned
	}
	f, err := heifOpen(data)
	if err != nil {
		if heifLoad() == nil || h.format == "heif" {
			return raster.Image{}, &decodeError{kind: ErrCorrupt, format: h.format, msg: err.Error()}
		}
		return d.decodeAVIFWasm(data)
	}
	defer f.close()
	if f.width != h.width || f.height != h.height {
		return raster.Image{}, &decodeError{kind: ErrCorrupt, format: h.format, msg: "size changed between reads"}
	}
	ch := 3
	if f.alpha {
		ch = 4
	}
	img := newImage(d.Pool, f.width, f.height, ch)
	if err := f.decode(img); err != nil {
		d.Pool.Put(img.Pix)
		return raster.Image{}, &decodeError{kind: ErrCorrupt, format: h.format, msg: err.Error()}
	}
	if ch == 4 && opaque8(img.Pix, img.Stride, img.Width, img.Height) {
		img = d.replace(img, ToChannels(img, 3, [3]uint8{}, d.Pool))
	}
	return img, nil
}

func (d *Decoder) decodeAVIFWasm(data []byte) (img raster.Image, err error) {
	m, err := avif.Decode(bytes.NewReader(data))
	if err != nil {
		if errors.Is(err, avif.ErrDecode) {
			return raster.Image{}, &decodeError{kind: ErrCorrupt, format: "avif", msg: "libavif cannot decode it", err: err}
		}
		return raster.Image{}, &decodeError{kind: ErrCorrupt, format: "avif", msg: err.Error(), err: err}
	}
	return FromImage(m, d.Pool), nil
}

// heifICC returns the ICC profile of a HEIF or AVIF file's primary image, read by libheif, or
// nil when it has none, when it describes its colour by an nclx box instead, or when libheif
// is not loaded (the WebAssembly AVIF decoder gives no profile).
func heifICC(data []byte) []byte {
	if len(data) == 0 {
		return nil
	}
	f, err := heifOpen(data)
	if err != nil {
		return nil
	}
	defer f.close()
	return f.iccProfile()
}
