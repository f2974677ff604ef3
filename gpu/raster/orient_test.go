package raster

import (
	"errors"
	"fmt"
	"testing"
)

func TestOrientMatchesCoordinateMapping(t *testing.T) {
	r := newRand(t)
	for i := range 300 {
		side := 30
		if i%10 == 0 {
			side = 700 // several tiles
		}
		src := randImage(r, randSide(r, side), randSide(r, side), channelCounts[r.IntN(3)])
		o := Orientation(1 + r.IntN(8))
		got, err := Oriented(src, o)
		if err != nil {
			t.Fatal(err)
		}
		// Written from the EXIF definitions, independently of Orientation.Source.
		w, h := src.Width, src.Height
		for y := range got.Height {
			for x := range got.Width {
				sx := map[Orientation]int{
					Identity: x, FlipH: w - 1 - x, Rotate180: w - 1 - x, FlipV: x,
					Transpose: y, Rotate90: y, Transverse: w - 1 - y, Rotate270: w - 1 - y,
				}[o]
				sy := map[Orientation]int{
					Identity: y, FlipH: y, Rotate180: h - 1 - y, FlipV: h - 1 - y,
					Transpose: x, Rotate90: h - 1 - x, Transverse: h - 1 - x, Rotate270: x,
				}[o]
				for ch := range src.Channels {
					if got.at(x, y, ch) != src.at(sx, sy, ch) {
						t.Fatalf("%v of %d×%d: pixel (%d,%d) is not source (%d,%d)", o, w, h, x, y, sx, sy)
					}
				}
			}
		}
	}
}

// OrientSpan over pieces of rows, in any order, writes what Orient writes, and nothing
// outside its span.
func TestOrientSpanPieces(t *testing.T) {
	r := newRand(t)
	for range 200 {
		src := randImage(r, randSide(r, 40), randSide(r, 40), channelCounts[r.IntN(3)])
		o := Orientation(1 + r.IntN(8))
		want, err := Oriented(src, o)
		if err != nil {
			t.Fatal(err)
		}
		got := randImage(r, want.Width, want.Height, want.Channels)
		for y := range got.Height {
			for x0 := 0; x0 < got.Width; {
				x1 := min(got.Width, x0+1+r.IntN(got.Width))
				before := append([]byte(nil), got.Pix...)
				if err := OrientSpan(got, src, o, y, x0, x1); err != nil {
					t.Fatal(err)
				}
				for i := range got.Pix {
					in := i >= y*got.Stride+x0*got.Channels && i < y*got.Stride+x1*got.Channels
					if !in && got.Pix[i] != before[i] {
						t.Fatalf("%v: span %d..%d of row %d wrote byte %d", o, x0, x1, y, i)
					}
				}
				x0 = x1
			}
		}
		if err := sameImages(got, want); err != nil {
			t.Fatalf("%v of %d×%d by spans: %v", o, src.Width, src.Height, err)
		}
	}
}

func TestOrientationThenComposes(t *testing.T) {
	r := newRand(t)
	src := randImage(r, 5, 3, 3)
	for a := Identity; a <= Rotate270; a++ {
		for b := Identity; b <= Rotate270; b++ {
			ab, _ := Oriented(src, a)
			ab, _ = Oriented(ab, b)
			direct, _ := Oriented(src, a.Then(b))
			if err := sameImages(ab, direct); err != nil {
				t.Errorf("%v then %v is not %v: %v", a, b, a.Then(b), err)
			}
		}
	}
}

func TestOrientErrors(t *testing.T) {
	good, _ := NewImage(4, 3, 3)
	turned, _ := NewImage(3, 4, 3)
	grey, _ := NewImage(4, 3, 1)
	for name, err := range map[string]error{
		"size":         Orient(good, good, Rotate90),
		"value":        Orient(good, good, 9),
		"zero":         Orient(good, good, 0),
		"channels":     Orient(grey, good, Identity),
		"bad source":   Orient(good, Image{Width: 4, Height: 3, Channels: 3, Stride: 12}, Identity),
		"span row":     OrientSpan(turned, good, Rotate90, 4, 0, 1),
		"span columns": OrientSpan(turned, good, Rotate90, 0, 2, 4),
	} {
		if !errors.Is(err, ErrImage) {
			t.Errorf("%s: %v, want ErrImage", name, err)
		}
	}
	if err := OrientSpan(turned, good, Rotate90, 3, 1, 1); err != nil {
		t.Errorf("an empty span: %v", err)
	}
}

func TestOrientationNames(t *testing.T) {
	var names []string
	for o := Orientation(0); o <= 9; o++ {
		names = append(names, o.String())
	}
	if got := fmt.Sprint(names); got != "[Orientation(0) identity flip-h rotate-180 flip-v transpose rotate-90 transverse rotate-270 Orientation(9)]" {
		t.Errorf("names: %s", got)
	}
}

func BenchmarkOrient(b *testing.B) {
	const w, h = 4000, 3000
	for _, c := range []int{1, 3, 4} {
		for _, o := range []Orientation{FlipH, FlipV, Rotate90, Transverse} {
			src, _ := NewImage(w, h, c)
			ow, oh := o.Size(w, h)
			dst, _ := NewImage(ow, oh, c)
			b.Run(fmt.Sprintf("%dch/%v", c, o), func(b *testing.B) {
				b.SetBytes(int64(w * h * c))
				for b.Loop() {
					if err := Orient(dst, src, o); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
