package samples

// field is fractal value noise: octaves of random values on square lattices, each lattice
// with cells half the size of the one before and values scaled by a persistence below 1,
// interpolated smoothly between lattice points. Its spectrum falls off with frequency, as
// the brightness of natural scenes does, which is why JPEG spends about as many bits on it
// as on a photo.
type field struct {
	octaves []octave
	lerped  []float32 // one lattice row, interpolated vertically; reused by every row
}

// octave is one lattice of a field, with the horizontal interpolation precomputed per image
// column, since every row uses the same.
type octave struct {
	amp  float32
	cell float32
	cols int
	lat  []float32 // lattice values in [-1, 1), row-major, cols per row
	left []int32   // per image column: the lattice column at or left of it
	frac []float32 // per image column: the smoothed fraction towards the next lattice column
}

// newField makes a field for a w×h image whose octaves have cells from coarse pixels down
// to no less than fine pixels. Each octave's amplitude is persistence times the one before;
// they are scaled so that the field's values lie in [-1, 1).
func newField(key uint64, w, h int, coarse, fine, persistence float32) *field {
	f := &field{}
	amp, sum := float32(1), float32(0)
	for i, cell := uint64(0), coarse; cell >= fine; i, cell = i+1, cell/2 {
		f.octaves = append(f.octaves, newOctave(mix(key+i), w, h, cell, amp))
		sum += amp
		amp *= persistence
	}
	for i := range f.octaves {
		f.octaves[i].amp /= sum
	}
	f.lerped = make([]float32, f.octaves[len(f.octaves)-1].cols)
	return f
}

func newOctave(key uint64, w, h int, cell, amp float32) octave {
	o := octave{amp: amp, cell: cell, cols: int(float32(w)/cell) + 2}
	rows := int(float32(h)/cell) + 2
	o.lat = make([]float32, o.cols*rows)
	for i := range o.lat {
		o.lat[i] = signed(mix(key ^ uint64(i)))
	}
	o.left = make([]int32, w)
	o.frac = make([]float32, w)
	for x := range w {
		pos := float32(x) / cell
		o.left[x] = int32(pos)
		o.frac[x] = smooth(pos - float32(int32(pos)))
	}
	return o
}

// addRow adds the field's values along image row y, times scale, to acc.
func (f *field) addRow(y int, scale float32, acc []float32) {
	for _, o := range f.octaves {
		pos := float32(y) / o.cell
		j := int(pos)
		fy := smooth(pos - float32(j))
		top, bottom := o.lat[j*o.cols:(j+1)*o.cols], o.lat[(j+1)*o.cols:(j+2)*o.cols]
		row := f.lerped[:o.cols]
		for i := range row {
			row[i] = lerp(top[i], bottom[i], fy)
		}
		amp := float32(o.amp * scale)
		left, frac := o.left[:len(acc)], o.frac[:len(acc)] // lets the compiler drop bounds checks
		for x := range acc {
			l := left[x]
			acc[x] += float32(amp * lerp(row[l], row[l+1], frac[x]))
		}
	}
}

// smooth is the smoothstep curve 3t² − 2t³, which hides the lattice: the noise has no kinks
// at cell borders.
func smooth(t float32) float32 {
	return float32(t*t) * (3 - float32(2*t))
}

// lerp interpolates linearly. The explicit conversion rounds the product before the sum, so
// that no platform fuses them into one multiply-add and every machine makes the same pixels.
func lerp(a, b, t float32) float32 {
	return a + float32((b-a)*t)
}
