package imageio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/image/ccitt"
	"golang.org/x/image/tiff/lzw"
	"golang.org/x/image/webp"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// TIFF. golang.org/x/image/tiff reads the common kinds and gets some wrong (CCITT bilevel
// inverted, planar 16-bit); this decoder reads the first image of classic and Big TIFF files
// with any of the compressions in use (none, LZW, Deflate, PackBits, CCITT group 3 and 4,
// JPEG, WebP, Zstandard) and predictors (horizontal, floating point), strips or tiles, chunky or planar,
// 1- to 32-bit unsigned and signed integer samples and 16-, 32- and 64-bit floating-point
// samples, as grey (either polarity), RGB, palette, CMYK, YCbCr (JPEG-compressed) and CIE
// L*a*b*, with alpha. Samples are reduced to 8 bits by keeping their top bits, as Pillow and
// vips show 16-bit files; floating-point samples are read on the 0..1 scale. CCITT RLE (its
// modified Huffman codes without line ends), LZMA (libtiff writes it through xz's delta
// filter, which no Go reader has), JPEG 2000, JBIG and the rarer compressions are
// unsupported, named as such.
//
// Every count and offset is checked against the file before anything is allocated, and the
// decompressed size of each strip or tile is bounded by what its geometry needs.

// maxTIFFChunk bounds the decompressed bytes of one strip or tile: 1 GiB, a single strip of
// a 100-megapixel 16-bit RGBA image and more.
const maxTIFFChunk = 1 << 30

// TIFF tags.
const (
	ttWidth          = 256
	ttHeight         = 257
	ttBitsPerSample  = 258
	ttCompression    = 259
	ttPhotometric    = 262
	ttFillOrder      = 266
	ttStripOffsets   = 273
	ttOrientation    = 274
	ttSamplesPerPix  = 277
	ttRowsPerStrip   = 278
	ttStripCounts    = 279
	ttPlanar         = 284
	ttT4Options      = 292
	ttPredictor      = 317
	ttColorMap       = 320
	ttTileWidth      = 322
	ttTileLength     = 323
	ttTileOffsets    = 324
	ttTileCounts     = 325
	ttInkSet         = 332
	ttExtraSamples   = 338
	ttSampleFormat   = 339
	ttJPEGTables     = 347
	ttYCbCrSubsample = 530
	ttXMP            = 700
)

// tiffDir is the first image file directory of a TIFF: its tags' values.
type tiffDir struct {
	bo    binary.ByteOrder
	big   bool
	tags  map[uint16][]uint64
	bytes map[uint16][]byte // the raw values of tags wanted as bytes
}

func (d *tiffDir) first(tag uint16, def uint64) uint64 {
	if v := d.tags[tag]; len(v) > 0 {
		return v[0]
	}
	return def
}

var errTIFFHeader = errors.New("bad header")

// readTIFFDir reads the first IFD of a classic or Big TIFF.
func readTIFFDir(b []byte) (*tiffDir, error) {
	if len(b) < 8 {
		return nil, errTIFFHeader
	}
	d := &tiffDir{tags: map[uint16][]uint64{}, bytes: map[uint16][]byte{}}
	switch string(b[:2]) {
	case "II":
		d.bo = binary.LittleEndian
	case "MM":
		d.bo = binary.BigEndian
	default:
		return nil, errTIFFHeader
	}
	var ifd uint64
	switch d.bo.Uint16(b[2:]) {
	case 42:
		ifd = uint64(d.bo.Uint32(b[4:]))
	case 43:
		if len(b) < 16 || d.bo.Uint16(b[4:]) != 8 {
			return nil, errTIFFHeader
		}
		d.big, ifd = true, d.bo.Uint64(b[8:])
	default:
		return nil, errTIFFHeader
	}
	entry, countSize := uint64(12), uint64(2)
	if d.big {
		entry, countSize = 20, 8
	}
	if ifd < 8 || ifd > uint64(len(b)) || uint64(len(b))-ifd < countSize {
		return nil, fmt.Errorf("IFD at %d, outside the file", ifd)
	}
	var n uint64
	if d.big {
		n = d.bo.Uint64(b[ifd:])
	} else {
		n = uint64(d.bo.Uint16(b[ifd:]))
	}
	if n == 0 || n > (uint64(len(b))-ifd-countSize)/entry {
		return nil, fmt.Errorf("IFD of %d entries runs past the end of the file", n)
	}
	sizes := map[uint16]uint64{1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
	for i := range n {
		e := b[ifd+countSize+i*entry:]
		tag, typ := d.bo.Uint16(e), d.bo.Uint16(e[2:])
		var count uint64
		var inline []byte
		if d.big {
			count, inline = d.bo.Uint64(e[4:]), e[12:20]
		} else {
			count, inline = uint64(d.bo.Uint32(e[4:])), e[8:12]
		}
		size, ok := sizes[typ]
		if !ok || count == 0 {
			continue
		}
		if count > uint64(len(b))/size {
			return nil, fmt.Errorf("tag %d of %d values runs past the end of the file", tag, count)
		}
		raw := inline
		if total := count * size; total > uint64(len(inline)) {
			var off uint64
			if d.big {
				off = d.bo.Uint64(inline)
			} else {
				off = uint64(d.bo.Uint32(inline))
			}
			if off > uint64(len(b)) || total > uint64(len(b))-off {
				return nil, fmt.Errorf("tag %d of %d values runs past the end of the file", tag, count)
			}
			raw = b[off : off+total]
		} else {
			raw = inline[:total]
		}
		switch tag {
		case ttJPEGTables, ttXMP:
			d.bytes[tag] = raw
			continue
		}
		vals := make([]uint64, count)
		for j := range vals {
			switch typ {
			case 1, 6, 7, 2:
				vals[j] = uint64(raw[j])
			case 3, 8:
				vals[j] = uint64(d.bo.Uint16(raw[2*j:]))
			case 4, 9, 13:
				vals[j] = uint64(d.bo.Uint32(raw[4*j:]))
			case 16, 17, 18:
				vals[j] = d.bo.Uint64(raw[8*j:])
			default: // rationals and floats: not used here
			}
		}
		d.tags[tag] = vals
	}
	return d, nil
}

// tiffImage is the geometry and sample layout of a TIFF's first image.
type tiffImage struct {
	dir             *tiffDir
	width, height   int
	bps, spp        int
	format          uint64 // sample format: 1 unsigned, 2 signed, 3 float
	compression     uint64
	photometric     uint64
	planar          bool
	predictor       uint64
	tiled           bool
	chunkW, chunkH  int // a strip is width × rows per strip
	offsets, counts []uint64
	colours         int // colour samples: 1, 3 (RGB, Lab) or 4 (CMYK)
	alpha           int // index of the alpha sample, or -1
	premultiplied   bool
	colormap        []uint64
	orientation     int
	xmp             []byte
	jpegTables      []byte
	fillLSB         bool
	turbo           bool // JPEG strips and tiles may go to libjpeg-turbo
}

var tiffCompressionNames = map[uint64]string{
	6: "old-style JPEG", 9: "JBIG", 10: "JBIG", 32771: "NeXT", 32809: "ThunderScan",
	34661: "JBIG", 34676: "SGI LogLuv", 34677: "SGI LogLuv", 34712: "JPEG 2000", 34887: "LERC",
	34892: "lossy JPEG", 34925: "LZMA", 52546: "JPEG XL",
}

// readTIFF reads and checks the layout of a TIFF's first image. An unsupported kind is an
// error from unsupported; a broken file another error.
func readTIFF(b []byte) (*tiffImage, error) {
	d, err := readTIFFDir(b)
	if err != nil {
		return nil, err
	}
	t := &tiffImage{dir: d, width: int(d.first(ttWidth, 0)), height: int(d.first(ttHeight, 0)),
		spp: int(d.first(ttSamplesPerPix, 1)), format: d.first(ttSampleFormat, 1),
		compression: d.first(ttCompression, 1), photometric: d.first(ttPhotometric, 1),
		planar: d.first(ttPlanar, 1) == 2, predictor: d.first(ttPredictor, 1), alpha: -1,
		orientation: int(d.first(ttOrientation, 1)), xmp: d.bytes[ttXMP], jpegTables: d.bytes[ttJPEGTables],
		fillLSB: d.first(ttFillOrder, 1) == 2}
	if t.width <= 0 || t.height <= 0 || t.width > raster.MaxSide*4 || t.height > raster.MaxSide*4 {
		return t, fmt.Errorf("gives no pixels (%d×%d)", t.width, t.height)
	}
	if _, ok := d.tags[ttPhotometric]; !ok && t.compression >= 2 && t.compression <= 4 {
		t.photometric = 0
	}
	bps := d.tags[ttBitsPerSample]
	t.bps = 1
	if len(bps) > 0 {
		t.bps = int(bps[0])
	}
	for _, v := range bps {
		if int(v) != t.bps {
			return t, unsupported("tiff", "TIFF with samples of different sizes", nil)
		}
	}
	switch name, ok := tiffCompressionNames[t.compression]; {
	case ok:
		return t, unsupported("tiff", "TIFF with "+name+" compression", nil)
	case t.compression == 2:
		return t, unsupported("tiff", "TIFF with CCITT RLE compression", nil)
	case t.compression == 3 || t.compression == 4:
		if t.bps != 1 || t.spp != 1 {
			return t, errors.New("CCITT compression of other than 1-bit pixels")
		}
		if t.compression == 3 && d.first(ttT4Options, 0)&1 != 0 {
			return t, unsupported("tiff", "TIFF with 2-D CCITT group 3 compression", nil)
		}
	case t.compression == 1, t.compression == 5, t.compression == 8, t.compression == 32946,
		t.compression == 32773, t.compression == 7, t.compression == 50001, t.compression == 50000:
	default:
		return t, unsupported("tiff", fmt.Sprintf("TIFF with compression %d", t.compression), nil)
	}
	switch t.format {
	case 1, 2:
		if t.bps < 1 || t.bps > 32 {
			return t, unsupported("tiff", fmt.Sprintf("TIFF with %d-bit integer samples", t.bps), nil)
		}
	case 3:
		if t.bps != 16 && t.bps != 32 && t.bps != 64 {
			return t, unsupported("tiff", fmt.Sprintf("TIFF with %d-bit floating-point samples", t.bps), nil)
		}
	default:
		return t, unsupported("tiff", fmt.Sprintf("TIFF with sample format %d", t.format), nil)
	}
	switch t.photometric {
	case 0, 1:
		t.colours = 1
	case 2, 6, 8, 9, 10:
		t.colours = 3
	case 3:
		t.colours = 1
		t.colormap = d.tags[ttColorMap]
		if t.bps > 8 {
			return t, unsupported("tiff", fmt.Sprintf("TIFF with a %d-bit palette", t.bps), nil)
		}
		if len(t.colormap) < 3<<t.bps {
			return t, errors.New("palette image without a full colour map")
		}
	case 5:
		if d.first(ttInkSet, 1) != 1 || t.spp < 4 {
			return t, unsupported("tiff", "separated TIFF of other inks than CMYK", nil)
		}
		t.colours = 4
	case 4:
		return t, unsupported("tiff", "transparency-mask TIFF", nil)
	case 32844, 32845:
		return t, unsupported("tiff", "LogLuv TIFF", nil)
	default:
		return t, unsupported("tiff", fmt.Sprintf("TIFF with photometric interpretation %d", t.photometric), nil)
	}
	if t.photometric == 6 && t.compression != 7 && t.compression != 50001 {
		return t, unsupported("tiff", "YCbCr TIFF without JPEG compression", nil)
	}
	if t.spp < t.colours {
		return t, fmt.Errorf("%d samples per pixel for %d colours", t.spp, t.colours)
	}
	if t.spp > 5 {
		// The samples are held at a byte each while decoding: up to CMYK and alpha, within
		// the memory the pixel limit allows for.
		return t, unsupported("tiff", fmt.Sprintf("TIFF of %d samples per pixel", t.spp), nil)
	}
	if extra := d.tags[ttExtraSamples]; len(extra) > 0 && t.spp > t.colours && (extra[0] == 1 || extra[0] == 2) {
		t.alpha, t.premultiplied = t.colours, extra[0] == 1
	}
	if t.compression == 7 && (t.bps != 8 || t.format != 1) {
		return t, unsupported("tiff", fmt.Sprintf("JPEG-compressed TIFF of %d-bit samples", t.bps), nil)
	}
	if t.predictor != 1 && t.predictor != 2 && t.predictor != 3 {
		return t, unsupported("tiff", fmt.Sprintf("TIFF with predictor %d", t.predictor), nil)
	}
	if t.predictor == 3 && t.format != 3 {
		return t, errors.New("floating-point predictor for integer samples")
	}
	if t.predictor == 2 && t.bps%8 != 0 {
		return t, unsupported("tiff", fmt.Sprintf("TIFF with the horizontal predictor on %d-bit samples", t.bps), nil)
	}
	// Strips or tiles.
	if tw, th := d.first(ttTileWidth, 0), d.first(ttTileLength, 0); tw > 0 || th > 0 {
		if tw == 0 || th == 0 || tw > 1<<16 || th > 1<<16 {
			return t, fmt.Errorf("tiles of %d×%d", tw, th)
		}
		t.tiled, t.chunkW, t.chunkH = true, int(tw), int(th)
		t.offsets, t.counts = d.tags[ttTileOffsets], d.tags[ttTileCounts]
		if t.offsets == nil {
			t.offsets, t.counts = d.tags[ttStripOffsets], d.tags[ttStripCounts]
		}
	} else {
		t.chunkW = t.width
		t.chunkH = int(min(d.first(ttRowsPerStrip, uint64(t.height)), uint64(t.height)))
		if t.chunkH <= 0 {
			t.chunkH = t.height
		}
		t.offsets, t.counts = d.tags[ttStripOffsets], d.tags[ttStripCounts]
	}
	planes := 1
	if t.planar {
		planes = t.spp
	}
	across, down := ceilDiv(t.width, t.chunkW), ceilDiv(t.height, t.chunkH)
	if len(t.offsets) < across*down*planes || (t.counts != nil && len(t.counts) < len(t.offsets)) {
		return t, fmt.Errorf("%d strips or tiles, %d needed", len(t.offsets), across*down*planes)
	}
	// A chunk may not decompress to much more than the image it is part of, nor to more than
	// maxTIFFChunk bytes.
	if int64(t.chunkW)*int64(t.chunkH) > 4*int64(t.width)*int64(t.height)+1<<20 {
		return t, fmt.Errorf("tiles of %d×%d for a %d×%d image", t.chunkW, t.chunkH, t.width, t.height)
	}
	if n := (int64(t.chunkW)*int64(t.spp)*int64(t.bps) + 7) / 8 * int64(t.chunkH); n > maxTIFFChunk {
		return t, fmt.Errorf("%w: a strip or tile of %d MB, over the limit of %d MB", ErrTooLarge, n>>20, maxTIFFChunk>>20)
	}
	return t, nil
}

// tiffConfig reads the size of a TIFF.
func tiffConfig(data []byte) (image.Config, error) {
	t, err := readTIFF(data)
	if err != nil {
		var de *decodeError
		if errors.As(err, &de) || errors.Is(err, ErrTooLarge) {
			return image.Config{}, err
		}
		return image.Config{}, &decodeError{kind: ErrCorrupt, format: "tiff", what: "header", msg: err.Error()}
	}
	return image.Config{Width: t.width, Height: t.height}, nil
}

// decodeTIFF decodes the first image of a TIFF whose header probe has checked.
func (d *Decoder) decodeTIFF(data []byte, _ header, stop *atomic.Bool) (raster.Image, error) {
	t, err := readTIFF(data)
	if err != nil {
		return raster.Image{}, err
	}
	t.turbo = d.turboUsable()
	img, err := t.decode(data, d.Pool, stop)
	if err != nil {
		if errors.Is(err, errAbandoned) {
			return raster.Image{}, err
		}
		var de *decodeError
		if errors.As(err, &de) {
			return raster.Image{}, err
		}
		return raster.Image{}, &decodeError{kind: ErrCorrupt, format: "tiff", msg: eofToTruncated(err).Error(), err: err}
	}
	return img, nil
}

// outChannels is the channel count of the decoded image.
func (t *tiffImage) outChannels() int {
	switch {
	case t.alpha >= 0:
		return 4
	case t.colours == 1 && t.photometric != 3:
		return 1
	}
	return 3
}

// decode decodes every strip or tile into an image of samples reduced to 8 bits (the raw
// samples, all spp of them), then converts those to grey, RGB or RGBA.
func (t *tiffImage) decode(data []byte, pool *Pool, stop *atomic.Bool) (raster.Image, error) {
	spp := t.spp
	samples := newImage(pool, t.width, t.height, spp) // spp ≤ 16: raster only reads Pix here
	defer pool.Put(samples.Pix)
	planes, perChunk := 1, spp
	if t.planar {
		planes, perChunk = spp, 1
	}
	across, down := ceilDiv(t.width, t.chunkW), ceilDiv(t.height, t.chunkH)
	rowBytes := (t.chunkW*perChunk*t.bps + 7) / 8
	for p := range planes {
		for cy := range down {
			for cx := range across {
				if stop.Load() {
					return raster.Image{}, errAbandoned
				}
				i := (p*down+cy)*across + cx
				off := t.offsets[i]
				var n uint64
				if t.counts != nil {
					n = t.counts[i]
				} else {
					n = uint64(len(data)) - min(off, uint64(len(data)))
				}
				if off > uint64(len(data)) || n > uint64(len(data))-off {
					return raster.Image{}, fmt.Errorf("strip or tile %d lies outside the file", i)
				}
				src := data[off : off+n]
				x0, y0 := cx*t.chunkW, cy*t.chunkH
				rows := t.chunkH
				if !t.tiled {
					rows = min(t.chunkH, t.height-y0)
				}
				if t.compression == 7 || t.compression == 50001 {
					if err := t.decodeImageChunk(src, samples, x0, y0, rows); err != nil {
						return raster.Image{}, err
					}
					continue
				}
				raw, err := t.decompress(src, rowBytes*rows, rows)
				if err != nil {
					return raster.Image{}, err
				}
				if len(raw) < rowBytes*rows {
					return raster.Image{}, fmt.Errorf("strip or tile %d holds %d bytes, %d needed", i, len(raw), rowBytes*rows)
				}
				t.unpredict(raw, rowBytes, rows, perChunk)
				t.place(raw, rowBytes, rows, perChunk, p, samples, x0, y0)
			}
		}
	}
	if t.alpha >= 0 && opaqueSample(samples, t.spp, t.alpha) {
		t.alpha = -1 // alpha that is not used is dropped, as for every format
	}
	return t.convert(samples, pool), nil
}

// opaqueSample reports whether sample s of every pixel is 255.
func opaqueSample(m raster.Image, spp, s int) bool {
	for y := range m.Height {
		r := m.Pix[y*m.Stride : y*m.Stride+m.Width*spp]
		for i := s; i < len(r); i += spp {
			if r[i] != 0xff {
				return false
			}
		}
	}
	return true
}

// decompress returns the bytes of a strip or tile, at most want of them.
func (t *tiffImage) decompress(src []byte, want, rows int) ([]byte, error) {
	var r io.Reader
	switch t.compression {
	case 1:
		if t.predictor != 1 {
			return append([]byte(nil), src[:min(len(src), want)]...), nil // undone in place below
		}
		return src, nil
	case 32773:
		return unpackBits(src, want), nil
	case 5:
		if len(src) >= 2 && src[0] == 0 && src[1]&1 != 0 {
			return nil, unsupported("tiff", "TIFF with old-style LZW compression", nil)
		}
		r = lzw.NewReader(bytes.NewReader(src), lzw.MSB, 8)
	case 8, 32946:
		zr, err := zlib.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, err
		}
		r = zr
	case 50000:
		zr, err := zstd.NewReader(bytes.NewReader(src), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	case 3, 4:
		order := ccitt.MSB
		if t.fillLSB {
			order = ccitt.LSB
		}
		// The codes are of white and black runs, white being the 0 bits of the data they
		// were made from (whatever the photometric interpretation then makes of those).
		// golang.org/x/image/tiff inverted min-is-white CCITT files twice.
		sf, opts := ccitt.Group3, &ccitt.Options{Invert: true}
		if t.compression == 4 {
			sf = ccitt.Group4
		}
		r = ccitt.NewReader(bytes.NewReader(src), order, sf, t.chunkW, rows, opts)
	}
	out := make([]byte, 0, want)
	buf := bytes.NewBuffer(out)
	_, err := io.Copy(buf, io.LimitReader(r, int64(want)))
	if c, ok := r.(io.Closer); ok {
		c.Close()
	}
	if err != nil && buf.Len() < want {
		return nil, err
	}
	return buf.Bytes(), nil
}

// unpackBits decodes PackBits, up to want bytes.
func unpackBits(src []byte, want int) []byte {
	out := make([]byte, 0, want)
	for i := 0; i < len(src) && len(out) < want; {
		n := int(int8(src[i]))
		i++
		switch {
		case n >= 0:
			end := min(i+n+1, len(src))
			out = append(out, src[i:end]...)
			i = end
		case n != -128:
			if i < len(src) {
				for range 1 - n {
					out = append(out, src[i])
				}
				i++
			}
		}
	}
	return out[:min(len(out), want)]
}

// unpredict undoes the horizontal and floating-point predictors, row by row.
func (t *tiffImage) unpredict(raw []byte, rowBytes, rows, perPixel int) {
	switch t.predictor {
	case 2:
		size := t.bps / 8
		step := perPixel * size
		for y := range rows {
			row := raw[y*rowBytes : (y+1)*rowBytes]
			for i := step; i+size <= len(row); i += size {
				switch size {
				case 1:
					row[i] += row[i-step]
				case 2:
					t.dir.bo.PutUint16(row[i:], t.dir.bo.Uint16(row[i:])+t.dir.bo.Uint16(row[i-step:]))
				case 4:
					t.dir.bo.PutUint32(row[i:], t.dir.bo.Uint32(row[i:])+t.dir.bo.Uint32(row[i-step:]))
				case 8:
					t.dir.bo.PutUint64(row[i:], t.dir.bo.Uint64(row[i:])+t.dir.bo.Uint64(row[i-step:]))
				}
			}
		}
	case 3:
		// Bytes were differenced across the row, after the bytes of each sample were split
		// into planes, most significant first.
		size := t.bps / 8
		tmp := make([]byte, rowBytes)
		for y := range rows {
			row := raw[y*rowBytes : (y+1)*rowBytes]
			for i := perPixel; i < len(row); i++ {
				row[i] += row[i-perPixel]
			}
			copy(tmp, row)
			n := len(row) / size
			for i := range n {
				for b := range size {
					v := tmp[b*n+i]
					if t.dir.bo == binary.LittleEndian {
						row[i*size+size-1-b] = v
					} else {
						row[i*size+b] = v
					}
				}
			}
		}
	}
}

// place reduces the samples of a decompressed chunk to 8 bits and stores them in samples,
// which holds all spp samples of each pixel. plane is the sample of a planar chunk.
func (t *tiffImage) place(raw []byte, rowBytes, rows, perPixel, plane int, samples raster.Image, x0, y0 int) {
	w := min(t.chunkW, t.width-x0)
	h := min(rows, t.height-y0)
	bo, bps := t.dir.bo, t.bps
	for y := range h {
		row := raw[y*rowBytes : (y+1)*rowBytes]
		dst := samples.Pix[(y0+y)*samples.Stride+x0*t.spp:]
		for x := range w {
			for s := range perPixel {
				i := x*perPixel + s
				var v uint8
				switch bps {
				case 8:
					v = row[i]
					if t.format == 2 {
						v = signedTo8(int64(int8(v)), 8)
					}
				case 16:
					u := bo.Uint16(row[2*i:])
					switch t.format {
					case 3:
						v = floatTo8(float64(halfToFloat(u)))
					case 2:
						v = signedTo8(int64(int16(u)), 16)
					default:
						v = uint8(u >> 8)
					}
				case 32:
					u := bo.Uint32(row[4*i:])
					switch t.format {
					case 3:
						v = floatTo8(float64(math.Float32frombits(u)))
					case 2:
						v = signedTo8(int64(int32(u)), 32)
					default:
						v = uint8(u >> 24)
					}
				case 64:
					v = floatTo8(math.Float64frombits(bo.Uint64(row[8*i:])))
				default:
					u := bitsAt(row, i*bps, bps)
					if t.photometric == 3 {
						v = uint8(u) // a palette index (at most 8 bits here; see convert)
					} else if t.format == 2 {
						v = signedTo8(int64(u)<<(64-bps)>>(64-bps), bps)
					} else if bps < 8 {
						v = uint8(u * 255 / (1<<bps - 1))
					} else {
						v = uint8(u >> (bps - 8))
					}
				}
				dst[x*t.spp+plane+s] = v
			}
		}
	}
}

// bitsAt reads n bits (at most 32) at bit offset off, most significant first.
func bitsAt(b []byte, off, n int) uint64 {
	var v uint64
	for k := range n {
		bit := off + k
		v = v<<1 | uint64(b[bit/8]>>(7-bit%8)&1)
	}
	return v
}

func signedTo8(v int64, bits int) uint8 {
	if v <= 0 {
		return 0
	}
	if bits <= 8 {
		return uint8(v * 255 / (1<<(bits-1) - 1))
	}
	return uint8(v >> (bits - 9))
}

func floatTo8(f float64) uint8 {
	if !(f > 0) { // and NaN
		return 0
	}
	if f >= 1 {
		return 255
	}
	return uint8(f*255 + 0.5)
}

func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0: // zero and subnormals
		f := float32(frac) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 31:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

// decodeImageChunk decodes a JPEG- or WebP-compressed strip or tile into samples.
func (t *tiffImage) decodeImageChunk(src []byte, samples raster.Image, x0, y0, rows int) error {
	var m image.Image
	var err error
	if t.compression == 50001 {
		m, err = webp.Decode(bytes.NewReader(src))
		if err == nil {
			if y, ok := m.(*image.YCbCr); ok {
				rgb := vp8ToRGB(y, nil, 0, nil)
				m = &image.NRGBA{Pix: rgbToRGBA(rgb), Stride: 4 * rgb.Width, Rect: image.Rect(0, 0, rgb.Width, rgb.Height)}
			}
		}
	} else {
		stream := src
		if len(t.jpegTables) > 4 && len(src) > 2 {
			// The tables (SOI … EOI) and the abbreviated stream (SOI …) make one JPEG.
			stream = append(append([]byte{}, t.jpegTables[:len(t.jpegTables)-2]...), src[2:]...)
		}
		if t.photometric == 2 {
			// RGB components, not YCbCr: an Adobe marker saying so makes image/jpeg keep them.
			stream = withAdobeRGB(stream)
		}
		if ok, err := t.turboChunk(stream, samples, x0, y0, rows); ok || err != nil {
			return err
		}
		m, err = jpeg.Decode(bytes.NewReader(stream))
	}
	if err != nil {
		return err
	}
	b := m.Bounds()
	w, h := min(b.Dx(), t.width-x0, t.chunkW), min(b.Dy(), t.height-y0, rows)
	for y := range h {
		dst := samples.Pix[(y0+y)*samples.Stride+x0*t.spp:]
		for x := range w {
			c := m.At(b.Min.X+x, b.Min.Y+y)
			d := dst[x*t.spp:]
			switch t.spp {
			case 1:
				d[0] = color.GrayModel.Convert(c).(color.Gray).Y
			default:
				n := color.NRGBAModel.Convert(c).(color.NRGBA)
				d[0], d[1], d[2] = n.R, n.G, n.B
				if t.spp > 3 {
					d[3] = n.A
				}
			}
		}
	}
	return nil
}

// turboChunk decodes a JPEG strip or tile with libjpeg-turbo where it is loaded, as libtiff
// does (with its smooth chroma upsampling, which Go's decoder lacks: on small tiles of
// subsampled chroma they differ visibly). ok is false when it is not used.
func (t *tiffImage) turboChunk(stream []byte, samples raster.Image, x0, y0, rows int) (ok bool, err error) {
	if !t.turbo || (t.spp != 1 && t.spp != 3) {
		return false, nil
	}
	th, err := turboReadHeader(stream)
	if err != nil || th.cmyk || th.gray != (t.spp == 1) || th.width > t.chunkW || th.height > rows {
		return false, nil
	}
	tile := newImage(nil, th.width, th.height, t.spp)
	if err := turboDecode(stream, tile); err != nil {
		return false, err
	}
	w, h := min(th.width, t.width-x0), min(th.height, t.height-y0)
	for y := range h {
		copy(samples.Pix[(y0+y)*samples.Stride+x0*t.spp:][:w*t.spp], row(&tile, y))
	}
	return true, nil
}

func rgbToRGBA(m raster.Image) []byte {
	out := make([]byte, 4*m.Width*m.Height)
	for i := range m.Width * m.Height {
		copy(out[4*i:], m.Pix[3*i:3*i+3])
		out[4*i+3] = 0xff
	}
	return out
}

// withAdobeRGB inserts an Adobe APP14 segment with transform 0 (components are RGB) after
// the SOI of a JPEG stream.
func withAdobeRGB(s []byte) []byte {
	adobe := []byte{0xff, 0xee, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0}
	return append(append(append([]byte{}, s[:2]...), adobe...), s[2:]...)
}

// convert turns the 8-bit samples into grey, RGB or RGBA pixels.
func (t *tiffImage) convert(s raster.Image, pool *Pool) raster.Image {
	ch := t.outChannels()
	out := newImage(pool, t.width, t.height, ch)
	for y := range t.height {
		src, dst := row(&s, y), row(&out, y)
		for x := range t.width {
			p, d := src[x*t.spp:], dst[x*ch:]
			switch t.photometric {
			case 0:
				d[0] = 255 - p[0]
			case 1:
				d[0] = p[0]
			case 2, 6:
				d[0], d[1], d[2] = p[0], p[1], p[2]
			case 3:
				n := len(t.colormap) / 3
				i := int(p[0])
				if i < n {
					d[0], d[1], d[2] = uint8(t.colormap[i]>>8), uint8(t.colormap[n+i]>>8), uint8(t.colormap[2*n+i]>>8)
				}
			case 5:
				d[0], d[1], d[2] = color.CMYKToRGB(p[0], p[1], p[2], p[3])
			case 8, 9, 10:
				d[0], d[1], d[2] = labToSRGB(p[0], p[1], p[2], t.photometric == 8)
			}
			if ch == 4 {
				if t.colours == 1 && t.photometric != 3 {
					d[1], d[2] = d[0], d[0]
				}
				d[3] = p[t.alpha]
				if t.premultiplied {
					unpremultiply(d[:4])
				}
			}
		}
	}
	return out
}

// labToSRGB converts 8-bit CIE L*a*b* (a and b signed when signed, else offset by 128) to
// sRGB, with the D65 white vips uses.
func labToSRGB(l, a, b uint8, signed bool) (uint8, uint8, uint8) {
	L := float64(l) * 100 / 255
	A, B := float64(int8(a)), float64(int8(b))
	if !signed {
		A, B = float64(a)-128, float64(b)-128
	}
	fy := (L + 16) / 116
	fx, fz := fy+A/500, fy-B/200
	inv := func(f float64) float64 {
		if f > 6.0/29 {
			return f * f * f
		}
		return 3 * (6.0 / 29) * (6.0 / 29) * (f - 4.0/29)
	}
	X, Y, Z := 0.95047*inv(fx), inv(fy), 1.08883*inv(fz)
	r := 3.2404542*X - 1.5371385*Y - 0.4985314*Z
	g := -0.9692660*X + 1.8760108*Y + 0.0415560*Z
	bl := 0.0556434*X - 0.2040259*Y + 1.0572252*Z
	enc := func(c float64) uint8 {
		if c <= 0.0031308 {
			c *= 12.92
		} else {
			c = 1.055*math.Pow(c, 1/2.4) - 0.055
		}
		return uint8(max(0, min(255, math.Round(c*255))))
	}
	return enc(r), enc(g), enc(bl)
}
