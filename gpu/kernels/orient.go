package kernels

import "fmt"

// The Go side of orient (csrc/pixel.cu).

var orientK = &kernelDef{name: "orient", module: "pixel", prepare: prepareOrient, row: rowOrient}

// Orientation is one of the eight flips and rotations of an image, numbered as the EXIF
// Orientation tag: applying Orientation(tag) to the stored pixels gives the upright image.
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
	if o.valid() {
		return orientationNames[o]
	}
	return fmt.Sprintf("Orientation(%d)", uint8(o))
}

func (o Orientation) valid() bool { return o >= 1 && o <= 8 }

// swaps reports whether o exchanges width and height.
func (o Orientation) swaps() bool { return o >= 5 }

// mirrors reports whether o mirrors the x and y source coordinates after any swap.
func (o Orientation) mirrors() (fx, fy bool) {
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
	if o.swaps() {
		return h, w
	}
	return w, h
}

// source maps pixel (x, y) of the oriented image to the pixel of a w×h source it comes from.
func (o Orientation) source(x, y, w, h int) (int, int) {
	if o.swaps() {
		x, y = y, x
	}
	fx, fy := o.mirrors()
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
		same := q.swaps() == (o.swaps() != p.swaps())
		for i := 0; same && i < 4; i++ {
			x, y := (i%2)*(w-1), (i/2)*(h-1)
			if q.swaps() {
				x, y = (i%2)*(h-1), (i/2)*(w-1)
			}
			// Pixel (x, y) of the result, through p, then o, back to the source.
			pw, ph := o.Size(w, h)
			mx, my := p.source(x, y, pw, ph)
			sx, sy := o.source(mx, my, w, h)
			qx, qy := q.source(x, y, w, h)
			same = sx == qx && sy == qy
		}
		if same {
			return q
		}
	}
	return Identity // unreachable for valid orientations
}

func prepareOrient(ln *launch, j *job) error {
	if err := checkChannels(j); err != nil {
		return err
	}
	o := Orientation(j.i0)
	if j.i0 < 1 || j.i0 > 8 {
		return errorf("orientation %d", j.i0)
	}
	if w, h := o.Size(j.sw, j.sh); j.dw != w || j.dh != h {
		return errorf("%v of %d×%d is %d×%d, not %d×%d", o, j.sw, j.sh, w, h, j.dw, j.dh)
	}
	if err := j.source(ln, j.sw, j.sh, j.sw*j.c, 1); err != nil {
		return err
	}
	return j.dest(ln, j.dw, j.dh, j.dw*j.c, 1)
}

func rowOrient(_ *worker, ln *launch, j *job, y, x0, x1 int) {
	o, c := Orientation(j.i0), j.c
	dst := ln.dst[j.dst+int64(y)*int64(j.ds):]
	if !o.swaps() {
		// Whole rows: one source row, read forwards or backwards.
		sy := y
		if _, fy := o.mirrors(); fy {
			sy = j.sh - 1 - y
		}
		src := ln.src[j.src+int64(sy)*int64(j.ss):]
		if fx, _ := o.mirrors(); !fx {
			copy(dst[x0*c:x1*c], src[x0*c:x1*c])
			return
		}
		for x := x0; x < x1; x++ {
			sx := j.sw - 1 - x
			copy(dst[x*c:x*c+c], src[sx*c:sx*c+c])
		}
		return
	}
	for x := x0; x < x1; x++ {
		sx, sy := o.source(x, y, j.sw, j.sh)
		s := j.src + int64(sy)*int64(j.ss) + int64(sx*c)
		copy(dst[x*c:x*c+c], ln.src[s:s+int64(c)])
	}
}

// Orient writes src transformed by o into dst, whose size must be o.Size of src's. It uses
// all cores.
func Orient(dst, src Image, o Orientation) error {
	if err := checkPair(dst, src); err != nil {
		return err
	}
	if !o.valid() {
		return fmt.Errorf("kernels: Orient: %v", o)
	}
	if w, h := o.Size(src.Width, src.Height); dst.Width != w || dst.Height != h {
		return fmt.Errorf("%w: %v of %d×%d is %d×%d, destination is %d×%d", ErrImage, o, src.Width, src.Height, w, h, dst.Width, dst.Height)
	}
	j := job{sw: src.Width, sh: src.Height, ss: src.Stride, dw: dst.Width, dh: dst.Height, ds: dst.Stride, c: src.Channels, i0: int(o)}
	return runJobs(orientK, []job{j}, src.Pix, dst.Pix, nil)
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
