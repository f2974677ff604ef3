package job

import "github.com/gpupipe/gpupipe/gpu/kernels"

// Ops is an operation chain, with whether it makes tensors. What the decoder needs to know
// about it (the size JPEGs may be decoded at) comes from its plan: kernels.Plan.MinDecodeSize.
type Ops struct {
	Chain kernels.Chain
	// Tensor is set when the chain ends with normalize: its outputs are float32 tensors.
	Tensor bool
}

// ParseOps reads a comma-separated operation chain, such as "fit=512,grey,blur=1.5", with
// kernels.ParseChain, which documents the syntax.
func ParseOps(text string) (Ops, error) {
	c, err := kernels.ParseChain(text)
	if err != nil {
		return Ops{}, err
	}
	p, err := c.Plan()
	if err != nil {
		return Ops{}, err
	}
	return Ops{Chain: c, Tensor: p.Tensor()}, nil
}

// ParseSize reads "WxH", or "S" for S×S: kernels.ParseSize.
func ParseSize(value string) (w, h int, err error) { return kernels.ParseSize(value) }
