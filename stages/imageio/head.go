package imageio

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"io"
	"os"

	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// knownSignature reports whether head starts like a file of a format the decoders read: the
// package's own (WebP, BMP, TIFF and BigTIFF, HEIF and AVIF) or one registered with package
// image. The header itself is not read here.
func knownSignature(head []byte) (known bool) {
	if formatOf(head) != "" {
		return true
	}
	defer func() {
		// A decoder's header parser meeting a cut-off header must not take the process
		// down; its signature matched.
		if recover() != nil {
			known = true
		}
	}()
	_, _, err := image.DecodeConfig(bytes.NewReader(head))
	return !errors.Is(err, image.ErrFormat)
}

// Head is what the first bytes of a file say about its image, read by Decoder.Head without
// reading the file whole: enough to admit its decode against a memory budget.
type Head struct {
	Format        string
	Width, Height int   // as stored in the file
	FileSize      int64 // what Decode reads whole
	// DecodedWidth, DecodedHeight and Channels are the size of the Image a Decode makes
	// (after shrink-on-load, orientation and Decoder.Channels), at most: an image that
	// turns out to have no alpha has 3 channels where 4 are counted.
	DecodedWidth, DecodedHeight, Channels int
	// Peak is the most memory a Decode of the file holds at once, about: the file, the
	// decoder's own image (Go's decoders), the Image it makes and, when it is turned or
	// converted, a second Image.
	Peak int64
}

// Pixels is the size in bytes of the decoded Image.
func (h Head) Pixels() int64 {
	return int64(h.DecodedWidth) * int64(h.DecodedHeight) * int64(h.Channels)
}

// headSizes are the lengths of head Head reads, one after the other while the header is not
// within: most headers are in the first 64 KiB; a JPEG's size may come after large EXIF or
// ICC segments.
var headSizes = []int64{64 << 10, 1 << 20, 8 << 20}

// Head reads the first bytes of f, enough for its header, and refuses what Decode would
// refuse from them: a file that is not regular, empty, over MaxFileSize, not in a known
// format (from its signature: the rest of the file is not read), or an image over the pixel
// limits. It returns the image's size and what a Decode of it will hold (Head.Peak), so that
// a caller can admit the decode against a memory budget before it reads the file whole.
// Failures are *Error values naming the file. A header Head cannot read (a file corrupt or
// truncated in it) is left for Decode to report: Head then counts the file and an image at
// the pixel limit.
func (d *Decoder) Head(ctx context.Context, f walk.File) (Head, error) {
	if err := ctx.Err(); err != nil {
		return Head{}, err
	}
	r, size, err := openHead(ctx, f, limit(d.MaxFileSize, DefaultMaxFileSize))
	if err != nil {
		return Head{}, &Error{Path: f.Path(), Err: err}
	}
	defer r.Close()
	h, err := d.head(r, size)
	if err != nil {
		return Head{}, &Error{Path: f.Path(), Err: err}
	}
	return h, nil
}

// openHead opens f, a local file or a file of a walk.Store, for reading from its start, and
// refuses it when it is not a regular file, empty or over max bytes (negative: no limit).
func openHead(ctx context.Context, f walk.File, max int64) (io.ReadCloser, int64, error) {
	if f.Store != nil {
		if err := checkSize(f.Size, max); err != nil {
			return nil, 0, err
		}
		r, size, err := f.Store.Open(ctx, f.Rel)
		if err != nil {
			return nil, 0, err
		}
		if err := checkSize(size, max); err != nil {
			r.Close()
			return nil, 0, err
		}
		return r, size, nil
	}
	file, err := os.Open(f.Path())
	if err != nil {
		return nil, 0, unwrapPath(err)
	}
	st, err := file.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err == nil {
		err = checkSize(st.Size(), max)
	}
	if err != nil {
		file.Close()
		return nil, 0, unwrapPath(err)
	}
	return file, st.Size(), nil
}

// head reads the first bytes of a file of size bytes from r (see Head).
func (d *Decoder) head(file io.Reader, size int64) (Head, error) {
	var err error
	var data []byte
	var cfg image.Config
	var format string
	for _, n := range headSizes {
		n = min(n, size)
		if int64(len(data)) < n {
			more := make([]byte, n)
			copy(more, data)
			if _, err := io.ReadFull(file, more[len(data):]); err != nil {
				if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
					return Head{}, errors.New("file shrank while being read")
				}
				return Head{}, unwrapPath(err)
			}
			data = more
		}
		cfg, format, err = decodeConfig(data)
		if errors.Is(err, image.ErrFormat) {
			return Head{}, ErrUnknownFormat
		}
		// libheif gives no end-of-file error for a file cut short: a HEIF or AVIF header
		// it cannot read is read again from more of the file.
		cut := errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || (format == "heif" || format == "avif")
		if err == nil || n == size || !cut {
			break
		}
	}
	out := Head{Format: format, FileSize: size}
	if err != nil && format == "jpeg" && d.turboUsable() {
		// A JPEG Go's decoder does not read (arithmetic coding) may be libjpeg-turbo's.
		if th, terr := turboReadHeader(data); terr == nil {
			cfg, err = image.Config{Width: th.width, Height: th.height, ColorModel: color.YCbCrModel}, nil
		}
	}
	switch {
	case err == nil && cfg.Width > 0 && cfg.Height > 0:
	case int64(len(data)) == size:
		// The whole file is read and has no header Go reads: Decode will say what is
		// wrong with it, holding little more than the file.
		out.DecodedWidth, out.DecodedHeight, out.Channels, out.Peak = 0, 0, 3, 2*size
		return out, nil
	default:
		// A header not within the first bytes read: count the largest image the file may
		// hold until Decode, which reads it whole, says more.
		side := int(min(raster.MaxSide, isqrt(limit(d.MaxPixels, DefaultMaxPixels))))
		cfg = image.Config{Width: side, Height: side, ColorModel: color.NRGBA64Model}
	}
	if err := d.checkPixels(cfg.Width, cfg.Height); err != nil {
		return Head{}, err
	}
	out.Width, out.Height = cfg.Width, cfg.Height
	d.estimate(&out, cfg.ColorModel, data)
	return out, nil
}

// estimate fills in the decoded size and the peak memory of a decode of h's file.
func (d *Decoder) estimate(h *Head, model color.Model, data []byte) {
	orientation := 1
	if !d.IgnoreOrientation {
		orientation = Orientation(h.Format, data)
	}
	c, goBytes := modelChannels(model)
	w, ht := h.Width, h.Height
	own := int64(w) * int64(ht) * int64(goBytes) // the Go decoder's image
	coefs := progressiveBlocks(h.Format, data)
	own += coefs * 64 * 4 // Go's decoder keeps a progressive JPEG's coefficients as int32
	if h.Format == "jpeg" && d.turboUsable() && model != color.CMYKModel {
		// libjpeg-turbo decodes straight into the Image, perhaps shrunk; a progressive JPEG's
		// coefficients (16 bits each) are held whole until the last scan, whatever the scale.
		own = coefs * 64 * 2
		if d.MinSize != nil {
			sw, sh := w, ht
			if raster.Orientation(orientation).Swaps() {
				sw, sh = sh, sw
			}
			mw, mh := d.MinSize(sw, sh)
			if raster.Orientation(orientation).Swaps() {
				mw, mh = mh, mw
			}
			s := ShrinkFactor(w, ht, mw, mh)
			w, ht = ceilDiv(w, s), ceilDiv(ht, s)
		}
	}
	pixels := int64(w) * int64(ht) * int64(c)
	second := int64(0) // an oriented or converted copy, made while the first exists
	if orientation != 1 {
		second = pixels
	}
	if d.Channels == 1 || d.Channels == 3 || d.Channels == 4 {
		if d.Channels != c {
			second = max(second, int64(w)*int64(ht)*int64(d.Channels))
		}
		c = d.Channels
	}
	if raster.Orientation(orientation).Swaps() {
		w, ht = ht, w
	}
	h.DecodedWidth, h.DecodedHeight, h.Channels = w, ht, c
	if _, paletted := model.(color.Palette); h.Format == "png" && !paletted {
		pixels = 0 // made in the Go decoder's own image (fromImageOwned)
	}
	h.Peak = h.FileSize + own + pixels + second
}

// progressiveBlocks is the number of 8×8 blocks, over all components, of a progressive JPEG
// from its frame header in data (a file's first bytes), whose coefficients a decoder holds
// until the last scan; 0 for anything else.
func progressiveBlocks(format string, data []byte) int64 {
	if format != "jpeg" {
		return 0
	}
	s, _ := jpegCost(data, jpegLimits{markers: -1, scans: -1})
	switch s.sof {
	case 0xC2, 0xC6, 0xCA, 0xCE: // progressive: Huffman, differential, arithmetic
		return s.blocks
	}
	return 0
}

// modelChannels is the channels of the Image made from an image of this colour model (at
// most) and the bytes per pixel of the Go decoders' own image of it.
func modelChannels(m color.Model) (channels, goBytes int) {
	switch m {
	case color.GrayModel:
		return 1, 1
	case color.Gray16Model:
		return 1, 2
	case color.YCbCrModel:
		return 3, 3
	case color.CMYKModel:
		return 3, 4
	case color.RGBAModel:
		return 3, 4 // Go's decoders say RGBA for images without alpha (PNG's RGB)
	case color.RGBA64Model:
		return 3, 8
	case color.NRGBAModel, color.NYCbCrAModel:
		return 4, 4
	}
	if p, ok := m.(color.Palette); ok {
		for _, c := range p {
			if _, _, _, a := c.RGBA(); a != 0xffff {
				return 4, 1
			}
		}
		return 3, 1
	}
	return 4, 8 // NRGBA64 and anything else: the most a pixel takes
}

func isqrt(n int64) int64 {
	if n <= 0 {
		return raster.MaxSide
	}
	r := int64(1)
	for r*r <= n {
		r *= 2
	}
	lo, hi := r/2, r
	for lo+1 < hi {
		if m := (lo + hi) / 2; m*m <= n {
			lo = m
		} else {
			hi = m
		}
	}
	return lo
}

// Hold attaches release to d, to be called once by Release (not by ReleasePixels): what a
// caller charged for the image, such as its share of a memory budget, and gives back once
// the image and every copy of it are gone.
func (d *Decoded) Hold(release func()) { d.held.Store(&release) }

// finish calls the function Hold attached, once.
func (d *Decoded) finish() {
	if f := d.held.Swap(nil); f != nil {
		(*f)()
	}
}
