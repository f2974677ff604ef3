//go:build !cgo

package icc

import (
	"errors"
	"image"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Without cgo Little CMS cannot be called: LUT-based profiles are not converted.

// LittleCMS reports whether Little CMS (liblcms2.so.2) is loaded in this process, and if not,
// why.
func LittleCMS() error { return errors.New("built without cgo (CGO_ENABLED=0)") }

type cmsTransform struct{}

func newCMSTransform([]byte) (*cmsTransform, error) { return nil, LittleCMS() }

func (*cmsTransform) apply(raster.Image) error { return LittleCMS() }

func newCMYKTransform([]byte) (*cmsTransform, error) { return nil, LittleCMS() }

func (*cmsTransform) applyCMYK(*image.CMYK) raster.Image { return raster.Image{} }
