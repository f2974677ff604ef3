package imageio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"

	// The decoders a Decoder reads, registered with package image.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"

	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// Default limits of a Decoder whose limits are zero.
const (
	// DefaultMaxPixels is 100 megapixels: above any camera in common use, and 300 MB of RGB.
	DefaultMaxPixels = 100_000_000
	// DefaultMaxFileSize is 1 GiB: a file is read whole before it is decoded.
	DefaultMaxFileSize = 1 << 30
)

// Errors a Decoder returns, wrapped in an *Error naming the file. Test with errors.Is.
var (
	ErrEmpty         = errors.New("empty file")
	ErrUnknownFormat = errors.New("not an image in a known format (JPEG, PNG, GIF, BMP, TIFF, WebP)")
	ErrTooLarge      = errors.New("image too large")
	ErrCorrupt       = errors.New("corrupt image")
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
	// Pool, when set, supplies file and pixel buffers; Decoded.Release gives them back.
	Pool *Pool
}

// Decoded is a decoded file.
type Decoded struct {
	Image  raster.Image
	File   walk.File
	Format string // as named by package image: "jpeg", "png", "gif", "bmp", "tiff", "webp"
	// SourceWidth and SourceHeight are the size stored in the file, before orientation and
	// shrink-on-load.
	SourceWidth, SourceHeight int
	Orientation               int  // the EXIF orientation applied (1 when none)
	Scale                     int  // the shrink-on-load denominator: 1, 2, 4 or 8
	Turbo                     bool // decoded by libjpeg-turbo
	pool                      *Pool
}

// Label names the source file in errors and reports.
func (d *Decoded) Label() string { return d.File.Label() }

// Release gives the pixel buffer back to the Decoder's pool. The image must not be used
// afterwards.
func (d *Decoded) Release() {
	d.pool.Put(d.Image.Pix)
	d.Image.Pix = nil
}

// TurboJPEG reports whether JPEG files are decoded by libjpeg-turbo in this process, and if
// not, why: the program was built without cgo, the library is not installed, or it was
// disabled by GPUPIPE_TURBOJPEG=off.
func TurboJPEG() error { return turboLoad() }

// Decode reads and decodes the file f. Every failure is an *Error naming the file.
func (d *Decoder) Decode(ctx context.Context, f walk.File) (*Decoded, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := f.Path()
	data, err := readFile(path, limit(d.MaxFileSize, DefaultMaxFileSize), d.Pool)
	if err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	defer d.Pool.Put(data)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := d.decode(data)
	if err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	out.File = f
	return out, nil
}

// DecodeFile reads and decodes the file at path, for callers that have a path rather than a
// walk.File; its File has Root "" and Rel path.
func (d *Decoder) DecodeFile(ctx context.Context, path string) (*Decoded, error) {
	return d.Decode(ctx, walk.File{Rel: path})
}

// DecodeBytes decodes an image held in memory; name is used in errors. data is only read.
func (d *Decoder) DecodeBytes(name string, data []byte) (*Decoded, error) {
	out, err := d.decode(data)
	if err != nil {
		return nil, &Error{Path: name, Err: err}
	}
	out.File = walk.File{Rel: name, Size: int64(len(data))}
	return out, nil
}

func limit(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return -1
	}
	return v
}

func readFile(path string, max int64, pool *Pool) ([]byte, error) {
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
	buf := pool.Get(int(size))
	if _, err := io.ReadFull(f, buf); err != nil {
		pool.Put(buf)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errors.New("file shrank while being read")
		}
		return nil, unwrapPath(err)
	}
	return buf, nil
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
}

// probe reads the header and refuses what must not be decoded.
func (d *Decoder) probe(data []byte) (header, error) {
	if len(data) == 0 {
		return header{}, ErrEmpty
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	switch {
	case errors.Is(err, image.ErrFormat):
		return header{}, ErrUnknownFormat
	case err != nil:
		return header{}, fmt.Errorf("%w: %s header: %w", ErrCorrupt, format, eofToTruncated(err))
	case cfg.Width <= 0 || cfg.Height <= 0:
		return header{}, fmt.Errorf("%w: %s header gives no pixels (%d×%d)", ErrCorrupt, format, cfg.Width, cfg.Height)
	}
	if cfg.Width > raster.MaxSide || cfg.Height > raster.MaxSide {
		return header{}, fmt.Errorf("%w: %d×%d has a side over %d pixels", ErrTooLarge, cfg.Width, cfg.Height, raster.MaxSide)
	}
	max := limit(d.MaxPixels, DefaultMaxPixels)
	if n := int64(cfg.Width) * int64(cfg.Height); max >= 0 && n > max {
		return header{}, fmt.Errorf("%w: %d×%d is %.1f megapixels, over the limit of %.1f",
			ErrTooLarge, cfg.Width, cfg.Height, float64(n)/1e6, float64(max)/1e6)
	}
	h := header{format: format, width: cfg.Width, height: cfg.Height, orientation: 1}
	if !d.IgnoreOrientation {
		h.orientation = Orientation(format, data)
	}
	return h, nil
}

func eofToTruncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("truncated file (%w)", err)
	}
	return err
}

func (d *Decoder) decode(data []byte) (*Decoded, error) {
	h, err := d.probe(data)
	if err != nil {
		return nil, err
	}
	out := &Decoded{Format: h.format, SourceWidth: h.width, SourceHeight: h.height,
		Orientation: h.orientation, Scale: 1, pool: d.Pool}
	img, ok := d.decodeTurbo(data, h, out)
	if !ok {
		if img, err = d.decodeGo(data, h.format); err != nil {
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

// decodeTurbo decodes a JPEG with libjpeg-turbo, when loaded. It declines (ok false) for
// other formats, CMYK JPEGs and any failure, which the pure-Go decoder then meets and
// reports in the same words whichever path is built.
func (d *Decoder) decodeTurbo(data []byte, h header, out *Decoded) (raster.Image, bool) {
	if h.format != "jpeg" || d.PureGo || turboLoad() != nil {
		return raster.Image{}, false
	}
	th, err := turboReadHeader(data)
	if err != nil || th.cmyk || th.width != h.width || th.height != h.height {
		return raster.Image{}, false
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
	if err := turboDecode(data, img); err != nil {
		d.Pool.Put(img.Pix)
		return raster.Image{}, false
	}
	out.Scale, out.Turbo = scale, true
	return img, true
}

func (d *Decoder) decodeGo(data []byte, format string) (img raster.Image, err error) {
	defer func() {
		// The x/image decoders have panicked on crafted input before: a bad file must not
		// take the process down.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s decoder failed: %v", ErrCorrupt, format, r)
		}
	}()
	m, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return raster.Image{}, fmt.Errorf("%w: %s: %w", ErrCorrupt, format, eofToTruncated(err))
	}
	return FromImage(m, d.Pool), nil
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
