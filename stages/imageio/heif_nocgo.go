//go:build !cgo

package imageio

import (
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Without cgo there is no way to call libheif: HEIC files are unsupported and AVIF files are
// decoded by github.com/gen2brain/avif's WebAssembly libavif.

type heifFile struct {
	ctx, h        unsafe.Pointer
	width, height int
	alpha         bool
}

func heifLoad() error { return errNoCgo }

func heifOpen([]byte) (*heifFile, error) { return nil, errNoCgo }

func (f *heifFile) close() {}

func (f *heifFile) decode(raster.Image) error { return errNoCgo }

func (f *heifFile) iccProfile() []byte { return nil }
