//go:build cgo

package icc

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// The Little CMS 2 functions used here, declared as in lcms2.h, so that neither its headers
// nor the library are needed to build; the library is only needed to convert LUT-based
// profiles.
typedef void *cmsH;

static cmsH (*cms_open_mem)(const void *, unsigned int);
static cmsH (*cms_create_srgb)(void);
static cmsH (*cms_create_xform)(cmsH, unsigned int, cmsH, unsigned int, unsigned int, unsigned int);
static void (*cms_do_xform)(cmsH, const void *, void *, unsigned int);
static void (*cms_delete_xform)(cmsH);
static int (*cms_close)(cmsH);

static const char *gp_cms_open(const char *name) {
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!lib) return dlerror();
#define LOAD(var, sym) if (!(*(void **)(&var) = dlsym(lib, sym))) return "symbol " sym " not found";
	LOAD(cms_open_mem, "cmsOpenProfileFromMem")
	LOAD(cms_create_srgb, "cmsCreate_sRGBProfile")
	LOAD(cms_create_xform, "cmsCreateTransform")
	LOAD(cms_do_xform, "cmsDoTransform")
	LOAD(cms_delete_xform, "cmsDeleteTransform")
	LOAD(cms_close, "cmsCloseProfile")
#undef LOAD
	return NULL;
}

// gp_cms_xform makes a transform from the profile in mem to sRGB, or returns NULL.
static cmsH gp_cms_xform(const void *mem, unsigned int n, unsigned int in_fmt, unsigned int out_fmt,
		unsigned int intent, unsigned int flags) {
	cmsH src = cms_open_mem(mem, n);
	if (!src) return NULL;
	cmsH dst = cms_create_srgb();
	if (!dst) { cms_close(src); return NULL; }
	cmsH x = cms_create_xform(src, in_fmt, dst, out_fmt, intent, flags);
	cms_close(src);
	cms_close(dst);
	return x;
}

static void gp_cms_do(cmsH x, const void *in, void *out, unsigned int n) { cms_do_xform(x, in, out, n); }
static void gp_cms_delete(cmsH x) { cms_delete_xform(x); }
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Pixel formats (lcms2.h's TYPE_* macros) and flags.
const (
	typeRGB8  = 4<<16 | 3<<3 | 1        // TYPE_RGB_8
	typeRGBA8 = 4<<16 | 1<<7 | 3<<3 | 1 // TYPE_RGBA_8
	typeCMYK8 = 6<<16 | 4<<3 | 1        // TYPE_CMYK_8: 0 is no ink, as in image.CMYK
	// intentRelative is INTENT_RELATIVE_COLORIMETRIC, what the matrix path computes and
	// vips's default.
	intentRelative = 1
	// flagNoCache makes a transform safe to use from several goroutines at once;
	// flagCopyAlpha copies the fourth channel.
	flagNoCache   = 0x0040
	flagCopyAlpha = 0x04000000
)

var lcms struct {
	once sync.Once
	err  error
}

// LittleCMS reports whether Little CMS (liblcms2.so.2) is loaded in this process, and if not,
// why. GPUPIPE_LCMS=off disables it; set to a path, it loads that file instead.
func LittleCMS() error {
	lcms.once.Do(func() {
		name := "liblcms2.so.2"
		switch v := os.Getenv("GPUPIPE_LCMS"); {
		case v == "off":
			lcms.err = errors.New("disabled by GPUPIPE_LCMS=off")
			return
		case v != "":
			name = v
		}
		cname := C.CString(name)
		defer C.free(unsafe.Pointer(cname))
		if msg := C.gp_cms_open(cname); msg != nil {
			lcms.err = fmt.Errorf("loading %s: %s", name, C.GoString(msg))
		}
	})
	return lcms.err
}

// cmsTransform is a Little CMS transform to sRGB: for 3- or 4-channel images from an RGB
// profile, or for CMYK pixels from a CMYK profile.
type cmsTransform struct {
	rgb, rgba C.cmsH
	cmyk      C.cmsH
}

// newCMYKTransform makes the transform from CMYK profile icc to sRGB.
func newCMYKTransform(icc []byte) (*cmsTransform, error) {
	if err := LittleCMS(); err != nil {
		return nil, err
	}
	mem := C.CBytes(icc)
	defer C.free(mem)
	t := &cmsTransform{cmyk: C.gp_cms_xform(mem, C.uint(len(icc)), typeCMYK8, typeRGB8, intentRelative, flagNoCache)}
	if t.cmyk == nil {
		return nil, errors.New("Little CMS cannot make a transform from this CMYK profile to sRGB")
	}
	runtime.SetFinalizer(t, (*cmsTransform).free)
	return t, nil
}

// applyCMYK converts the CMYK pixels of m into a new 3-channel image.
func (t *cmsTransform) applyCMYK(m *image.CMYK) raster.Image {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out, _ := raster.NewImage(w, h, 3)
	for y := range h {
		src := m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y+y):]
		C.gp_cms_do(t.cmyk, unsafe.Pointer(&src[0]), unsafe.Pointer(&out.Pix[y*out.Stride]), C.uint(w))
	}
	runtime.KeepAlive(t)
	return out
}

// newCMSTransform makes the transforms from profile icc to sRGB.
func newCMSTransform(icc []byte) (*cmsTransform, error) {
	if err := LittleCMS(); err != nil {
		return nil, err
	}
	mem := C.CBytes(icc)
	defer C.free(mem)
	t := &cmsTransform{
		rgb:  C.gp_cms_xform(mem, C.uint(len(icc)), typeRGB8, typeRGB8, intentRelative, flagNoCache),
		rgba: C.gp_cms_xform(mem, C.uint(len(icc)), typeRGBA8, typeRGBA8, intentRelative, flagNoCache|flagCopyAlpha),
	}
	if t.rgb == nil || t.rgba == nil {
		t.free()
		return nil, errors.New("Little CMS cannot make a transform from this profile to sRGB")
	}
	runtime.SetFinalizer(t, (*cmsTransform).free)
	return t, nil
}

func (t *cmsTransform) free() {
	for _, x := range []*C.cmsH{&t.rgb, &t.rgba, &t.cmyk} {
		if *x != nil {
			C.gp_cms_delete(*x)
			*x = nil
		}
	}
}

// apply converts img in place, row by row.
func (t *cmsTransform) apply(img raster.Image) error {
	x := t.rgb
	switch img.Channels {
	case 3:
	case 4:
		x = t.rgba
	default:
		return fmt.Errorf("Little CMS: %d-channel image with an RGB profile", img.Channels)
	}
	if err := img.Check(); err != nil {
		return err
	}
	// Into a copy of each row: Little CMS does not promise that a transform may work in
	// place.
	tmp := make([]byte, img.Width*img.Channels)
	for y := range img.Height {
		copy(tmp, img.Pix[y*img.Stride:])
		C.gp_cms_do(x, unsafe.Pointer(&tmp[0]), unsafe.Pointer(&img.Pix[y*img.Stride]), C.uint(img.Width))
	}
	runtime.KeepAlive(t)
	return nil
}
