package raster

import "fmt"

// Orientation is one of the eight flips and rotations of an image, numbered as the EXIF
// Orientation tag: applying Orientation(tag) to the stored pixels gives the upright image, the
// way a viewer shows it.
//
//	1 as stored           5 transposed (mirrored about the main diagonal)
//	2 mirrored left-right 6 turned 90° clockwise
//	3 turned 180°         7 transversed (mirrored about the other diagonal)
//	4 mirrored top-bottom 8 turned 270° clockwise
type Orientation uint8

// The orientations. The rotations turn clockwise.
const (
	Identity   Orientation = 1 // unchanged
	FlipH      Orientation = 2 // mirrored left to right
	Rotate180  Orientation = 3
	FlipV      Orientation = 4 // mirrored top to bottom
	Transpose  Orientation = 5 // mirrored about the main diagonal
	Rotate90   Orientation = 6
	Transverse Orientation = 7 // mirrored about the anti-diagonal
	Rotate270  Orientation = 8
)

var orientationNames = [...]string{"", "identity", "flip-h", "rotate-180", "flip-v", "transpose", "rotate-90", "transverse", "rotate-270"}

// String names the orientation, as in "rotate-90".
func (o Orientation) String() string {
	if o.Valid() {
		return orientationNames[o]
	}
	return fmt.Sprintf("Orientation(%d)", uint8(o))
}

// Valid reports whether o is one of the eight orientations (1 to 8).
func (o Orientation) Valid() bool { return o >= 1 && o <= 8 }

// Swaps reports whether o exchanges width and height: the transposes and the quarter turns.
func (o Orientation) Swaps() bool { return o >= 5 }

// Mirrors reports whether o mirrors the x and the y source coordinates after any swap: see
// Source.
func (o Orientation) Mirrors() (x, y bool) {
	switch o {
	case FlipH, Rotate270:
		return true, false
	case Rotate180, Transverse:
		return true, true
	case FlipV, Rotate90:
		return false, true
	}
	return false, false
}

// Size is the size of a w×h image after o.
func (o Orientation) Size(w, h int) (int, int) {
	if o.Swaps() {
		return h, w
	}
	return w, h
}

// Source maps pixel (x, y) of the oriented image to the pixel of the w×h source it comes
// from: x and y are exchanged when o swaps, then mirrored as Mirrors says.
func (o Orientation) Source(x, y, w, h int) (sx, sy int) {
	if o.Swaps() {
		x, y = y, x
	}
	fx, fy := o.Mirrors()
	if fx {
		x = w - 1 - x
	}
	if fy {
		y = h - 1 - y
	}
	return x, y
}

// Then is the orientation that applies o, then p.
func (o Orientation) Then(p Orientation) Orientation {
	// Compare where the corners of a 2×3 image land: the eight orientations send them to
	// eight different places.
	const w, h = 2, 3
	for q := Identity; q <= Rotate270; q++ {
		same := q.Swaps() == (o.Swaps() != p.Swaps())
		for i := 0; same && i < 4; i++ {
			x, y := (i%2)*(w-1), (i/2)*(h-1)
			if q.Swaps() {
				x, y = (i%2)*(h-1), (i/2)*(w-1)
			}
			// Pixel (x, y) of the result, through p, then o, back to the source.
			pw, ph := o.Size(w, h)
			mx, my := p.Source(x, y, pw, ph)
			sx, sy := o.Source(mx, my, w, h)
			qx, qy := q.Source(x, y, w, h)
			same = sx == qx && sy == qy
		}
		if same {
			return q
		}
	}
	return Identity // unreachable for valid orientations
}

// Orient writes src transformed by o into dst, whose size must be o.Size of src's and whose
// channel count must be src's. The images must not overlap. It runs on the calling goroutine
// and walks the image in tiles, so that the quarter turns and transposes, which read the
// source down its columns, stay in the cache.
func Orient(dst, src Image, o Orientation) error {
	if err := checkOrient(dst, src, o); err != nil {
		return err
	}
	if !o.Swaps() {
		// Whole rows, each read from one source row.
		for y := range dst.Height {
			orientSpan(dst, src, o, y, 0, dst.Width)
		}
		return nil
	}
	// Tiles of band rows: output row y reads source column y (or its mirror), so the rows
	// of a band read neighbouring bytes of each source row they cross.
	const band, span = 16, 256
	for y0 := 0; y0 < dst.Height; y0 += band {
		y1 := min(y0+band, dst.Height)
		for x0 := 0; x0 < dst.Width; x0 += span {
			x1 := min(x0+span, dst.Width)
			for y := y0; y < y1; y++ {
				orientSpan(dst, src, o, y, x0, x1)
			}
		}
	}
	return nil
}

// Oriented returns a new image holding src transformed by o.
func Oriented(src Image, o Orientation) (Image, error) {
	if err := src.Check(); err != nil {
		return Image{}, err
	}
	w, h := o.Size(src.Width, src.Height)
	dst, err := NewImage(w, h, src.Channels)
	if err != nil {
		return Image{}, err
	}
	return dst, Orient(dst, src, o)
}

// OrientSpan is Orient for part of one row: it writes pixels x0 ≤ x < x1 of row y of dst.
// It is for callers that share the work of one image between goroutines themselves, as the
// Go twin of the GPU orient kernel (package gpu/kernels) does; Orient is OrientSpan over
// every pixel.
func OrientSpan(dst, src Image, o Orientation, y, x0, x1 int) error {
	if err := checkOrient(dst, src, o); err != nil {
		return err
	}
	if y < 0 || y >= dst.Height || x0 < 0 || x0 > x1 || x1 > dst.Width {
		return fmt.Errorf("%w: span %d..%d of row %d outside %d×%d", ErrImage, x0, x1, y, dst.Width, dst.Height)
	}
	orientSpan(dst, src, o, y, x0, x1)
	return nil
}

func checkOrient(dst, src Image, o Orientation) error {
	if err := src.Check(); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if err := dst.Check(); err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	if !o.Valid() {
		return fmt.Errorf("%w: orientation %d", ErrImage, uint8(o))
	}
	if dst.Channels != src.Channels {
		return fmt.Errorf("%w: %d-channel destination for a %d-channel source", ErrImage, dst.Channels, src.Channels)
	}
	if w, h := o.Size(src.Width, src.Height); dst.Width != w || dst.Height != h {
		return fmt.Errorf("%w: %v of %d×%d is %d×%d, destination is %d×%d", ErrImage, o, src.Width, src.Height, w, h, dst.Width, dst.Height)
	}
	return nil
}

// orientSpan writes pixels x0..x1-1 of row y of dst, the checked images. Along an output
// row the source moves by one pixel (a mirrored or plain row) or by one row (a column, when
// o swaps), so each pixel costs a step, not a coordinate mapping.
func orientSpan(dst, src Image, o Orientation, y, x0, x1 int) {
	if x0 >= x1 {
		return
	}
	c := src.Channels
	sx, sy := o.Source(x0, y, src.Width, src.Height)
	s := sy*src.Stride + sx*c
	fx, fy := o.Mirrors()
	var step int
	switch {
	case o.Swaps() && fy:
		step = -src.Stride
	case o.Swaps():
		step = src.Stride
	case fx:
		step = -c
	default:
		// A plain row: one copy.
		copy(dst.Pix[y*dst.Stride+x0*c:y*dst.Stride+x1*c], src.Pix[s:])
		return
	}
	d := dst.Pix[y*dst.Stride+x0*c : y*dst.Stride+x1*c]
	pix := src.Pix
	switch c {
	case 1:
		for i := range d {
			d[i] = pix[s]
			s += step
		}
	case 3:
		for i := 0; i+2 < len(d); i += 3 {
			p := pix[s : s+3 : s+3]
			d[i], d[i+1], d[i+2] = p[0], p[1], p[2]
			s += step
		}
	default:
		for i := 0; i+3 < len(d); i += 4 {
			p := pix[s : s+4 : s+4]
			d[i], d[i+1], d[i+2], d[i+3] = p[0], p[1], p[2], p[3]
			s += step
		}
	}
}
