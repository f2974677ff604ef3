package samples

import "math"

// shape is a rotated ellipse or rectangle with its own colour, shading and texture: the
// objects of a scene, whose hard edges are what resampling filters are judged on.
type shape struct {
	ellipse  bool
	cx, cy   float32 // centre
	rx, ry   float32 // half-axes, in the shape's own frame
	cos, sin float32 // its rotation
	color    [3]float32
	shade    float32 // brightness change from its centre to its edge along its own y axis
	texture  float32 // how strongly the scene's texture shows on it
	x0, x1   int     // the columns it can touch, inclusive
	y0, y1   int     // the rows it can touch, inclusive
}

func newShape(r *rng, w, h int) shape {
	short := float32(min(w, h))
	s := shape{
		ellipse: r.intn(2) == 0,
		cx:      r.between(0, float32(w)),
		cy:      r.between(0.25, 1) * float32(h),
		rx:      r.between(0.03, 0.2) * short,
		color:   hsv(r.between(0, 360), r.between(0.2, 0.8), r.between(0.15, 0.9)),
		shade:   r.between(-0.3, 0.3),
		texture: r.between(0.15, 0.45),
	}
	s.ry = s.rx * r.between(0.3, 1.5)
	// The rotation comes from a random direction normalised with a square root, which IEEE 754
	// rounds exactly, rather than from math.Sin and math.Cos, whose last bit may differ
	// between platforms. Shapes are symmetric, so half a turn covers every rotation.
	dx, dy := r.between(-1, 1), r.between(0.05, 1)
	length := sqrt(float32(dx*dx) + float32(dy*dy))
	s.cos, s.sin = dx/length, dy/length
	reach := float64(sqrt(float32(s.rx*s.rx)+float32(s.ry*s.ry))) + 1
	s.x0 = max(0, int(float64(s.cx)-reach))
	s.x1 = min(w-1, int(float64(s.cx)+reach))
	s.y0 = max(0, int(float64(s.cy)-reach))
	s.y1 = min(h-1, int(float64(s.cy)+reach))
	return s
}

// drawRow blends the shape into row y of rgb, antialiased: a pixel on the edge takes the
// shape's colour in proportion to how far inside it its centre lies, over one pixel.
func (s *shape) drawRow(y int, tex, rgb []float32) {
	if y < s.y0 || y > s.y1 {
		return
	}
	dy := float32(y) + 0.5 - s.cy
	for x := s.x0; x <= s.x1; x++ {
		dx := float32(x) + 0.5 - s.cx
		u := float32(dx*s.cos) + float32(dy*s.sin)
		v := float32(dy*s.cos) - float32(dx*s.sin)
		cover := min(max(s.inside(u, v)+0.5, 0), 1)
		if cover == 0 {
			continue
		}
		m := 1 + float32(s.shade*v/s.ry) + float32(s.texture*tex[x])
		for c := range 3 {
			rgb[3*x+c] = lerp(rgb[3*x+c], float32(s.color[c]*m), cover)
		}
	}
}

// inside returns the signed distance in pixels from the point (u, v) of the shape's frame to
// its outline: positive inside. For an ellipse it is the first-order estimate
// (1 − q)/|∇q| of the implicit function q = |(u/rx, v/ry)|, exact on the outline.
func (s *shape) inside(u, v float32) float32 {
	if !s.ellipse {
		return min(s.rx-abs(u), s.ry-abs(v))
	}
	nu, nv := u/s.rx, v/s.ry
	q := sqrt(float32(nu*nu) + float32(nv*nv))
	if q < 0.5 {
		return 1 // deep inside; the estimate is only needed near the outline
	}
	gu, gv := nu/s.rx, nv/s.ry
	grad := sqrt(float32(gu*gu)+float32(gv*gv)) / q
	return (1 - q) / grad
}

func abs(v float32) float32 {
	return float32(math.Abs(float64(v)))
}

// sqrt is the correctly rounded float32 square root (rounding the float64 root of a float32
// to float32 never rounds twice the wrong way).
func sqrt(v float32) float32 {
	return float32(math.Sqrt(float64(v)))
}
