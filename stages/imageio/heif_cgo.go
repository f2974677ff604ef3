//go:build cgo

package imageio

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

// The libheif functions used here, declared as in heif.h of libheif 1.x, which keeps them
// stable: the library's headers are not needed to build, and the library is only needed to
// read HEIC and AVIF files.
struct heif_error { int code; int subcode; const char *message; };
struct heif_decoding_options_prefix {
	uint8_t version;
	uint8_t ignore_transformations;
	void (*start_progress)(int, int, void *);
	void (*on_progress)(int, int, void *);
	void (*end_progress)(int, void *);
	void *progress_user_data;
	uint8_t convert_hdr_to_8bit; // version 2 and later
};
typedef void heif_context;
typedef void heif_handle;
typedef void heif_image;

static heif_context *(*hf_context_alloc)(void);
static void (*hf_context_free)(heif_context *);
static struct heif_error (*hf_read_memory)(heif_context *, const void *, size_t, const void *);
static struct heif_error (*hf_primary_handle)(heif_context *, heif_handle **);
static int (*hf_handle_width)(const heif_handle *);
static int (*hf_handle_height)(const heif_handle *);
static int (*hf_handle_has_alpha)(const heif_handle *);
static void (*hf_handle_release)(const heif_handle *);
static struct heif_decoding_options_prefix *(*hf_options_alloc)(void);
static void (*hf_options_free)(struct heif_decoding_options_prefix *);
static struct heif_error (*hf_decode)(const heif_handle *, heif_image **, int, int, const void *);
static const uint8_t *(*hf_plane)(const heif_image *, int, int *);
static void (*hf_image_release)(const heif_image *);
static size_t (*hf_profile_size)(const heif_handle *);
static struct heif_error (*hf_profile)(const heif_handle *, void *);

static const char *gp_heif_open(const char *name) {
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!lib) return dlerror();
#define LOAD(var, sym) if (!(*(void **)(&var) = dlsym(lib, sym))) return "symbol " sym " not found";
	LOAD(hf_context_alloc, "heif_context_alloc")
	LOAD(hf_context_free, "heif_context_free")
	LOAD(hf_read_memory, "heif_context_read_from_memory_without_copy")
	LOAD(hf_primary_handle, "heif_context_get_primary_image_handle")
	LOAD(hf_handle_width, "heif_image_handle_get_width")
	LOAD(hf_handle_height, "heif_image_handle_get_height")
	LOAD(hf_handle_has_alpha, "heif_image_handle_has_alpha_channel")
	LOAD(hf_handle_release, "heif_image_handle_release")
	LOAD(hf_options_alloc, "heif_decoding_options_alloc")
	LOAD(hf_options_free, "heif_decoding_options_free")
	LOAD(hf_decode, "heif_decode_image")
	LOAD(hf_plane, "heif_image_get_plane_readonly")
	LOAD(hf_image_release, "heif_image_release")
	LOAD(hf_profile_size, "heif_image_handle_get_raw_color_profile_size")
	LOAD(hf_profile, "heif_image_handle_get_raw_color_profile")
#undef LOAD
	return NULL;
}

// gp_heif_open_file parses a file held in memory (which must outlive the context) and finds
// its primary image. It returns NULL or the reason it failed.
static const char *gp_heif_open_file(const void *data, size_t n, heif_context **ctx, heif_handle **h,
		int *w, int *ht, int *alpha) {
	*ctx = hf_context_alloc();
	if (!*ctx) return "out of memory";
	struct heif_error e = hf_read_memory(*ctx, data, n, NULL);
	if (e.code) return e.message;
	e = hf_primary_handle(*ctx, h);
	if (e.code) return e.message;
	*w = hf_handle_width(*h);
	*ht = hf_handle_height(*h);
	*alpha = hf_handle_has_alpha(*h);
	return NULL;
}

static void gp_heif_close(heif_context *ctx, heif_handle *h) {
	if (h) hf_handle_release(h);
	if (ctx) hf_context_free(ctx);
}

// gp_heif_decode decodes the primary image to 8-bit interleaved RGB (chroma 10) or RGBA
// (11), with its transformations (rotation, mirror, crop) applied, into dst of w×h pixels and
// the given stride.
static const char *gp_heif_decode(heif_handle *h, int chroma, uint8_t *dst, int w, int ht, int stride) {
	struct heif_decoding_options_prefix *o = hf_options_alloc();
	if (o && o->version >= 2) o->convert_hdr_to_8bit = 1;
	heif_image *img = NULL;
	struct heif_error e = hf_decode(h, &img, 1, chroma, o);
	if (o) hf_options_free(o);
	if (e.code) return e.message;
	int sstride = 0;
	const uint8_t *src = hf_plane(img, 10, &sstride);
	int bpp = chroma == 11 ? 4 : 3;
	if (!src || sstride < w * bpp) {
		hf_image_release(img);
		return "no interleaved plane of the expected size";
	}
	for (int y = 0; y < ht; y++) {
		const uint8_t *s = src + (size_t)y * sstride;
		uint8_t *d = dst + (size_t)y * stride;
		for (int x = 0; x < w * bpp; x++) d[x] = s[x];
	}
	hf_image_release(img);
	return NULL;
}

static size_t gp_heif_profile_size(heif_handle *h) { return hf_profile_size(h); }
static int gp_heif_profile(heif_handle *h, void *dst) { return hf_profile(h, dst).code; }
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

var heifLib struct {
	once sync.Once
	err  error
}

// heifLoad opens libheif once per process: the file named by GPUPIPE_LIBHEIF, or
// libheif.so.1; GPUPIPE_LIBHEIF=off disables it.
func heifLoad() error {
	heifLib.once.Do(func() {
		name := "libheif.so.1"
		switch v := os.Getenv("GPUPIPE_LIBHEIF"); {
		case v == "off":
			heifLib.err = errors.New("disabled by GPUPIPE_LIBHEIF=off")
			return
		case v != "":
			name = v
		}
		cname := C.CString(name)
		defer C.free(unsafe.Pointer(cname))
		if msg := C.gp_heif_open(cname); msg != nil {
			heifLib.err = fmt.Errorf("loading %s: %s", name, C.GoString(msg))
		}
	})
	return heifLib.err
}

// heifFile is a parsed HEIF or AVIF file, open on its primary image. data is pinned in C
// memory terms by keeping it referenced until close.
type heifFile struct {
	ctx, h        unsafe.Pointer
	width, height int
	alpha         bool
	data          []byte
	pin           runtime.Pinner
}

// heifOpen parses data, which must not change until close, and reads its primary image's
// size as shown (after its rotation and crop).
func heifOpen(data []byte) (*heifFile, error) {
	if err := heifLoad(); err != nil {
		return nil, err
	}
	f := &heifFile{data: data}
	f.pin.Pin(&data[0])
	var w, h, alpha C.int
	msg := C.gp_heif_open_file(unsafe.Pointer(&data[0]), C.size_t(len(data)), &f.ctx, &f.h, &w, &h, &alpha)
	if msg != nil {
		err := errors.New(C.GoString(msg))
		f.close()
		return nil, err
	}
	f.width, f.height, f.alpha = int(w), int(h), alpha != 0
	return f, nil
}

func (f *heifFile) close() {
	C.gp_heif_close(f.ctx, f.h)
	f.ctx, f.h = nil, nil
	f.pin.Unpin()
}

// decode decodes the primary image into dst, which must be width×height with 3 channels, or
// 4 when the image has alpha.
func (f *heifFile) decode(dst raster.Image) error {
	chroma := C.int(10)
	if dst.Channels == 4 {
		chroma = 11
	}
	if msg := C.gp_heif_decode(f.h, chroma, (*C.uint8_t)(unsafe.Pointer(&dst.Pix[0])), C.int(dst.Width),
		C.int(dst.Height), C.int(dst.Stride)); msg != nil {
		return errors.New(C.GoString(msg))
	}
	return nil
}

// iccProfile returns the image's ICC profile, or nil when it has none (or an nclx colour
// description instead).
func (f *heifFile) iccProfile() []byte {
	n := int(C.gp_heif_profile_size(f.h))
	if n <= 0 || n > 64<<20 {
		return nil
	}
	p := make([]byte, n)
	if C.gp_heif_profile(f.h, unsafe.Pointer(&p[0])) != 0 {
		return nil
	}
	return p
}
