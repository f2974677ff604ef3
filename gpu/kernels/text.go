package kernels

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// ParseChain reads a chain written as comma-separated operations, such as
// "fit=512,grey,blur=1.5", the syntax Chain.String prints. Names are case-insensitive; spaces
// around fields are ignored. The operations, applied in order, and the Chain methods they
// stand for:
//
//	stretch=WxH          exactly W×H, the aspect ratio not kept          Resize
//	resize=WxH           the same as stretch                             Resize
//	fit=WxH | fit=S      the largest size inside W×H (S×S), aspect kept  ResizeFit
//	shrink=WxH | S       as fit, but images already inside keep their size  ResizeShrink
//	fill=WxH             cover W×H with the aspect kept, then keep the
//	                     centred W×H: exactly W×H, nothing stretched     ResizeFill
//	cover=WxH            the smallest size covering W×H, aspect kept     ResizeCover
//	shorter=S            the shorter side becomes S, aspect kept         ResizeShorter
//	filter=NAME          the filter of the resizes that follow: box,
//	                     linear, catmullrom or lanczos3 (the default)    (their argument)
//	crop=WxH+X+Y         the W×H rectangle at (X, Y), clipped            Crop
//	centercrop=WxH       the centred W×H rectangle, clipped              CenterCrop
//	fliph, flipv         mirror left-right, top-bottom                   FlipH, FlipV
//	rotate=90|180|270    turn clockwise                                  Orient
//	transpose            mirror about the main diagonal                  Orient
//	transverse           mirror about the other diagonal                 Orient
//	orient=N | NAME      EXIF orientation N (1 to 8), or its name, such
//	                     as identity or rotate-90 (raster.Orientation)   Orient
//	grey (gray)          one channel of BT.601 luma                      Grey
//	srgb                 convert to sRGB by each image's ColorMap        ToSRGB
//	brightness=B         add B (−1..1) of white                          Levels(B, 1, 1)
//	contrast=C           scale the distance from mid-grey by C           Levels(0, C, 1)
//	gamma=G              x ↦ x^(1/G)                                     Levels(0, 1, G)
//	levels=B:C:G         the three at once                               Levels
//	curve=HEX            a lookup table of 256 bytes, 512 hex digits     Curve
//	blur=SIGMA           Gaussian blur                                   Blur
//	sharpen=SIGMA[:AMOUNT[:THRESHOLD]]
//	                     unsharp mask (amount 1, threshold 0 by default) Sharpen
//	normalize=NORM       float32 CHW tensors; must come last             Normalize
//	copy                 nothing (the empty chain prints as copy)
//
// NORM is imagenet (ImageNet) or M1:M2:M3/S1:S2:S3, means and standard deviations of samples
// scaled to 0..1, optionally followed by /SCALE (Norm.Scale, 1/255 by default), and by
// +mirror (Norm.Mirror). centrecrop and normalise are accepted too.
//
// The chain is checked as Plan checks it (at most MaxOps operations); every error wraps
// ErrChain.
func ParseChain(text string) (Chain, error) {
	p := chainParser{filter: raster.Lanczos3}
	var ops []op
	for _, field := range strings.Split(text, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		name, value, _ := strings.Cut(field, "=")
		// Each field is read into a chain of its own and its operations appended here:
		// Chain's methods copy the chain they extend, which, field after field, would
		// copy a long chain a quadratic number of times.
		p.c = NewChain()
		if err := p.add(strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)); err != nil {
			return Chain{}, fmt.Errorf("%w: %q: %v", ErrChain, field, err)
		}
		if ops = append(ops, p.c.ops...); len(ops) > MaxOps {
			return Chain{}, fmt.Errorf("%w: more than %d operations", ErrChain, MaxOps)
		}
	}
	c := Chain{ops: ops}
	if _, err := c.Plan(); err != nil {
		return Chain{}, err
	}
	return c, nil
}

type chainParser struct {
	c      Chain // the operations of the field being read
	filter raster.Filter
	tensor bool // normalize was read
}

func (p *chainParser) add(name, value string) error {
	if p.tensor {
		return fmt.Errorf("normalize must be the last operation")
	}
	c := &p.c
	switch name {
	case "stretch", "resize", "fit", "shrink", "fill", "cover", "shorter":
		return p.resize(name, value)
	case "filter":
		f, err := raster.ParseFilter(value)
		p.filter = f
		return err
	case "crop":
		var w, h, x, y int
		var rest string
		if n, _ := fmt.Sscanf(value, "%dx%d+%d+%d%s", &w, &h, &x, &y, &rest); n != 4 {
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
		o, ok := map[string]raster.Orientation{"90": raster.Rotate90, "180": raster.Rotate180, "270": raster.Rotate270}[value]
		if !ok {
			return fmt.Errorf("want rotate=90, 180 or 270")
		}
		*c = c.Orient(o)
	case "transpose":
		*c = c.Orient(raster.Transpose)
	case "transverse":
		*c = c.Orient(raster.Transverse)
	case "orient":
		o, err := parseOrientation(value)
		*c = c.Orient(o)
		return err
	case "grey", "gray":
		*c = c.Grey()
	case "srgb":
		*c = c.ToSRGB()
	case "brightness", "contrast", "gamma", "levels":
		return p.levels(name, value)
	case "curve":
		b, err := hex.DecodeString(value)
		if err != nil || len(b) != len(Curve{}) {
			return fmt.Errorf("want curve= and 512 hex digits")
		}
		*c = c.Curve(Curve(b))
	case "blur":
		sigma, err := parseFloat(value)
		*c = c.Blur(sigma)
		return err
	case "sharpen":
		return p.sharpen(value)
	case "normalize", "normalise":
		n, err := parseNorm(value)
		if err != nil {
			return err
		}
		*c, p.tensor = c.Normalize(n), true
	case "copy":
	default:
		return fmt.Errorf("unknown operation %q", name)
	}
	return nil
}

func (p *chainParser) resize(name, value string) error {
	w, h, err := parseSize(value, name == "fit" || name == "shrink" || name == "shorter")
	if err != nil {
		return err
	}
	if name == "shorter" && w != h {
		return fmt.Errorf("want shorter=S")
	}
	c, f := &p.c, p.filter
	switch name {
	case "stretch", "resize":
		*c = c.Resize(w, h, f)
	case "fit":
		*c = c.ResizeFit(w, h, f)
	case "shrink":
		*c = c.ResizeShrink(w, h, f)
	case "fill":
		*c = c.ResizeFill(w, h, f)
	case "cover":
		*c = c.ResizeCover(w, h, f)
	case "shorter":
		*c = c.ResizeShorter(w, f)
	}
	return nil
}

func parseOrientation(value string) (raster.Orientation, error) {
	if n, err := strconv.Atoi(value); err == nil && n >= 1 && n <= 8 {
		return raster.Orientation(n), nil
	}
	for o := raster.Identity; o <= raster.Rotate270; o++ {
		if strings.EqualFold(value, o.String()) {
			return o, nil
		}
	}
	return 0, fmt.Errorf("want orient=1 to 8, or a name such as rotate-90")
}

func (p *chainParser) levels(name, value string) error {
	v := [3]float64{0, 1, 1}
	if name == "levels" {
		parts := strings.Split(value, ":")
		if len(parts) != 3 {
			return fmt.Errorf("want levels=BRIGHTNESS:CONTRAST:GAMMA")
		}
		for i, s := range parts {
			f, err := parseFloat(s)
			if err != nil {
				return err
			}
			v[i] = f
		}
	} else {
		f, err := parseFloat(value)
		if err != nil {
			return err
		}
		v[map[string]int{"brightness": 0, "contrast": 1, "gamma": 2}[name]] = f
	}
	p.c = p.c.Levels(v[0], v[1], v[2])
	return nil
}

func (p *chainParser) sharpen(value string) error {
	parts := strings.Split(value, ":")
	if len(parts) > 3 {
		return fmt.Errorf("want sharpen=SIGMA[:AMOUNT[:THRESHOLD]]")
	}
	sigma, amount, threshold := 0.0, 1.0, 0
	var err error
	if sigma, err = parseFloat(parts[0]); err != nil {
		return err
	}
	if len(parts) > 1 {
		if amount, err = parseFloat(parts[1]); err != nil {
			return err
		}
	}
	if len(parts) > 2 {
		if threshold, err = strconv.Atoi(strings.TrimSpace(parts[2])); err != nil {
			return fmt.Errorf("threshold %q is not a whole number", parts[2])
		}
	}
	p.c = p.c.Sharpen(sigma, amount, threshold)
	return nil
}

// parseNorm reads imagenet or MEANS/STDS[/SCALE], either followed by +mirror.
func parseNorm(value string) (Norm, error) {
	value, mirror := strings.CutSuffix(strings.ToLower(value), "+mirror")
	if value == "imagenet" {
		n := ImageNet
		n.Mirror = mirror
		return n, nil
	}
	parts := strings.Split(value, "/")
	if len(parts) != 2 && len(parts) != 3 {
		return Norm{}, fmt.Errorf("want normalize=imagenet or normalize=M1:M2:M3/S1:S2:S3")
	}
	var vals [3][]float32
	for i, part := range parts {
		for _, s := range strings.Split(part, ":") {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
			if err != nil {
				return Norm{}, fmt.Errorf("%q is not a number", s)
			}
			vals[i] = append(vals[i], float32(v))
		}
	}
	if len(vals[0]) != len(vals[1]) {
		return Norm{}, fmt.Errorf("%d means but %d standard deviations", len(vals[0]), len(vals[1]))
	}
	n := Norm{Mean: vals[0], Std: vals[1], Mirror: mirror}
	if len(parts) == 3 {
		if len(vals[2]) != 1 {
			return Norm{}, fmt.Errorf("want one scale after the standard deviations")
		}
		n.Scale = vals[2][0]
	}
	return n, nil
}

func parseFloat(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

// ParseSize reads a size written WxH, such as 640x480, or S for S×S. Both sides must be
// positive.
func ParseSize(text string) (w, h int, err error) { return parseSize(text, true) }

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

// String writes the chain in the syntax ParseChain reads, so that ParseChain(c.String())
// gives c back: a resize is preceded by filter=NAME when its filter is not the one before it
// (lanczos3 at first), ResizeCover followed by the centre crop of its box is written fill,
// and the empty chain is "copy". A chain with an invalid argument (one that Plan refuses) is
// written as well as it can be, which ParseChain may not read.
func (c Chain) String() string {
	var fields []string
	filter := raster.Lanczos3
	for i := 0; i < len(c.ops); i++ {
		o := &c.ops[i]
		if o.kind == opResize && o.filter != filter {
			fields = append(fields, "filter="+o.filter.String())
			filter = o.filter
		}
		if o.kind == opResize && o.mode == sizeCover && i+1 < len(c.ops) {
			if n := c.ops[i+1]; n.kind == opCenterCrop && n.w == o.w && n.h == o.h {
				fields = append(fields, fmt.Sprintf("fill=%dx%d", o.w, o.h))
				i++
				continue
			}
		}
		fields = append(fields, o.String())
	}
	if len(fields) == 0 {
		return "copy"
	}
	return strings.Join(fields, ",")
}

// String writes the operation as ParseChain reads it, without its filter.
func (o op) String() string {
	switch o.kind {
	case opResize:
		switch o.mode {
		case sizeExact:
			return fmt.Sprintf("stretch=%dx%d", o.w, o.h)
		case sizeFit:
			return fmt.Sprintf("fit=%dx%d", o.w, o.h)
		case sizeShrink:
			return fmt.Sprintf("shrink=%dx%d", o.w, o.h)
		case sizeCover:
			return fmt.Sprintf("cover=%dx%d", o.w, o.h)
		case sizeShorter:
			return fmt.Sprintf("shorter=%d", o.w)
		}
	case opCrop:
		return fmt.Sprintf("crop=%dx%d+%d+%d", o.w, o.h, o.x, o.y)
	case opCenterCrop:
		return fmt.Sprintf("centercrop=%dx%d", o.w, o.h)
	case opOrient:
		switch o.o {
		case raster.FlipH:
			return "fliph"
		case raster.FlipV:
			return "flipv"
		case raster.Rotate90:
			return "rotate=90"
		case raster.Rotate180:
			return "rotate=180"
		case raster.Rotate270:
			return "rotate=270"
		case raster.Transpose:
			return "transpose"
		case raster.Transverse:
			return "transverse"
		}
		return "orient=" + o.o.String()
	case opGrey:
		return "grey"
	case opColor:
		return "srgb"
	case opCurve:
		if l := o.levels; l != nil {
			switch {
			case l[1] == 1 && l[2] == 1:
				return "brightness=" + formatFloat(l[0])
			case l[0] == 0 && l[2] == 1:
				return "contrast=" + formatFloat(l[1])
			case l[0] == 0 && l[1] == 1:
				return "gamma=" + formatFloat(l[2])
			}
			return "levels=" + formatFloat(l[0]) + ":" + formatFloat(l[1]) + ":" + formatFloat(l[2])
		}
		return "curve=" + hex.EncodeToString(o.curve[:])
	case opBlur:
		return "blur=" + formatFloat(o.sigma)
	case opSharpen:
		return fmt.Sprintf("sharpen=%s:%s:%d", formatFloat(o.sigma), formatFloat(o.amount), o.threshold)
	case opNormalize:
		return "normalize=" + formatNorm(o.norm)
	}
	return fmt.Sprintf("unknown(%d)", o.kind)
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func formatFloat32s(vs []float32) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.FormatFloat(float64(v), 'g', -1, 32)
	}
	return strings.Join(s, ":")
}

func formatNorm(n Norm) string {
	var s string
	if n.Scale == 0 && slices.Equal(n.Mean, ImageNet.Mean) && slices.Equal(n.Std, ImageNet.Std) {
		s = "imagenet"
	} else {
		s = formatFloat32s(n.Mean) + "/" + formatFloat32s(n.Std)
		if n.Scale != 0 {
			s += "/" + formatFloat32s([]float32{n.Scale})
		}
	}
	if n.Mirror {
		s += "+mirror"
	}
	return s
}
