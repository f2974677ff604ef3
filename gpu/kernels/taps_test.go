package kernels

import (
	"math"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// checkTable decodes an encoded table and checks what the kernels rely on: every window
// inside the input, weights summing to one.
func checkTable(t *testing.T, what string, b []byte, n, in int) taps {
	t.Helper()
	tb, err := decodeTaps(b, n, in)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for i := range n {
		s, w := tb.weights(i)
		if s < 0 || s+len(w) > in {
			t.Fatalf("%s: output %d window %d+%d outside %d", what, i, s, len(w), in)
		}
		sum := 0.0
		for _, v := range w {
			sum += float64(v)
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Fatalf("%s: output %d weights sum to %v", what, i, sum)
		}
	}
	return tb
}

func TestResizeTablesAtExtremeScales(t *testing.T) {
	for _, f := range allFilters {
		for _, c := range [][2]int{{1, 1}, {1, 5000}, {5000, 1}, {4000, 256}, {3, 1000}, {1000, 999}, {7, 3}, {2, 3}} {
			in, out := c[0], c[1]
			tb := checkTable(t, f.String(), resizeTaps(axis{in: in, out: out, n: out}, f), out, in)
			// The support stretches with the downscale factor: taps grow with in/out.
			if want := min(int(2*filterSupport(f)*float64(in)/float64(out)), in); in > 2*out && tb.taps < want-2 {
				t.Errorf("%v %d→%d: %d taps, want about %d (antialiasing)", f, in, out, tb.taps, want)
			}
		}
	}
}

func TestResizeTableCropAndReverse(t *testing.T) {
	full := resizeTaps(axis{in: 97, out: 40, n: 40}, raster.Lanczos3)
	ft := checkTable(t, "full", full, 40, 97)
	part := resizeTaps(axis{in: 97, out: 40, first: 5, n: 30, reverse: true}, raster.Lanczos3)
	pt := checkTable(t, "part", part, 30, 97)
	for i := range 30 {
		fs, fw := ft.weights(5 + 29 - i)
		ps, pw := pt.weights(i)
		// Same weights on the same samples; windows may be padded differently.
		for k := range max(len(fw), len(pw)) + 2 {
			s := min(fs, ps) + k
			var a, b float32
			if s-fs >= 0 && s-fs < len(fw) {
				a = fw[s-fs]
			}
			if s-ps >= 0 && s-ps < len(pw) {
				b = pw[s-ps]
			}
			if a != b {
				t.Fatalf("output %d sample %d: %v vs %v", i, s, b, a)
			}
		}
	}
}

func TestGaussTablesShareInteriorRows(t *testing.T) {
	tb := checkTable(t, "gauss", gaussTaps(100, 2), 100, 100)
	if r := gaussRadius(2); tb.taps != 2*r+1 || tb.rows != 1+2*r {
		t.Errorf("σ=2 over 100: %d taps, %d rows; want %d and %d", tb.taps, tb.rows, 2*r+1, 1+2*r)
	}
	checkTable(t, "narrow", gaussTaps(3, 10), 3, 3)
	checkTable(t, "one", gaussTaps(1, 0.5), 1, 1)
}

func TestDecodeTapsRefusesBadTables(t *testing.T) {
	good := resizeTaps(axis{in: 10, out: 4, n: 4}, raster.Linear)
	if _, err := decodeTaps(good, 4, 10); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		b     []byte
		n, in int
	}{
		"short":           {good[:10], 4, 10},
		"truncated":       {good[:len(good)-4], 4, 10},
		"wrong n":         {good, 5, 10},
		"input too short": {good, 4, 2},
	} {
		if _, err := decodeTaps(c.b, c.n, c.in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	bad := append([]byte(nil), good...)
	bad[tapsHeader] = 200 // start of output 0 past the input
	if _, err := decodeTaps(bad, 4, 10); err == nil {
		t.Error("window outside the input: no error")
	}
}

func TestFitAndShorterSizes(t *testing.T) {
	for _, c := range []struct{ w, h, bw, bh, ww, wh int }{
		{4000, 3000, 256, 256, 256, 192},
		{3000, 4000, 256, 256, 192, 256},
		{100, 1, 10, 10, 10, 1},
		{1, 1, 7, 9, 7, 7},
		{5, 3, 2, 2, 2, 1},
	} {
		if w, h := FitSize(c.w, c.h, c.bw, c.bh); w != c.ww || h != c.wh {
			t.Errorf("fit %d×%d in %d×%d: %d×%d, want %d×%d", c.w, c.h, c.bw, c.bh, w, h, c.ww, c.wh)
		}
	}
	o := op{kind: opResize, mode: sizeShorter, w: 256, h: 256}
	if w, h, _ := o.resizeSize(500, 375); w != 341 || h != 256 {
		t.Errorf("shorter side 256 of 500×375: %d×%d", w, h)
	}
	o = op{kind: opResize, mode: sizeShrink, w: 256, h: 256}
	if w, h, _ := o.resizeSize(100, 80); w != 100 || h != 80 {
		t.Errorf("shrink 100×80 into 256²: %d×%d", w, h)
	}
}
