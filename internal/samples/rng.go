package samples

// The generator draws every random number from splitmix64, written out here rather than
// taken from math/rand, so that a seed makes the same images with every Go version.

// mix is splitmix64's finaliser: a bijective hash of 64 bits with good avalanche.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// rng is a splitmix64 sequence.
type rng struct{ state uint64 }

func newRNG(keys ...uint64) *rng {
	r := &rng{}
	for _, k := range keys {
		r.state = mix(r.state ^ k + 0x9e3779b97f4a7c15)
	}
	return r
}

func (r *rng) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	return mix(r.state)
}

// unit returns a float32 in [0, 1).
func (r *rng) unit() float32 {
	return float32(r.next()>>40) / (1 << 24)
}

// between returns a float32 in [lo, hi).
func (r *rng) between(lo, hi float32) float32 {
	return lo + float32((hi-lo)*r.unit())
}

// intn returns an int in [0, n).
func (r *rng) intn(n int) int {
	return int(r.next() % uint64(n))
}

// signed maps the low 21 bits of h to a float32 in [-1, 1), so that one hash gives three
// independent values: h, h>>21 and h>>42.
func signed(h uint64) float32 {
	return float32(h&(1<<21-1))/(1<<20) - 1
}
