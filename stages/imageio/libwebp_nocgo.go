//go:build !cgo

package imageio

import "github.com/gpupipe/gpupipe/gpu/raster"

// Without cgo, WebP is always written by the WebAssembly libwebp.

func libwebpLoad() error { return errNoCgo }

func libwebpEncode(raster.Image, int, bool, func([]byte) error) error { return errNoCgo }
