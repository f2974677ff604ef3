package job

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
)

// Ops is an operation chain parsed from text. What the decoder needs to know about it
// (the size JPEGs may be decoded at) comes from its plan: kernels.Plan.MinDecodeSize.
type Ops struct {
	Chain kernels.Chain
	// Tensor is set when the chain ends with normalize: its outputs are float32 tensors.
	Tensor bool
}

// ParseOps reads a comma-separated operation chain, such as "resize=512x512,grey,blur=1.5".
// The operations, applied in order:
//
//	resize=WxH          exactly W×H, ignoring the aspect ratio
//	fit=WxH | fit=S     the largest size inside W×H (S×S) keeping the aspect ratio
//	shrink=WxH | S      as fit, but images already inside the box keep their size
//	fill=WxH            cover W×H keeping the aspect ratio, then crop the centre to W×H
//	shorter=S           the shorter side becomes S, keeping the aspect ratio
//	filter=NAME         resampling filter of the resizes that follow: box, linear,
//	                    catmullrom or lanczos3 (the default)
//	crop=WxH+X+Y        the W×H rectangle at (X, Y)
//	centercrop=WxH      the centred W×H rectangle
//	fliph, flipv        mirror left-right, top-bottom
//	rotate=90|180|270   turn clockwise
//	transpose, transverse  mirror about the main or the other diagonal
//	grey (gray)         one channel of luma
//	brightness=B        add B (−1..1) of white
//	contrast=C          scale the distance from mid-grey by C
//	gamma=G             x ↦ x^(1/G)
//	blur=SIGMA          Gaussian blur
//	sharpen=SIGMA[:AMOUNT[:THRESHOLD]]  unsharp mask (amount 1, threshold 0 by default)
//	normalize=imagenet | normalize=M1:M2:M3/S1:S2:S3
//	                    float32 CHW tensors (v/255 − M)/S; must come last
func ParseOps(text string) (Ops, error) {
	p := opsParser{ops: Ops{Chain: kernels.NewChain()}, filter: raster.Lanczos3}
	for _, field := range strings.Split(text, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		name, value, _ := strings.Cut(field, "=")
		if err := p.add(strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)); err != nil {
			return Ops{}, fmt.Errorf("ops: %q: %w", field, err)
		}
	}
	if _, err := p.ops.Chain.Plan(); err != nil {
		return Ops{}, fmt.Errorf("ops: %w", err)
	}
	return p.ops, nil
}

type opsParser struct {
	ops    Ops
	filter raster.Filter
}

func (p *opsParser) add(name, value string) error {
	if p.ops.Tensor {
		return fmt.Errorf("normalize must be the last operation")
	}
	c := &p.ops.Chain
	switch name {
	case "resize", "fit", "shrink", "fill", "shorter":
		return p.resize(name, value)
	case "filter":
		f, err := raster.ParseFilter(value)
		p.filter = f
		return err
	case "crop":
		var w, h, x, y int
		if _, err := fmt.Sscanf(value, "%dx%d+%d+%d", &w, &h, &x, &y); err != nil {
			return fmt.Errorf("want crop=WxH+X+Y")
		}
		*c = c.Crop(x, y, w, h)
	case "centercrop", "centrecrop":
		w, h, err := parseSize(value, false)
		if err != nil {
			return err
		}
		*c = c.CenterCrop(w, h)
	case "fliph":
		*c = c.FlipH()
	case "flipv":
		*c = c.FlipV()
	case "rotate":
		return p.rotate(value)
	case "transpose", "transverse":
		*c = c.Orient(map[string]raster.Orientation{"transpose": raster.Transpose, "transverse": raster.Transverse}[name])
	case "grey", "gray":
		*c = c.Grey()
	case "brightness", "contrast", "gamma":
		return p.levels(name, value)
	case "blur":
		sigma, err := parseFloat(value)
		*c = c.Blur(sigma)
		return err
	case "sharpen":
		return p.sharpen(value)
	case "normalize", "normalise":
		return p.normalize(value)
	default:
		return fmt.Errorf("unknown operation %q", name)
	}
	return nil
}

func (p *opsParser) resize(name, value string) error {
	w, h, err := parseSize(value, name != "resize" && name != "fill")
	if err != nil {
		return err
	}
	c := &p.ops.Chain
	switch name {
	case "resize":
		*c = c.Resize(w, h, p.filter)
	case "fit":
		*c = c.ResizeFit(w, h, p.filter)
	case "shrink":
		*c = c.ResizeShrink(w, h, p.filter)
	case "fill":
		*c = c.ResizeFill(w, h, p.filter)
	case "shorter":
		*c = c.ResizeShorter(w, p.filter)
	}
	return nil
}

func (p *opsParser) rotate(value string) error {
	o, ok := map[string]raster.Orientation{"90": raster.Rotate90, "180": raster.Rotate180, "270": raster.Rotate270}[value]
	if !ok {
		return fmt.Errorf("want rotate=90, 180 or 270")
	}
	p.ops.Chain = p.ops.Chain.Orient(o)
	return nil
}

func (p *opsParser) levels(name, value string) error {
	v, err := parseFloat(value)
	if err != nil {
		return err
	}
	b, c, g := 0.0, 1.0, 1.0
	switch name {
	case "brightness":
		b = v
	case "contrast":
		c = v
	case "gamma":
		g = v
	}
	p.ops.Chain = p.ops.Chain.Levels(b, c, g)
	return nil
}

func (p *opsParser) sharpen(value string) error {
	parts := strings.Split(value, ":")
	if len(parts) > 3 {
		return fmt.Errorf("want sharpen=SIGMA[:AMOUNT[:THRESHOLD]]")
	}
	nums := []float64{0, 1, 0}
	for i, s := range parts {
		v, err := parseFloat(s)
		if err != nil {
			return err
		}
		nums[i] = v
	}
	p.ops.Chain = p.ops.Chain.Sharpen(nums[0], nums[1], int(nums[2]))
	return nil
}

func (p *opsParser) normalize(value string) error {
	n, err := ParseNorm(value)
	if err != nil {
		return err
	}
	p.ops.Chain, p.ops.Tensor = p.ops.Chain.Normalize(n), true
	return nil
}

// ParseNorm reads "imagenet" or "M1:M2:M3/S1:S2:S3" (means and standard deviations of
// samples scaled to 0..1).
func ParseNorm(value string) (kernels.Norm, error) {
	if strings.EqualFold(value, "imagenet") {
		return kernels.ImageNet, nil
	}
	means, stds, ok := strings.Cut(value, "/")
	if !ok {
		return kernels.Norm{}, fmt.Errorf("want normalize=imagenet or normalize=M1:M2:M3/S1:S2:S3")
	}
	m, err := parseFloats(means)
	if err != nil {
		return kernels.Norm{}, err
	}
	s, err := parseFloats(stds)
	if err != nil {
		return kernels.Norm{}, err
	}
	if len(m) != len(s) {
		return kernels.Norm{}, fmt.Errorf("%d means but %d standard deviations", len(m), len(s))
	}
	return kernels.Norm{Mean: m, Std: s, Scale: 1.0 / 255}, nil
}

func parseFloats(s string) ([]float32, error) {
	var out []float32
	for _, part := range strings.Split(s, ":") {
		v, err := parseFloat(part)
		if err != nil {
			return nil, err
		}
		out = append(out, float32(v))
	}
	return out, nil
}

func parseFloat(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

// ParseSize reads "WxH", or "S" for S×S where square is allowed.
func ParseSize(value string) (w, h int, err error) { return parseSize(value, true) }

func parseSize(value string, square bool) (w, h int, err error) {
	ws, hs, two := strings.Cut(strings.ToLower(value), "x")
	if !two && !square {
		return 0, 0, fmt.Errorf("want a size WxH, such as 640x480")
	}
	if w, err = strconv.Atoi(ws); err == nil && two {
		h, err = strconv.Atoi(hs)
	} else {
		h = w
	}
	if err != nil || w < 1 || h < 1 {
		return 0, 0, fmt.Errorf("%q is not a size: want WxH with positive numbers, such as 640x480", value)
	}
	return w, h, nil
}
