// Package imageio decodes and encodes image files for the pipeline: it turns a file found by
// package walk into a raster.Image, the uint8 interleaved pixels the GPU kernels take, and
// pixels back into JPEG, PNG, WebP or AVIF bytes.
//
// # Decoding
//
// A Decoder reads JPEG, PNG, GIF, BMP, TIFF, WebP, HEIC/HEIF and AVIF, each in the variants
// image tools write (see bmp.go, tiff.go, gif.go, webp.go and heif.go; HEIC and AVIF through
// libheif loaded at run time, see HEIFLib). Before it reads a file whole it checks its
// signature, so a gigabyte of junk named .png costs one small read; before it decodes
// anything it reads the image size from the header and refuses an image whose pixel count is
// over its limit, so a file that claims to be 100000×100000 costs nothing. Head does both from
// the file's first bytes and says what a decode will hold, for callers that admit decodes
// against a memory budget. It applies the EXIF orientation (or the
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
	"container/list"
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
//
// A Pool keeps at most MaxBytes of idle buffers: when a buffer given back would pass that,
// the buffers idle longest are let go first, and a buffer larger than a quarter of it is not
// kept at all. An outlier (one huge image) therefore does not stay in memory for the rest
// of a run, and what a long run keeps does not grow with the number of files or of distinct
// image sizes it has met.
type Pool struct {
	// MaxBytes bounds the idle buffers kept; 0 means DefaultPoolBytes.
	MaxBytes int64

	mu      sync.Mutex
	classes map[int][]*list.Element // class size → idle buffers, the newest last
	idle    list.List               // every idle buffer, the oldest first: *[]byte
	bytes   int64                   // capacity of the idle buffers
}

// DefaultPoolBytes is what a Pool keeps idle at most when its MaxBytes is 0: enough for the
// files and decoded pixels of a few photos.
const DefaultPoolBytes = 32 << 20

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
	p.mu.Lock()
	if free := p.classes[size]; len(free) > 0 {
		e := free[len(free)-1]
		p.classes[size] = free[:len(free)-1]
		b := p.idle.Remove(e).(*[]byte)
		p.bytes -= int64(size)
		p.mu.Unlock()
		return (*b)[:n]
	}
	p.mu.Unlock()
	return make([]byte, n, size)
}

// Put gives b back for reuse. The caller must not use b afterwards. Buffers that did not come
// from Get are ignored.
func (p *Pool) Put(b []byte) {
	c := cap(b)
	if p == nil || c == 0 || classSize(c) != c {
		return
	}
	max := p.MaxBytes
	if max <= 0 {
		max = DefaultPoolBytes
	}
	if int64(c) > max/4 {
		return // an outlier: left to the collector
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.classes == nil {
		p.classes = map[int][]*list.Element{}
	}
	for p.bytes+int64(c) > max {
		p.evictOldest()
	}
	b = b[:0]
	p.classes[c] = append(p.classes[c], p.idle.PushBack(&b))
	p.bytes += int64(c)
}

// Idle is the capacity of the buffers the pool keeps now.
func (p *Pool) Idle() int64 {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}

// evictOldest lets the buffer idle longest go. Called with mu held and a buffer idle.
func (p *Pool) evictOldest() {
	e := p.idle.Front()
	c := cap(*p.idle.Remove(e).(*[]byte))
	p.bytes -= int64(c)
	free := p.classes[c]
	// The oldest buffer of its class is the first of its list.
	copy(free, free[1:])
	free[len(free)-1] = nil
	if free = free[:len(free)-1]; len(free) == 0 {
		delete(p.classes, c)
	} else {
		p.classes[c] = free
	}
}
