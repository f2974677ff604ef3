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
static int (*wp_info)(const uint8_t *, size_t, int *, int *);
static uint8_t *(*wp_dec_rgb)(const uint8_t *, size_t, uint8_t *, size_t, int);
static uint8_t *(*wp_dec_rgba)(const uint8_t *, size_t, uint8_t *, size_t, int);

static const char *gp_webp_open(const char *name) {
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!lib) return dlerror();
#define LOAD(var, sym) if (!(*(void **)(&var) = dlsym(lib, sym))) return "symbol " sym " not found";
	LOAD(wp_rgb, "WebPEncodeRGB")
	LOAD(wp_rgba, "WebPEncodeRGBA")
	LOAD(wp_ll_rgb, "WebPEncodeLosslessRGB")
	LOAD(wp_ll_rgba, "WebPEncodeLosslessRGBA")
	LOAD(wp_free, "WebPFree")
	LOAD(wp_info, "WebPGetInfo")
	LOAD(wp_dec_rgb, "WebPDecodeRGBInto")
	LOAD(wp_dec_rgba, "WebPDecodeRGBAInto")
#undef LOAD
	return NULL;
}

static size_t gp_webp_encode(const uint8_t *pix, int w, int h, int stride, int alpha, int lossless,
		float q, uint8_t **out) {
	if (lossless) return alpha ? wp_ll_rgba(pix, w, h, stride, out) : wp_ll_rgb(pix, w, h, stride, out);
	return alpha ? wp_rgba(pix, w, h, stride, q, out) : wp_rgb(pix, w, h, stride, q, out);
}

static void gp_webp_free(uint8_t *p) { wp_free(p); }

// gp_webp_decode decodes a still WebP into dst (RGB or RGBA, w×h at stride) after checking
// its size. It returns 0 on success.
static int gp_webp_decode(const uint8_t *data, size_t n, uint8_t *dst, size_t size, int stride,
		int w, int h, int alpha) {
	int fw = 0, fh = 0;
	if (!wp_info(data, n, &fw, &fh) || fw != w || fh != h) return 1;
	uint8_t *r = alpha ? wp_dec_rgba(data, n, dst, size, stride) : wp_dec_rgb(data, n, dst, size, stride);
	return r == NULL ? 2 : 0;
}
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

// libwebpDecode decodes a still WebP into dst, of 3 or 4 channels, whose size must be the
// file's.
func libwebpDecode(data []byte, dst raster.Image) error {
	alpha := C.int(0)
	if dst.Channels == 4 {
		alpha = 1
	}
	if rc := C.gp_webp_decode((*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data)),
		(*C.uint8_t)(unsafe.Pointer(&dst.Pix[0])), C.size_t(len(dst.Pix)), C.int(dst.Stride),
		C.int(dst.Width), C.int(dst.Height), alpha); rc != 0 {
		return errors.New("libwebp cannot decode it")
	}
	return nil
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
