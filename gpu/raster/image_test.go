package raster

import (
	"errors"
	"testing"
)

func TestSubAndCenterCrop(t *testing.T) {
	r := newRand(t)
	m := randImage(r, 9, 7, 3)
	v, err := m.CenterCrop(4, 4)
	if err != nil {
		t.Fatal(err)
	}
	if v.Width != 4 || v.Height != 4 || v.at(0, 0, 0) != m.at(2, 1, 0) || v.at(3, 3, 2) != m.at(5, 4, 2) {
		t.Errorf("centre 4×4 of 9×7 is not at (2,1)")
	}
	if big, _ := m.CenterCrop(20, 3); big.Width != 9 || big.at(0, 0, 1) != m.at(0, 2, 1) {
		t.Errorf("centre crop wider than the image is not clipped")
	}
	for _, rc := range [][4]int{{-1, 0, 2, 2}, {8, 0, 2, 1}, {0, 0, 0, 1}, {0, 6, 1, 2}} {
		if _, err := m.Sub(rc[0], rc[1], rc[2], rc[3]); !errors.Is(err, ErrImage) {
			t.Errorf("Sub%v of 9×7: %v, want ErrImage", rc, err)
		}
	}
	if _, err := m.CenterCrop(0, 3); !errors.Is(err, ErrImage) {
		t.Errorf("CenterCrop(0, 3): %v", err)
	}
}

func TestCheck(t *testing.T) {
	bad := []Image{
		{},
		{Pix: make([]byte, 11), Width: 2, Height: 2, Stride: 6, Channels: 3},
		{Pix: make([]byte, 100), Width: 2, Height: 2, Stride: 4, Channels: 3},
		{Pix: make([]byte, 100), Width: 2, Height: 2, Stride: 4, Channels: 2},
		{Pix: make([]byte, 100), Width: 0, Height: 2, Stride: 4, Channels: 1},
		{Pix: make([]byte, 100), Width: 2, Height: -1, Stride: 4, Channels: 1},
		{Pix: make([]byte, 100), Width: MaxSide + 1, Height: 1, Stride: MaxSide + 1, Channels: 1},
	}
	for i, m := range bad {
		if err := m.Check(); !errors.Is(err, ErrImage) {
			t.Errorf("image %d: %v, want ErrImage", i, err)
		}
	}
	// The last row needs only its pixels; the shape alone needs no pixels at all.
	ok := Image{Pix: make([]byte, 10+6), Width: 2, Height: 2, Stride: 10, Channels: 3}
	if err := ok.Check(); err != nil {
		t.Errorf("short last row: %v", err)
	}
	if err := (Image{Width: 5, Height: 5, Channels: 4}).CheckShape(); err != nil {
		t.Errorf("CheckShape without pixels: %v", err)
	}
	if _, err := NewImage(1<<15, 1<<14, 1); !errors.Is(err, ErrImage) {
		t.Errorf("NewImage over MaxPixels: %v", err)
	}
	if err := CheckSize(MaxSide, 1); err != nil {
		t.Errorf("CheckSize(MaxSide, 1): %v", err)
	}
}

func TestClone(t *testing.T) {
	r := newRand(t)
	m := randImage(r, 5, 4, 4)
	c, err := m.Clone()
	if err != nil {
		t.Fatal(err)
	}
	if c.Stride != 20 || len(c.Pix) != 80 || &c.Pix[0] == &m.Pix[0] {
		t.Errorf("clone: stride %d, %d bytes", c.Stride, len(c.Pix))
	}
	if err := sameImages(c, m); err != nil {
		t.Error(err)
	}
}

func TestTensor(t *testing.T) {
	tn := NewTensor(3, 2, 4)
	tn.Data[(2*2+1)*4+3] = 7
	if len(tn.Data) != 24 || tn.At(2, 1, 3) != 7 {
		t.Errorf("tensor %+v", tn)
	}
}

func TestFilterNames(t *testing.T) {
	for f := Box; f <= Lanczos3; f++ {
		g, err := ParseFilter(f.String())
		if err != nil || g != f {
			t.Errorf("ParseFilter(%q) = %v, %v", f.String(), g, err)
		}
	}
	for name, want := range map[string]Filter{"AREA": Box, "bilinear": Linear, "Cubic": CatmullRom, "lanczos": Lanczos3} {
		if f, err := ParseFilter(name); err != nil || f != want {
			t.Errorf("ParseFilter(%q) = %v, %v", name, f, err)
		}
	}
	if _, err := ParseFilter("nearest"); err == nil {
		t.Error("ParseFilter(nearest): no error")
	}
	if Filter(0).Valid() || Filter(5).Valid() || Filter(9).String() != "Filter(9)" {
		t.Error("invalid filters")
	}
}
