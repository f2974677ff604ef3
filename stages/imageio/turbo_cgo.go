//go:build cgo

package imageio

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// The TurboJPEG functions used here, declared as in turbojpeg.h of libjpeg-turbo 2.x and
// 3.x, which keep them for compatibility. Declaring them here means the library's headers
// are not needed to build, and the library is only needed to run the fast path.
typedef void *tjhandle;

static tjhandle (*tj_init_decompress)(void);
static tjhandle (*tj_init_compress)(void);
static int (*tj_decompress_header3)(tjhandle, const unsigned char *, unsigned long, int *, int *, int *, int *);
static int (*tj_decompress2)(tjhandle, const unsigned char *, unsigned long, unsigned char *, int, int, int, int, int);
static int (*tj_compress2)(tjhandle, const unsigned char *, int, int, int, int, unsigned char **, unsigned long *, int, int, int);
static void (*tj_free)(unsigned char *);
static int (*tj_destroy)(tjhandle);
static char *(*tj_get_error_str2)(tjhandle);
static int (*tj_get_error_code)(tjhandle);

// gp_tj_open loads the library and its functions. It returns NULL or the reason it failed.
static const char *gp_tj_open(const char *name) {
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!lib) return dlerror();
#define LOAD(var, sym) if (!(*(void **)(&var) = dlsym(lib, sym))) return "symbol " sym " not found";
	LOAD(tj_init_decompress, "tjInitDecompress")
	LOAD(tj_init_compress, "tjInitCompress")
	LOAD(tj_decompress_header3, "tjDecompressHeader3")
	LOAD(tj_decompress2, "tjDecompress2")
	LOAD(tj_compress2, "tjCompress2")
	LOAD(tj_free, "tjFree")
	LOAD(tj_destroy, "tjDestroy")
	LOAD(tj_get_error_str2, "tjGetErrorStr2")
	LOAD(tj_get_error_code, "tjGetErrorCode")
#undef LOAD
	return NULL;
}

static tjhandle gp_tj_init_decompress(void) { return tj_init_decompress(); }
static tjhandle gp_tj_init_compress(void) { return tj_init_compress(); }
static int gp_tj_destroy(tjhandle h) { return tj_destroy(h); }
static const char *gp_tj_error(tjhandle h) { return tj_get_error_str2(h); }
static int gp_tj_error_code(tjhandle h) { return tj_get_error_code(h); }

static int gp_tj_header(tjhandle h, const unsigned char *buf, unsigned long n,
		int *w, int *ht, int *sub, int *cs) {
	return tj_decompress_header3(h, buf, n, w, ht, sub, cs);
}

static int gp_tj_decompress(tjhandle h, const unsigned char *buf, unsigned long n,
		unsigned char *dst, int w, int pitch, int ht, int pf, int flags) {
	return tj_decompress2(h, buf, n, dst, w, pitch, ht, pf, flags);
}

static int gp_tj_compress(tjhandle h, const unsigned char *src, int w, int pitch, int ht, int pf,
		unsigned char **out, unsigned long *n, int sub, int q, int flags) {
	return tj_compress2(h, src, w, pitch, ht, pf, out, n, sub, q, flags);
}

static void gp_tj_free(unsigned char *p) { tj_free(p); }
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// TurboJPEG pixel formats, colour spaces, subsampling and flags, from turbojpeg.h.
const (
	tjpfRGB  = 0
	tjpfGray = 6

	tjcsGray = 2
	tjcsCMYK = 3
	tjcsYCCK = 4

	tjsamp420  = 2
	tjsampGray = 3

	tjflagLimitScans    = 32768 // refuse progressive files with absurd scan counts (2.1+; ignored before)
	tjflagStopOnWarning = 8192  // stop at the first warning (tests: libjpeg reports only the first)

	tjerrWarning = 0
)

var turbo struct {
	once sync.Once
	err  error
	// Handles are not safe for concurrent use and cost an allocation to make: idle ones wait
	// here for the next call.
	decoders, encoders chan C.tjhandle
}

// turboLoad opens libturbojpeg once per process.
func turboLoad() error {
	turbo.once.Do(func() {
		name := "libturbojpeg.so.0"
		switch v := os.Getenv("GPUPIPE_TURBOJPEG"); {
		case v == "off":
			turbo.err = errors.New("disabled by GPUPIPE_TURBOJPEG=off")
			return
		case v != "":
			name = v
		}
		cname := C.CString(name)
		defer C.free(unsafe.Pointer(cname))
		if msg := C.gp_tj_open(cname); msg != nil {
			turbo.err = fmt.Errorf("loading %s: %s", name, C.GoString(msg))
			return
		}
		turbo.decoders = make(chan C.tjhandle, 64)
		turbo.encoders = make(chan C.tjhandle, 64)
	})
	return turbo.err
}

func getHandle(pool chan C.tjhandle, compress bool) (C.tjhandle, error) {
	select {
	case h := <-pool:
		return h, nil
	default:
	}
	var h C.tjhandle
	if compress {
		h = C.gp_tj_init_compress()
	} else {
		h = C.gp_tj_init_decompress()
	}
	if h == nil {
		return nil, errors.New("libjpeg-turbo: cannot create a handle (out of memory)")
	}
	return h, nil
}

func putHandle(pool chan C.tjhandle, h C.tjhandle) {
	select {
	case pool <- h:
	default:
		C.gp_tj_destroy(h)
	}
}

// turboHeader is what libjpeg-turbo reads from a JPEG header.
type turboHeader struct {
	width, height int
	gray          bool // one component: decode to 1 channel
	cmyk          bool // CMYK or YCCK: left to the pure-Go decoder, which converts it
}

func turboReadHeader(data []byte) (turboHeader, error) {
	if err := turboLoad(); err != nil {
		return turboHeader{}, err
	}
	h, err := getHandle(turbo.decoders, false)
	if err != nil {
		return turboHeader{}, err
	}
	var w, ht, sub, cs C.int
	if C.gp_tj_header(h, (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), &w, &ht, &sub, &cs) != 0 {
		if err := turboError(h); err != nil {
			dropHandle(h)
			return turboHeader{}, err
		}
	}
	putHandle(turbo.decoders, h)
	return turboHeader{width: int(w), height: int(ht), gray: cs == tjcsGray, cmyk: cs == tjcsCMYK || cs == tjcsYCCK}, nil
}

// dropHandle destroys a handle that failed instead of pooling it: libjpeg keeps what a
// stream defined (Huffman and quantisation tables) in its decompressor for the next one, so a
// handle that read a damaged file can fail a good one ("Bogus Huffman table definition").
func dropHandle(h C.tjhandle) { C.gp_tj_destroy(h) }

// turboDecode decodes data into dst, which holds w×h pixels of c channels (1 or 3), w and h
// being the scaled size.
func turboDecode(data []byte, dst raster.Image) error {
	return turboDecodeFlags(data, dst, tjflagLimitScans)
}

// turboDecodeStrict is turboDecode failing at any warning: libjpeg keeps the text of the
// first warning only, so turboDecode, which forgives extraneous bytes, cannot tell that a
// later one was corrupt data.
func turboDecodeStrict(data []byte, dst raster.Image) error {
	return turboDecodeFlags(data, dst, tjflagLimitScans|tjflagStopOnWarning)
}

func turboDecodeFlags(data []byte, dst raster.Image, flags C.int) error {
	h, err := getHandle(turbo.decoders, false)
	if err != nil {
		return err
	}
	pf := C.int(tjpfRGB)
	if dst.Channels == 1 {
		pf = tjpfGray
	}
	rc := C.gp_tj_decompress(h, (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)),
		(*C.uchar)(unsafe.Pointer(&dst.Pix[0])), C.int(dst.Width), C.int(dst.Stride), C.int(dst.Height),
		pf, flags)
	if rc != 0 {
		err := turboError(h)
		if flags&tjflagStopOnWarning != 0 && err == nil {
			err = errors.New(strings.TrimSpace(C.GoString(C.gp_tj_error(h))))
		}
		dropHandle(h) // even after a warning that turboError forgives
		return err
	}
	putHandle(turbo.decoders, h)
	return nil
}

// turboError describes the last failure on h. Warnings count as failures (a truncated file
// is a warning to libjpeg, which fills the rest with gray), except extraneous bytes between
// segments, which many cameras write and which lose nothing.
func turboError(h C.tjhandle) error {
	msg := C.GoString(C.gp_tj_error(h))
	if C.gp_tj_error_code(h) == tjerrWarning && strings.Contains(msg, "extraneous bytes") {
		return nil
	}
	return errors.New(strings.TrimSpace(msg))
}

// turboEncode compresses img (1 or 3 channels) at quality q with 4:2:0 chroma subsampling,
// the choice of Go's encoder too, and returns the JPEG bytes to give to put, which must
// copy them.
func turboEncode(img raster.Image, q int, put func([]byte) error) error {
	h, err := getHandle(turbo.encoders, true)
	if err != nil {
		return err
	}
	defer putHandle(turbo.encoders, h)
	pf, sub := C.int(tjpfRGB), C.int(tjsamp420)
	if img.Channels == 1 {
		pf, sub = tjpfGray, tjsampGray
	}
	var out *C.uchar
	var n C.ulong
	rc := C.gp_tj_compress(h, (*C.uchar)(unsafe.Pointer(&img.Pix[0])), C.int(img.Width), C.int(img.Stride),
		C.int(img.Height), pf, &out, &n, sub, C.int(q), 0)
	if out != nil {
		defer C.gp_tj_free(out)
	}
	if rc != 0 {
		if err := turboError(h); err != nil {
			return fmt.Errorf("libjpeg-turbo: %w", err)
		}
	}
	return put(unsafe.Slice((*byte)(unsafe.Pointer(out)), int(n)))
}

// cgoBuild says whether this build can call libjpeg-turbo at all.
const cgoBuild = true
