//go:build cgo

package imageio

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

// libwebp's simple encoding API (encode.h, stable since 0.2), declared here so that building
// needs no headers and running does not need the library.
static size_t (*wp_rgb)(const uint8_t *, int, int, int, float, uint8_t **);
static size_t (*wp_rgba)(const uint8_t *, int, int, int, float, uint8_t **);
static size_t (*wp_ll_rgb)(const uint8_t *, int, int, int, uint8_t **);
static size_t (*wp_ll_rgba)(const uint8_t *, int, int, int, uint8_t **);
static void (*wp_free)(void *);

static const char *gp_webp_open(const char *name) {
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!lib) return dlerror();
#define LOAD(var, sym) if (!(*(void **)(&var) = dlsym(lib, sym))) return "symbol " sym " not found";
	LOAD(wp_rgb, "WebPEncodeRGB")
	LOAD(wp_rgba, "WebPEncodeRGBA")
	LOAD(wp_ll_rgb, "WebPEncodeLosslessRGB")
	LOAD(wp_ll_rgba, "WebPEncodeLosslessRGBA")
	LOAD(wp_free, "WebPFree")
#undef LOAD
	return NULL;
}

static size_t gp_webp_encode(const uint8_t *pix, int w, int h, int stride, int alpha, int lossless,
		float q, uint8_t **out) {
	if (lossless) return alpha ? wp_ll_rgba(pix, w, h, stride, out) : wp_ll_rgb(pix, w, h, stride, out);
	return alpha ? wp_rgba(pix, w, h, stride, q, out) : wp_rgb(pix, w, h, stride, q, out);
}

static void gp_webp_free(uint8_t *p) { wp_free(p); }
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

var libwebp struct {
	once sync.Once
	err  error
}

// libwebpLoad opens libwebp once per process: the file GPUPIPE_LIBWEBP names, or
// libwebp.so.7; GPUPIPE_LIBWEBP=off disables it.
func libwebpLoad() error {
	libwebp.once.Do(func() {
		name := "libwebp.so.7"
		switch v := os.Getenv("GPUPIPE_LIBWEBP"); {
		case v == "off":
			libwebp.err = errors.New("disabled by GPUPIPE_LIBWEBP=off")
			return
		case v != "":
			name = v
		}
		cname := C.CString(name)
		defer C.free(unsafe.Pointer(cname))
		if msg := C.gp_webp_open(cname); msg != nil {
			libwebp.err = fmt.Errorf("loading %s: %s", name, C.GoString(msg))
		}
	})
	return libwebp.err
}

// libwebpEncode encodes img (3 or 4 channels) and hands the bytes to put, which must copy
// them.
func libwebpEncode(img raster.Image, quality int, lossless bool, put func([]byte) error) error {
	var out *C.uint8_t
	alpha, ll := C.int(0), C.int(0)
	if img.Channels == 4 {
		alpha = 1
	}
	if lossless {
		ll = 1
	}
	n := C.gp_webp_encode((*C.uint8_t)(unsafe.Pointer(&img.Pix[0])), C.int(img.Width), C.int(img.Height),
		C.int(img.Stride), alpha, ll, C.float(quality), &out)
	if out != nil {
		defer C.gp_webp_free(out)
	}
	if n == 0 {
		return errors.New("libwebp: encoding failed")
	}
	return put(unsafe.Slice((*byte)(unsafe.Pointer(out)), int(n)))
}
