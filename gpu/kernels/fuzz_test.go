package kernels

import (
	"testing"
)

// FuzzParseChain feeds arbitrary text to the --ops parser: it must return a chain or an
// error, never panic; a chain it returns prints as text that parses to the same chain; and
// planning it, checking its sizes and sizing a small image through it must not panic either.
// go test runs the seeds; go test -fuzz FuzzParseChain explores.
func FuzzParseChain(f *testing.F) {
	for _, seed := range []string{
		"",
		"resize=64x32",
		"fit=50,grey",
		"fill=40x30,fliph",
		"shorter=256,centercrop=224x224,normalize=imagenet",
		"shorter=256,centrecrop=224x224,normalise=imagenet+mirror",
		"normalize=0.5:0.5:0.5/0.25:0.25:0.25",
		"crop=10x10+3+4,rotate=270,transverse",
		"filter=box,cover=7x9,sharpen=1:0.5:2,blur=0.3",
		"levels=0.1:1.2:0.9,gamma=2.2,brightness=-0.1,contrast=1.1",
		"curve=" + string(make([]byte, 512)),
		"resize=30000x30000",
		"shorter=20000,centercrop=100x100",
		"fit=0x0", "resize=-1x5", "blur=NaN", "sharpen=1e309", "normalize=imagenet,grey",
		" Fit = 10 , , GRAY ", "orient=9", "rotate=45", "crop=1x1+99999999999999999999+0",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseChain(text)
		if err != nil {
			return
		}
		again, err := ParseChain(c.String())
		if err != nil || again.String() != c.String() {
			t.Fatalf("%q parses to %q, which parses to %q, %v", text, c.String(), again.String(), err)
		}
		p, err := c.Plan()
		if err != nil {
			return
		}
		_ = p.CheckSizes()
		_, _ = p.Shape(7, 5, 3)
		_, _ = p.FixedShape(3)
		_, _ = p.MinDecodeSize(640, 480)
	})
}
