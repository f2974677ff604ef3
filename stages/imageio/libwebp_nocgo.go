//go:build !cgo

package imageio

import "github.com/gpupipe/gpupipe/gpu/raster"

// Without cgo, WebP is always written by the WebAssembly libwebp and read by
// golang.org/x/image/webp.

func libwebpLoad() error { return errNoCgo }

func libwebpEncode(raster.Image, int, bool, func([]byte) error) error { return errNoCgo }

func libwebpDecode([]byte, raster.Image) error { return errNoCgo }
