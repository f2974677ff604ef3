package imageio

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// Default limits of a Decoder whose limits are zero.
const (
	// DefaultMaxPixels is 100 megapixels: above any camera in common use, and 300 MB of RGB.
	DefaultMaxPixels = 100_000_000
	// DefaultMaxFileSize is 1 GiB: a file is read whole before it is decoded.
	DefaultMaxFileSize = 1 << 30
	// DefaultMaxScans is ten times the scans of a progressive JPEG from a common encoder
	// (libjpeg's default progression has 10) and a fifth of libjpeg-turbo's own limit.
	DefaultMaxScans = 100
	// DefaultMaxMarkers is far above the marker segments of any camera's or editor's JPEG
	// (a few dozen; a large ICC profile split into APP2 segments adds at most 255).
	DefaultMaxMarkers = 1000
	// DefaultDecodeTime and DefaultDecodeTimePerMegapixel make the time budget of a decode
	// whose Decoder.MaxDecodeTime is 0: 5 s plus 0.2 s per megapixel of the header's size,
	// 7.4 s for a 12-megapixel photo and 25 s at DefaultMaxPixels. Go's decoders take about
	// 0.03 s per megapixel and libjpeg-turbo a third of that, so only a file built to be slow
	// or a machine with far more decoders than cores meets the budget.
	DefaultDecodeTime             = 5 * time.Second
	DefaultDecodeTimePerMegapixel = 200 * time.Millisecond
	// DefaultMaxAbandoned is the number of abandoned decodes (see Decoder.MaxAbandoned)
	// allowed to run on before new decodes wait for them.
	DefaultMaxAbandoned = 4
)

// Errors a Decoder returns, wrapped in an *Error naming the file. Test with errors.Is.
var (
	ErrEmpty         = errors.New("empty file")
	ErrUnknownFormat = errors.New("not an image in a known format (JPEG, PNG, GIF, BMP, TIFF, WebP, HEIF, AVIF)")
	ErrTooLarge      = errors.New("image too large")
	// ErrTooComplex is a file whose decoding would cost far more than its pixels: a JPEG
	// with too many scans or marker segments, or any image not decoded within the time
	// budget.
	ErrTooComplex = errors.New("too costly to decode")
	// ErrCorrupt is a file that breaks its format's rules.
	ErrCorrupt = errors.New("corrupt image")
	// ErrUnsupported is a valid file of a kind the decoders do not read, such as a TIFF with
	// JPEG compression, a CMYK or floating-point TIFF, or an animated WebP: "unsupported: TIFF
	// with JPEG compression".
	ErrUnsupported = errors.New("unsupported")
)

// Error is a failure to read or decode one file.
type Error struct {
	Path string
	Err  error
}

func (e *Error) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Decoder decodes image files into Images. The zero value decodes at full size, applies the
// EXIF orientation, keeps each image's own channel count, uses libjpeg-turbo where it can be
// loaded, and allocates every buffer. A Decoder is safe for concurrent use once configured.
type Decoder struct {
	// MaxPixels refuses images whose header gives more pixels than this, before decoding;
	// 0 means DefaultMaxPixels and a negative value means no limit.
	MaxPixels int64
	// MaxFileSize refuses larger files before reading them; 0 means DefaultMaxFileSize and a
	// negative value means no limit.
	MaxFileSize int64
	// MaxScans refuses, before decoding, a JPEG with more scans than this, or whose scans
	// visit each 8×8 block more than 32 times over (a baseline JPEG visits each once, a
	// progressive one about 5 times); 0 means DefaultMaxScans and a negative value means
	// neither limit. Neither decoder runs a JPEG refused for a limit.
	MaxScans int
	// MaxMarkers refuses, before decoding, a JPEG with more marker segments than this; 0
	// means DefaultMaxMarkers and a negative value means no limit.
	MaxMarkers int
	// MaxDecodeTime is the time budget of one image: a decode still running after it is
	// abandoned and fails with ErrTooComplex. 0 means DefaultDecodeTime plus
	// DefaultDecodeTimePerMegapixel for each megapixel the header gives; a negative value
	// means no budget.
	MaxDecodeTime time.Duration
	// MaxAbandoned bounds the abandoned decodes still running. Decode returns as soon as its
	// context is done or the time budget is spent; the decode itself goes on in the
	// background until it notices (the Go decoders stop at their next read of the file,
	// libjpeg-turbo finishes its call, bounded by MaxScans) and then gives its buffers
	// back. While MaxAbandoned of them run, a new Decode waits for one to end before it
	// starts, so abandoned work holds at most MaxAbandoned plus the concurrent callers'
	// files and images (see Abandoned). 0 means DefaultMaxAbandoned and a negative value
	// means no bound.
	MaxAbandoned int
	// MinSize, when set, reports the smallest size an image of width×height (as shown,
	// after EXIF orientation) may be decoded at: JPEGs decoded by libjpeg-turbo are then
	// decoded at 1/2, 1/4 or 1/8 size where that leaves at least this much (shrink-on-load;
	// see ShrinkFactor). A kernels plan answers it: MinSize: plan.MinDecodeSize.
	MinSize func(width, height int) (minWidth, minHeight int)
	// Channels, when 1, 3 or 4, converts every image to that many channels; see ToChannels.
	Channels int
	// Background is the RGB colour alpha is flattened onto when Channels drops it.
	Background [3]uint8
	// IgnoreOrientation returns the pixels as stored, without applying EXIF orientation.
	IgnoreOrientation bool
	// PureGo never uses libjpeg-turbo.
	PureGo bool
	// IgnoreICC leaves Decoded.ICC empty: the embedded ICC profile is not read.
	IgnoreICC bool
	// Metadata reads the EXIF and XMP blocks into Decoded.EXIF and XMP, for an output that
	// keeps them.
	Metadata bool
	// ConvertCMYK, when set, converts a CMYK image that embeds an ICC profile to sRGB
	// (package icc does, with Little CMS); ok false leaves it to the decoder's own formula.
	// The Decoded of an image it converted has no ICC profile: its pixels are sRGB.
	ConvertCMYK func(icc []byte, m *image.CMYK) (img raster.Image, ok bool)
	// Pool, when set, supplies file and pixel buffers; Decoded.Release gives them back.
	Pool *Pool

	// abandoned is made on first use (see state), so that a Decoder stays a plain value to
	// configure and copy: a copy made after use shares it.
	abandoned *abandonedDecodes
}

// Decoded is a decoded file.
type Decoded struct {
	Image  raster.Image
	File   walk.File
	Format string // "jpeg", "png", "gif", "bmp", "tiff", "webp", "heif" or "avif"
	// SourceWidth and SourceHeight are the size stored in the file, before orientation and
	// shrink-on-load.
	SourceWidth, SourceHeight int
	Orientation               int  // the EXIF orientation applied (1 when none)
	Scale                     int  // the shrink-on-load denominator: 1, 2, 4 or 8
	Turbo                     bool // decoded by libjpeg-turbo
	// Metadata holds the embedded ICC profile (unless Decoder.IgnoreICC) and, with
	// Decoder.Metadata, the raw EXIF and XMP: copies, which outlive the file's buffer. The
	// pixels are as stored (no colour conversion); Orientation is already applied, so
	// an EXIF block kept for output must have its orientation reset (ResetOrientation).
	Metadata
	pool *Pool
	held atomic.Pointer[func()] // see Hold
}

// Label names the source file in errors and reports.
func (d *Decoded) Label() string { return d.File.Label() }

// Release gives the pixel buffer back to the Decoder's pool and calls what Hold attached.
// The image must not be used afterwards; calling Release again does nothing.
func (d *Decoded) Release() {
	d.ReleasePixels()
	d.finish()
}

// ReleasePixels gives the pixel buffer back to the Decoder's pool, and keeps what Hold
// attached until Release: for a stage that has copied the pixels on (into a device's
// buffer) while the image's memory is still in use.
func (d *Decoded) ReleasePixels() {
	d.pool.Put(d.Image.Pix)
	d.Image.Pix = nil
}

// TurboJPEG reports whether JPEG files are decoded by libjpeg-turbo in this process, and if
// not, why: the program was built without cgo, the library is not installed, or it was
// disabled by GPUPIPE_TURBOJPEG=off.
func TurboJPEG() error { return turboLoad() }

// Decode reads and decodes the file f. Every failure is an *Error naming the file, except
// a cancellation, which returns ctx's error.
//
// The decode runs on a goroutine of its own: when ctx is done, or the time budget
// (MaxDecodeTime) is spent, Decode returns at once and abandons it (see MaxAbandoned).
func (d *Decoder) Decode(ctx context.Context, f walk.File) (*Decoded, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := f.Path()
	data, err := readInput(ctx, f, limit(d.MaxFileSize, DefaultMaxFileSize), d.Pool)
	if err == nil {
		var out *Decoded
		if out, err = d.decodeOwned(ctx, data); err == nil {
			out.File = f
			return out, nil
		}
	}
	if cerr := ctx.Err(); cerr != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil, cerr
	}
	return nil, &Error{Path: path, Err: err}
}

// DecodeFile reads and decodes the file at path, for callers that have a path rather than a
// walk.File; its File has Root "" and Rel path.
func (d *Decoder) DecodeFile(ctx context.Context, path string) (*Decoded, error) {
	return d.Decode(ctx, walk.File{Rel: path})
}

// DecodeBytes decodes an image held in memory; name is used in errors. data is only read.
//
// As data stays the caller's, the decode cannot be abandoned: it runs on the calling
// goroutine, and the time budget is kept as the Go decoders read (they stop at their next
// read once it is spent); a libjpeg-turbo decode, bounded by MaxScans, runs to its end.
func (d *Decoder) DecodeBytes(name string, data []byte) (*Decoded, error) {
	out, err := d.decodeBytes(data)
	if err != nil {
		return nil, &Error{Path: name, Err: err}
	}
	out.File = walk.File{Rel: name, Size: int64(len(data))}
	return out, nil
}

func (d *Decoder) decodeBytes(data []byte) (*Decoded, error) {
	h, err := d.probe(data)
	if err != nil {
		return nil, err
	}
	var stop atomic.Bool
	budget := d.budget(h)
	if budget > 0 {
		t := time.AfterFunc(budget, func() { stop.Store(true) })
		defer t.Stop()
	}
	out, err := d.decodePixels(data, h, &stop)
	if err != nil && stop.Load() {
		return nil, overBudget(budget)
	}
	return out, err
}

// decodeOwned decodes data, which it takes: the buffer goes back to the pool when the
// decode ends, abandoned or not.
func (d *Decoder) decodeOwned(ctx context.Context, data []byte) (*Decoded, error) {
	h, err := d.probe(data)
	if err == nil {
		err = d.state().waitBelow(ctx, limitInt(d.MaxAbandoned, DefaultMaxAbandoned))
	}
	if err != nil {
		d.Pool.Put(data)
		return nil, err
	}
	t := &task{done: make(chan struct{})}
	go func() {
		out, err := d.decodePixels(data, h, &t.stop)
		d.Pool.Put(data)
		t.finish(d, out, err)
	}()
	var timeout <-chan time.Time
	budget := d.budget(h)
	if budget > 0 {
		timer := time.NewTimer(budget)
		defer timer.Stop()
		timeout = timer.C
	}
	// What an abandoned decode holds, about: the file and an RGBA image.
	holds := int64(len(data)) + 4*int64(h.width)*int64(h.height)
	select {
	case <-t.done:
		return t.out, t.err
	case <-ctx.Done():
		if out, _, ended := t.abandon(d, holds); ended && out != nil {
			out.Release()
		}
		return nil, ctx.Err()
	case <-timeout:
		if out, err, ended := t.abandon(d, holds); ended {
			return out, err
		}
		return nil, overBudget(budget)
	}
}

func overBudget(budget time.Duration) error {
	return fmt.Errorf("%w: not decoded within %v", ErrTooComplex, budget.Round(time.Millisecond))
}

// budget is the time a decode of an image with header h may take, or 0 for no limit.
func (d *Decoder) budget(h header) time.Duration {
	switch {
	case d.MaxDecodeTime < 0:
		return 0
	case d.MaxDecodeTime > 0:
		return d.MaxDecodeTime
	}
	mp := float64(h.width) * float64(h.height) / 1e6
	return DefaultDecodeTime + time.Duration(mp*float64(DefaultDecodeTimePerMegapixel))
}

// Abandoned returns the number of abandoned decodes still running and the memory they hold,
// about: their files and an RGBA image of each.
func (d *Decoder) Abandoned() (n int, bytes int64) { return d.state().get() }

// Wait waits until no abandoned decode is running, or ctx is done: a program that wants every
// goroutine of a Decoder ended calls it after its last Decode.
func (d *Decoder) Wait(ctx context.Context) error { return d.state().waitBelow(ctx, 1) }

func limit(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return -1
	}
	return v
}

func limitInt(v, def int) int { return int(limit(int64(v), int64(def))) }

// readChunk is how much readFile reads between looks at its context.
const readChunk = 8 << 20

func readFile(ctx context.Context, path string, max int64, pool *Pool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, unwrapPath(err)
	}
	size := st.Size()
	switch {
	case !st.Mode().IsRegular():
		return nil, errors.New("not a regular file")
	case size == 0:
		return nil, ErrEmpty
	case max >= 0 && size > max:
		return nil, fmt.Errorf("%w: file is %d bytes, over the limit of %d", ErrTooLarge, size, max)
	}
	return readAll(ctx, f, size, pool)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// header is what the format's header says, checked against the limits.
type header struct {
	format      string
	width       int
	height      int
	orientation int
	feature     string // what Go's decoders do not read in the file, or ""
}

// probe reads the header and refuses what must not be decoded: images over the size limits,
// JPEGs over the work limits, and files of kinds known from their header not to be readable.
func (d *Decoder) probe(data []byte) (header, error) {
	if len(data) == 0 {
		return header{}, ErrEmpty
	}
	cfg, format, err := decodeConfig(data)
	if errors.Is(err, image.ErrFormat) {
		return header{}, ErrUnknownFormat
	}
	h := header{format: format, orientation: 1}
	if format == "jpeg" {
		s, werr := jpegCost(data, jpegLimits{
			markers: limitInt(d.MaxMarkers, DefaultMaxMarkers), scans: limitInt(d.MaxScans, DefaultMaxScans),
		})
		if werr != nil {
			return header{}, werr
		}
		h.feature = jpegFeature(s)
		turbo := d.turboUsable()
		if err != nil && isUnsupported(err) && turbo {
			// Go's decoder does not read this kind of JPEG (arithmetic coding, say), but
			// libjpeg-turbo may: the size is its to read.
			if th, terr := turboReadHeader(data); terr == nil {
				cfg.Width, cfg.Height, err = th.width, th.height, nil
			}
		}
		if h.feature != "" && !turbo {
			return header{}, unsupported(format, h.feature, err)
		}
	}
	switch {
	case err != nil:
		return header{}, classify(format, "header", err, h.feature)
	case cfg.Width <= 0 || cfg.Height <= 0:
		return header{}, &decodeError{kind: ErrCorrupt, format: format, what: "header",
			msg: fmt.Sprintf("gives no pixels (%d×%d)", cfg.Width, cfg.Height)}
	}
	if err := d.checkPixels(cfg.Width, cfg.Height); err != nil {
		return header{}, err
	}
	h.width, h.height = cfg.Width, cfg.Height
	if !d.IgnoreOrientation {
		h.orientation = Orientation(format, data)
	}
	return h, nil
}

// checkPixels refuses an image of w×h whose side is over raster.MaxSide or whose pixel count
// is over the decoder's limit, from its header, before anything is allocated for it.
func (d *Decoder) checkPixels(w, h int) error {
	if w > raster.MaxSide || h > raster.MaxSide {
		return fmt.Errorf("%w: %d×%d has a side over %d pixels", ErrTooLarge, w, h, raster.MaxSide)
	}
	max := limit(d.MaxPixels, DefaultMaxPixels)
	if n := int64(w) * int64(h); max >= 0 && n > max {
		return fmt.Errorf("%w: %d×%d is %.1f megapixels, over the limit of %.1f",
			ErrTooLarge, w, h, float64(n)/1e6, float64(max)/1e6)
	}
	return nil
}

func eofToTruncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("truncated file (%w)", err)
	}
	return err
}

// decodePixels decodes a file whose header probe has checked. Once stop is set, the Go
// decoders fail at their next read and libjpeg-turbo is not called.
func (d *Decoder) decodePixels(data []byte, h header, stop *atomic.Bool) (*Decoded, error) {
	out := &Decoded{Format: h.format, SourceWidth: h.width, SourceHeight: h.height,
		Orientation: h.orientation, Scale: 1, pool: d.Pool}
	img, ok, err := d.decodeTurbo(data, h, out, stop)
	if err != nil {
		return nil, err
	}
	profiled := false
	if !ok {
		if img, err = d.decodeGo(data, h, stop, &profiled); err != nil {
			return nil, err
		}
	}
	if img, err = d.orient(img, raster.Orientation(h.orientation)); err != nil {
		return nil, err
	}
	if d.Channels == 1 || d.Channels == 3 || d.Channels == 4 {
		img = d.replace(img, ToChannels(img, d.Channels, d.Background, d.Pool))
	}
	out.Image = img
	out.Metadata = ReadMetadata(h.format, data, !d.IgnoreICC, d.Metadata)
	if profiled {
		out.ICC = nil
	}
	return out, nil
}

// orient returns img turned upright by o, in a new image from the pool (img goes back to it),
// or img itself when o is the identity.
func (d *Decoder) orient(img raster.Image, o raster.Orientation) (raster.Image, error) {
	if o == raster.Identity {
		return img, nil
	}
	w, h := o.Size(img.Width, img.Height)
	out := newImage(d.Pool, w, h, img.Channels)
	if err := raster.Orient(out, img, o); err != nil {
		d.Pool.Put(out.Pix)
		d.Pool.Put(img.Pix)
		return raster.Image{}, err
	}
	return d.replace(img, out), nil
}

// replace returns next, giving old's buffer back when next is a new image.
func (d *Decoder) replace(old, next raster.Image) raster.Image {
	if len(old.Pix) > 0 && len(next.Pix) > 0 && &old.Pix[0] != &next.Pix[0] {
		d.Pool.Put(old.Pix)
	}
	return next
}

func (d *Decoder) turboUsable() bool { return !d.PureGo && turboLoad() == nil }

// decodeTurbo decodes a JPEG with libjpeg-turbo, when loaded. It declines (ok false) for
// other formats, CMYK JPEGs and any failure, which the pure-Go decoder then meets and
// reports in the same words whichever path is built, except a failure for one of
// libjpeg-turbo's limits (its scan limit), which is an error: the pure-Go decoder, slower and
// with no such limit, never runs what the fast path refused for a limit.
func (d *Decoder) decodeTurbo(data []byte, h header, out *Decoded, stop *atomic.Bool) (raster.Image, bool, error) {
	if h.format != "jpeg" || !d.turboUsable() || stop.Load() {
		return raster.Image{}, false, nil
	}
	th, err := turboReadHeader(data)
	if err != nil || th.cmyk || th.width != h.width || th.height != h.height {
		return raster.Image{}, false, nil
	}
	scale := 1
	if d.MinSize != nil {
		// MinSize answers for the image as shown.
		swap := raster.Orientation(h.orientation).Swaps()
		w, ht := h.width, h.height
		if swap {
			w, ht = ht, w
		}
		mw, mh := d.MinSize(w, ht)
		if swap {
			mw, mh = mh, mw
		}
		scale = ShrinkFactor(h.width, h.height, mw, mh)
	}
	ch := 3
	if th.gray {
		ch = 1
	}
	img := newImage(d.Pool, ceilDiv(h.width, scale), ceilDiv(h.height, scale), ch)
	scans := data
	if scale == 8 {
		// A progressive JPEG at 1/8: its DC coefficients as a baseline JPEG where they are
		// all it reads (dcbaseline.go), else the scans it reads (progressive.go).
		if dc, ok := dcBaseline(data); ok {
			scans = dc
		} else if dc, ok := dcOnly(data); ok {
			scans = dc
		}
	}
	if err := turboDecode(scans, img); err != nil {
		d.Pool.Put(img.Pix)
		if turboLimit(err) {
			return raster.Image{}, false, fmt.Errorf("%w: jpeg: %v", ErrTooComplex, err)
		}
		return raster.Image{}, false, nil
	}
	out.Scale, out.Turbo = scale, true
	return img, true, nil
}

// turboLimit reports whether libjpeg-turbo refused a file for one of its limits: "Progressive
// JPEG image has more than 500 scans".
func turboLimit(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "more than") && strings.Contains(msg, "scans")
}

// goDecoders are the pure-Go decoders by format name (the others are rasterDecoders). They
// are called directly, not through image.Decode, so that each reads the stopReader itself.
var goDecoders = map[string]func(io.Reader) (image.Image, error){
	"jpeg": jpeg.Decode, "png": png.Decode, "gif": gif.Decode,
}

func (d *Decoder) decodeGo(data []byte, h header, stop *atomic.Bool, profiled *bool) (img raster.Image, err error) {
	defer func() {
		// The x/image decoders have panicked on crafted input before: a bad file must not
		// take the process down.
		if r := recover(); r != nil {
			err = &decodeError{kind: ErrCorrupt, format: h.format, msg: fmt.Sprintf("decoder failed: %v", r)}
		}
	}()
	if decode := rasterDecoders[h.format]; decode != nil {
		return decode(d, data, h, stop)
	}
	decode := goDecoders[h.format]
	if decode == nil {
		return raster.Image{}, ErrUnknownFormat
	}
	m, err := decode(&stopReader{data: data, stop: stop})
	if err != nil {
		if errors.Is(err, errAbandoned) {
			return raster.Image{}, errAbandoned
		}
		return raster.Image{}, classify(h.format, "", err, h.feature)
	}
	if c, ok := m.(*image.CMYK); ok && d.ConvertCMYK != nil {
		if icc := ReadMetadata(h.format, data, true, false).ICC; icc != nil {
			if img, ok := d.ConvertCMYK(icc, c); ok {
				*profiled = true
				return img, nil
			}
		}
	}
	return fromImageOwned(m, d.Pool), nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// ShrinkFactor returns the largest of 8, 4 and 2 by which a w×h image can be shrunk while
// decoding and still be at least minW×minH, or 1. The shrunk sides are rounded up, as
// libjpeg-turbo rounds them. A plan's MinDecodeSize gives minW×minH: twice the size its
// resize makes, which leaves the resize enough pixels to filter well, as vipsthumbnail does.
func ShrinkFactor(w, h, minW, minH int) int {
	if w <= 0 || h <= 0 {
		return 1
	}
	for _, f := range []int{8, 4, 2} {
		if ceilDiv(w, f) >= minW && ceilDiv(h, f) >= minH {
			return f
		}
	}
	return 1
}
