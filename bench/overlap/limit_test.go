package main

import (
	"testing"
	"time"
)

// The simulated bound agrees with the closed forms for equal phases.
func TestLimitClosedForms(t *testing.T) {
	const T = time.Millisecond
	p := phases{T, T, T}
	for _, n := range []int{4, 10, 64} {
		cases := []struct {
			slots, engines int
			want           time.Duration
		}{
			{1, 1, time.Duration(3*n) * T},
			{1, 2, time.Duration(3*n) * T},
			{2, 2, time.Duration(3*n/2+1) * T},
			{3, 2, time.Duration(n+2) * T},
			{4, 2, time.Duration(n+2) * T},
			{2, 1, time.Duration(2*n) * T},
			{3, 1, time.Duration(2*n) * T},
		}
		for _, c := range cases {
			if got := limit(c.slots, c.engines, n, p); got != c.want {
				t.Errorf("n=%d slots=%d engines=%d: limit %v, want %v", n, c.slots, c.engines, got, c.want)
			}
		}
	}
}

// The bound never beats the busiest engine's total work, nor a single batch's latency.
func TestLimitLowerBounds(t *testing.T) {
	for _, p := range []phases{{1, 2, 3}, {3, 1, 1}, {2, 2, 5}, {4, 1, 4}} {
		for slots := 1; slots <= 4; slots++ {
			for engines := 1; engines <= 2; engines++ {
				n := 20
				got := limit(slots, engines, n, p)
				copyLoad := time.Duration(n) * max(p.up, p.down)
				if engines == 1 {
					copyLoad = time.Duration(n) * (p.up + p.down)
				}
				floor := max(copyLoad, time.Duration(n)*p.kernel, p.up+p.kernel+p.down)
				if got < floor || got > serial(n, p) {
					t.Errorf("%v slots=%d engines=%d: %v outside [%v, %v]", p, slots, engines, got, floor, serial(n, p))
				}
			}
		}
	}
}
