package raster

import (
	"errors"
	"fmt"
)

// MaxSide is the largest width or height an image may have. It keeps every row stride and
// coordinate, including those of four-channel float32 rows, inside a C int.
const MaxSide = 1 << 20

// MaxPixels is the largest number of pixels of any image, input, intermediate or output. It
// keeps a mistaken size (say, an upscale by 1000) an error instead of an allocation of
// terabytes.
const MaxPixels = 1 << 28

// ErrImage is wrapped by every error about an image argument, here and in the packages that
// take images; test with errors.Is.
var ErrImage = errors.New("raster: bad image")

// Image is an 8-bit image with interleaved channels (HWC): channel c of pixel (x, y) is
// Pix[y*Stride + x*Channels + c]. Channels is 1 (grey), 3 (RGB) or 4 (RGBA with straight,
// not premultiplied, alpha). Rows may be padded: Stride ≥ Width*Channels. The last row needs
// only Width*Channels bytes.
type Image struct {
	Pix           []byte
	Width, Height int
	Stride        int
	Channels      int
}

// NewImage allocates a zeroed image with compact rows (Stride = width*channels).
func NewImage(width, height, channels int) (Image, error) {
	m := Image{Width: width, Height: height, Channels: channels, Stride: width * channels}
	if err := m.CheckShape(); err != nil {
		return Image{}, err
	}
	m.Pix = make([]byte, m.Stride*height)
	return m, nil
}

// Check reports whether the image is well formed: CheckShape, a stride that holds a row, and
// Pix long enough.
func (m Image) Check() error {
	if err := m.CheckShape(); err != nil {
		return err
	}
	if m.Stride < m.Width*m.Channels {
		return fmt.Errorf("%w: stride %d is shorter than a row of %d×%d bytes", ErrImage, m.Stride, m.Width, m.Channels)
	}
	if need := m.size(); len(m.Pix) < need {
		return fmt.Errorf("%w: %d×%d×%d with stride %d needs %d bytes, Pix has %d",
			ErrImage, m.Width, m.Height, m.Channels, m.Stride, need, len(m.Pix))
	}
	return nil
}

// CheckShape is Check without the pixels: it reports whether the channel count is 1, 3 or 4
// and the size at least 1×1 and within CheckSize. Stride and Pix are not looked at, so it
// answers for an image whose pixels are gone or not decoded yet.
func (m Image) CheckShape() error {
	switch {
	case m.Channels != 1 && m.Channels != 3 && m.Channels != 4:
		return fmt.Errorf("%w: %d channels (want 1, 3 or 4)", ErrImage, m.Channels)
	case m.Width < 1 || m.Height < 1:
		return fmt.Errorf("%w: empty %d×%d image", ErrImage, m.Width, m.Height)
	}
	return CheckSize(m.Width, m.Height)
}

// CheckSize reports a size with a side past MaxSide or more than MaxPixels pixels.
func CheckSize(w, h int) error {
	switch {
	case w > MaxSide || h > MaxSide:
		return fmt.Errorf("%w: %d×%d is larger than %d on a side", ErrImage, w, h, MaxSide)
	case int64(w)*int64(h) > MaxPixels:
		return fmt.Errorf("%w: %d×%d has more than %d pixels", ErrImage, w, h, MaxPixels)
	}
	return nil
}

// size is the number of bytes from the first pixel to the end of the last row.
func (m Image) size() int {
	return (m.Height-1)*m.Stride + m.Width*m.Channels
}

// Sub returns the view of the rectangle with top-left corner (x, y) and size w×h. It shares
// Pix with m; nothing is copied. The rectangle must lie inside the image.
func (m Image) Sub(x, y, w, h int) (Image, error) {
	if err := m.Check(); err != nil {
		return Image{}, err
	}
	if x < 0 || y < 0 || w < 1 || h < 1 || x > m.Width-w || y > m.Height-h {
		return Image{}, fmt.Errorf("%w: rectangle %d,%d %d×%d is not inside %d×%d", ErrImage, x, y, w, h, m.Width, m.Height)
	}
	off := y*m.Stride + x*m.Channels
	v := Image{Width: w, Height: h, Stride: m.Stride, Channels: m.Channels}
	v.Pix = m.Pix[off : off+v.size()]
	return v, nil
}

// CenterCrop returns the view of the centred w×h rectangle, clipped to the image. When the
// margin is odd the extra pixel is on the right or bottom. Nothing is copied.
func (m Image) CenterCrop(w, h int) (Image, error) {
	if w < 1 || h < 1 {
		return Image{}, fmt.Errorf("%w: centre crop to %d×%d", ErrImage, w, h)
	}
	w, h = min(w, m.Width), min(h, m.Height)
	return m.Sub((m.Width-w)/2, (m.Height-h)/2, w, h)
}

// Clone returns a copy of m with compact rows, in memory of its own.
func (m Image) Clone() (Image, error) {
	if err := m.Check(); err != nil {
		return Image{}, err
	}
	c, _ := NewImage(m.Width, m.Height, m.Channels)
	for y := 0; y < m.Height; y++ {
		copy(c.Pix[y*c.Stride:(y+1)*c.Stride], m.Pix[y*m.Stride:])
	}
	return c, nil
}

// Tensor is a float32 image in planar layout (CHW): element (c, y, x) is
// Data[(c*Height+y)*Width + x].
type Tensor struct {
	Data                    []float32
	Channels, Height, Width int
}

// NewTensor allocates a zeroed channels×height×width tensor.
func NewTensor(channels, height, width int) Tensor {
	return Tensor{Data: make([]float32, channels*height*width), Channels: channels, Height: height, Width: width}
}

// At returns element (c, y, x).
func (t Tensor) At(c, y, x int) float32 { return t.Data[(c*t.Height+y)*t.Width+x] }
