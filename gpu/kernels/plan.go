package kernels

import (
	"fmt"
	"strings"
	"sync"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Plan is a Chain turned into kernel launches. It runs batches on the host (Run), or is the
// work the overlap engine drives on a device (Sizes, Pack, Enqueue, Result: see Batch), and
// it answers what callers need to know before the images arrive (Shape, FixedShape,
// MinDecodeSize). A Plan does not change once made, apart from the kernels it keeps per
// device, and is safe for concurrent use.
//
// Planning fuses what it can, so that pixels cross device memory as few times as possible:
//   - a crop costs nothing: before a resize it narrows the source the filter reads, after a
//     resize it narrows the outputs the filter computes, elsewhere the next step reads a view;
//   - flips right after a resize are folded into its filter tables;
//   - a flip, rotation or transpose right before a resize is moved after it (the result is
//     the same up to float rounding, never more than one level), where it works on the
//     smaller image or is folded into the tables; not for Box, which is discontinuous;
//   - consecutive orientations compose into one, consecutive curves into one table;
//   - ToSRGB moves past resizes and crops (and flips after it), to the smaller side of a
//     thumbnail's resize, where the resize's vertical pass computes it;
//   - Normalize after a resize is computed by the resize's vertical pass, so resize, centre
//     crop, flip and normalize take two launches (as DALI's resize with crop_mirror_normalize);
//     a horizontal flip before Normalize is done by Normalize.
type Plan struct {
	chain  Chain
	ops    []op // the chain's operations, simplified: what the steps were built from
	steps  []step
	tensor bool
	bound  sync.Map // gpu.Device → map[*kernelDef]gpu.Kernel: the kernels on each device
}

type stepKind uint8

const (
	stepResample stepKind = iota + 1
	stepBlur
	stepSharpen
	stepOrient
	stepGrey
	stepLUT
	stepNormalize
	stepColor
)

// step is one stage of a plan: one to three launches over the batch.
type step struct {
	kind      stepKind
	crops     []op // crops of the input, read as views
	resize    op   // stepResample: the size rule and filter
	post      []op // stepResample: crops and flips of the result, folded into its tables
	o         raster.Orientation
	curve     Curve
	sigma     float64
	amount    float64
	threshold int
	norm      *Norm // planar float32 output: stepNormalize, or fused into stepResample
	color     bool  // stepResample: the vertical pass converts to sRGB (resample_v_color)
	mirror    bool  // stepNormalize: mirror left to right
}

// Plan checks the chain's arguments and compiles it.
func (c Chain) Plan() (*Plan, error) {
	if len(c.ops) > MaxOps {
		return nil, fmt.Errorf("%w: %d operations, more than %d", ErrChain, len(c.ops), MaxOps)
	}
	for i := range c.ops {
		if err := c.ops[i].check(i, len(c.ops)); err != nil {
			return nil, err
		}
	}
	p := &Plan{chain: c, ops: simplify(expand(c.ops))}
	p.steps = buildSteps(p.ops)
	last := p.steps[len(p.steps)-1]
	p.tensor = last.norm != nil
	return p, nil
}

// expand spells out Norm.Mirror as a flip before Normalize, so that it folds like any flip.
func expand(ops []op) []op {
	n := len(ops)
	if n == 0 || ops[n-1].kind != opNormalize || !ops[n-1].norm.Mirror {
		return ops
	}
	last := ops[n-1]
	last.norm.Mirror = false
	return append(ops[:n-1:n-1], op{kind: opOrient, o: raster.FlipH}, last)
}

// simplify rewrites the operations into an equivalent, cheaper list: orientations compose and
// move past resizes, curves compose.
func simplify(in []op) []op {
	ops := append([]op(nil), in...)
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(ops); i++ {
			a := &ops[i]
			if a.kind == opOrient && a.o == raster.Identity {
				ops = append(ops[:i], ops[i+1:]...)
				changed = true
				break
			}
			if i+1 == len(ops) {
				break
			}
			b := &ops[i+1]
			switch {
			case a.kind == opOrient && b.kind == opOrient:
				a.o = a.o.Then(b.o)
			case a.kind == opCurve && b.kind == opCurve:
				a.curve, a.levels = a.curve.Then(b.curve), nil
			case a.kind == opColor && b.kind == opColor:
				// once converted, an image is sRGB: the second conversion does nothing
			case a.kind == opColor && (b.kind == opResize || b.kind == opCrop || b.kind == opCenterCrop),
				a.kind == opOrient && b.kind == opColor:
				// Per-pixel conversion commutes exactly with crops and orientations, and
				// with a resize up to rounding: it moves to the smaller side of a
				// shrinking resize, into its vertical pass. Orientations go the other way,
				// after it, so that the two rules never undo each other.
				ops[i], ops[i+1] = ops[i+1], ops[i]
				changed = true
				continue
			case a.kind == opOrient && b.kind == opResize && b.filter != raster.Box:
				// Box is discontinuous: which samples sit on the edge of its support
				// depends on the direction they are counted from, so it does not commute
				// with flips, even up to rounding.
				if a.o.Swaps() && b.mode != sizeShorter {
					b.w, b.h = b.h, b.w
				}
				ops[i], ops[i+1] = ops[i+1], ops[i]
				changed = true
				continue
			default:
				continue
			}
			ops = append(ops[:i+1], ops[i+2:]...)
			changed = true
		}
	}
	return ops
}

// buildSteps groups operations into steps, folding crops, flips and normalisation.
func buildSteps(ops []op) []step {
	var steps []step
	var crops []op // crops waiting for the next step to read them as a view
	for _, o := range ops {
		var prev *step
		if len(steps) > 0 && len(crops) == 0 {
			prev = &steps[len(steps)-1]
		}
		if fold(prev, o) {
			continue
		}
		if o.kind == opCrop || o.kind == opCenterCrop {
			crops = append(crops, o)
			continue
		}
		steps = append(steps, newStep(o, crops))
		crops = nil
	}
	if len(crops) > 0 || len(steps) == 0 {
		// Something must write the output: a copy of the (cropped) input.
		steps = append(steps, step{kind: stepOrient, o: raster.Identity, crops: crops})
	}
	return steps
}

// fold merges operation o into the step just before it, when it can, and reports whether
// it did.
func fold(prev *step, o op) bool {
	if prev == nil {
		return false
	}
	resampled := prev.kind == stepResample && prev.norm == nil
	switch o.kind {
	case opColor:
		if resampled && !prev.color {
			prev.color = true // the vertical pass converts what it rounds
			return true
		}
	case opCrop, opCenterCrop:
		if resampled {
			prev.post = append(prev.post, o) // compute only the kept outputs
			return true
		}
	case opOrient:
		if resampled && !o.o.Swaps() {
			prev.post = append(prev.post, o) // reverse the order of table rows
			return true
		}
	case opNormalize:
		n := o.norm
		if resampled && !prev.color {
			prev.norm = &n // the vertical pass normalises
			return true
		}
		if prev.kind == stepOrient && prev.o == raster.FlipH {
			*prev = step{kind: stepNormalize, crops: prev.crops, norm: &n, mirror: true}
			return true
		}
	}
	return false
}

// newStep is the step that performs o, reading its input through crops.
func newStep(o op, crops []op) step {
	s := step{crops: crops}
	switch o.kind {
	case opResize:
		s.kind, s.resize = stepResample, o
	case opOrient:
		s.kind, s.o = stepOrient, o.o
	case opGrey:
		s.kind = stepGrey
	case opColor:
		s.kind = stepColor
	case opCurve:
		s.kind, s.curve = stepLUT, o.curve
	case opBlur:
		s.kind, s.sigma = stepBlur, o.sigma
	case opSharpen:
		s.kind, s.sigma, s.amount, s.threshold = stepSharpen, o.sigma, o.amount, o.threshold
	case opNormalize:
		n := o.norm
		s.kind, s.norm = stepNormalize, &n
	}
	return s
}

// Tensor reports whether the plan's outputs are float32 tensors (the chain ends with
// Normalize) rather than images.
func (p *Plan) Tensor() bool { return p.tensor }

// Launches lists the kernels one batch runs, in order.
func (p *Plan) Launches() []string {
	var names []string
	for _, s := range p.steps {
		for _, k := range s.kernels() {
			names = append(names, k.name)
		}
	}
	return names
}

// String describes the chain and the launches it became.
func (p *Plan) String() string {
	return fmt.Sprintf("%v: %s", p.chain, strings.Join(p.Launches(), ", "))
}

// kernels lists the launches of a step.
func (s *step) kernels() []*kernelDef {
	switch s.kind {
	case stepResample:
		if s.norm != nil {
			return []*kernelDef{resampleH, resampleVNorm}
		}
		if s.color {
			return []*kernelDef{resampleH, resampleVColor}
		}
		return []*kernelDef{resampleH, resampleV}
	case stepBlur:
		return []*kernelDef{resampleH, resampleV}
	case stepSharpen:
		return []*kernelDef{resampleH, resampleV, unsharpK}
	case stepOrient:
		return []*kernelDef{orientK}
	case stepGrey:
		return []*kernelDef{greyK}
	case stepLUT:
		return []*kernelDef{lutK}
	case stepColor:
		return []*kernelDef{colorK}
	}
	return []*kernelDef{normalizeK}
}
