// Package imageio decodes and encodes image files for the pipeline: it turns a file found by
// package walk into a raster.Image, the uint8 interleaved pixels the GPU kernels take, and
// pixels back into JPEG, PNG, WebP or AVIF bytes.
//
// # Decoding
//
// A Decoder reads JPEG, PNG, GIF, BMP, TIFF, WebP, HEIC/HEIF and AVIF, each in the variants
// image tools write (see bmp.go, tiff.go, gif.go, webp.go and heif.go; HEIC and AVIF through
// libheif loaded at run time, see HEIFLib). Before it decodes anything it reads the
// image size from the header and refuses an image whose pixel count is over its limit, so a
// file that claims to be 100000×100000 costs nothing. It applies the EXIF orientation (or the
// TIFF tag, or XMP's tiff:Orientation; HEIF's own transformations for HEIC and AVIF), so the
// pixels come out the way a viewer shows them. Grayscale stays 1 channel, colour becomes 3
// (CMYK is converted to RGB), and an image whose alpha is used keeps 4 channels,
// non-premultiplied. Pixel buffers come from a Pool and go back to it with Release, so a long
// run does not churn the garbage collector.
//
// # Limits on work
//
// Pixels are not the only cost. A progressive JPEG is decoded in scans that each visit every
// 8×8 block again, and a scan can cost a few bytes: a 156 KB file of thousands of scans kept
// Go's decoder busy for 20 s. Before either JPEG decoder runs, a walk over the markers (one
// pass over the bytes, well under a millisecond for a photo) refuses a file with more scans
// than Decoder.MaxScans (100), more marker segments than MaxMarkers (1000), or scans that
// visit each block more than 32 times over, with ErrTooComplex and the reason. What
// libjpeg-turbo refuses for one of its own limits is not handed to Go's decoder.
//
// Every decode also has a time budget (MaxDecodeTime; by default 5 s plus 0.2 s per
// megapixel). Decode runs the decode on a goroutine of its own and returns as soon as its
// context is done or the budget is spent; the abandoned decode stops at its next read of the
// file (Go's decoders) or at the end of its call (libjpeg-turbo, bounded by the scan limits)
// and gives its buffers back. At most MaxAbandoned (4) abandoned decodes run on before new
// ones wait; Abandoned reports them and the memory they hold.
//
// # Unsupported versus corrupt
//
// A valid file of a kind the decoders do not read is ErrUnsupported, named from its header
// where the header says it ("unsupported: TIFF with LZMA compression", "64-bit BMP",
// "arithmetic-coded JPEG" without libjpeg-turbo, "HEIF/HEIC without libheif"), or from the
// decoders' UnsupportedError types; a file that breaks its format's rules is ErrCorrupt.
//
// # The fast JPEG path
//
// Go's image/jpeg decodes about 3× slower than libjpeg-turbo and always at full size. Where
// the program is built with cgo and libturbojpeg.so.0 can be loaded at run time, JPEG files
// are decoded by libjpeg-turbo instead, straight into the pooled buffer, and a Decoder told
// the smallest size an image may have (Decoder.MinSize, which a kernels plan answers with
// MinDecodeSize) decodes at 1/2, 1/4 or 1/8 of the stored size in the DCT domain when that
// still leaves that size (shrink-on-load, as vipsthumbnail does). The library is opened with
// dlopen and its few functions are declared here, so building needs neither its headers nor a
// build tag, and a binary built with cgo still runs, on the pure-Go decoder, where the library
// is absent. CGO_ENABLED=0 builds the pure-Go decoder only. TurboJPEG reports which path is in
// use; the environment variable GPUPIPE_TURBOJPEG set to "off" disables the library, and set
// to a file path loads that file instead.
//
// # Encoding
//
// An Encoder writes JPEG (at a quality, through libjpeg-turbo when loaded), PNG, WebP (lossy
// at a quality, or lossless) or AVIF (at a quality); alpha is flattened onto a background
// colour for JPEG and kept by the others. WebP and AVIF are written by libwebp and libavif
// compiled to WebAssembly (see encode_web.go), so every build writes them.
package imageio

import (
	"math/bits"
	"sync"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// newImage returns a packed w×h image with c channels whose pixels come from pool (which may
// be nil). Its contents are undefined.
func newImage(pool *Pool, w, h, c int) raster.Image {
	return raster.Image{Pix: pool.Get(w * h * c), Width: w, Height: h, Stride: w * c, Channels: c}
}

// row returns the bytes of row y that hold pixels.
func row(m *raster.Image, y int) []byte {
	off := y * m.Stride
	return m.Pix[off : off+m.Width*m.Channels]
}

// Pool recycles pixel and file buffers. Buffers are kept in size classes a quarter of a power
// of two apart, so a buffer handed out is at most 25% larger than asked for and images of
// similar sizes share buffers. The zero value is ready to use; a nil *Pool allocates every
// time and keeps nothing. A Pool is safe for concurrent use.
type Pool struct {
	classes sync.Map // class size → *sync.Pool of *[]byte
}

// minClassShift makes the smallest size step 4 KiB: smaller buffers are not worth pooling.
const minClassShift = 12

// classSize rounds n up to its size class.
func classSize(n int) int {
	shift := max(bits.Len(uint(n))-3, minClassShift)
	step := 1 << shift
	return (n + step - 1) &^ (step - 1)
}

// Get returns a buffer of length n. Its contents are undefined.
func (p *Pool) Get(n int) []byte {
	if n <= 0 {
		return nil
	}
	size := classSize(n)
	if p == nil {
		return make([]byte, n, size)
	}
	if sp, ok := p.classes.Load(size); ok {
		if b, ok := sp.(*sync.Pool).Get().(*[]byte); ok {
			return (*b)[:n]
		}
	}
	return make([]byte, n, size)
}

// Put gives b back for reuse. The caller must not use b afterwards. Buffers that did not come
// from Get are ignored.
func (p *Pool) Put(b []byte) {
	c := cap(b)
	if p == nil || c == 0 || classSize(c) != c {
		return
	}
	sp, ok := p.classes.Load(c)
	if !ok {
		sp, _ = p.classes.LoadOrStore(c, new(sync.Pool))
	}
	b = b[:0]
	sp.(*sync.Pool).Put(&b)
}
