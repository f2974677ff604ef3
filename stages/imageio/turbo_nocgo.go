//go:build !cgo

package imageio

import (
	"errors"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Without cgo there is no way to call libjpeg-turbo: every JPEG takes the pure-Go path.

type turboHeader struct {
	width, height int
	gray, cmyk    bool
}

var errNoCgo = errors.New("built without cgo (CGO_ENABLED=0)")

func turboLoad() error { return errNoCgo }

func turboReadHeader([]byte) (turboHeader, error) { return turboHeader{}, errNoCgo }

func turboDecode([]byte, raster.Image) error { return errNoCgo }

func turboDecodeStrict([]byte, raster.Image) error { return errNoCgo }

func turboEncode(raster.Image, int, func([]byte) error) error { return errNoCgo }

// cgoBuild says whether this build can call libjpeg-turbo at all.
const cgoBuild = false
