package kernels_test

import (
	"fmt"

	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
)

func ExampleResize() {
	src, _ := raster.NewImage(4000, 3000, 3)
	w, h := kernels.FitSize(src.Width, src.Height, 256, 256)
	dst, _ := raster.NewImage(w, h, 3)
	if err := kernels.Resize(dst, src, raster.Lanczos3); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d×%d\n", dst.Width, dst.Height)
	// Output: 256×192
}

func ExampleChain() {
	// ImageNet preprocessing: shorter side to 256, centre 224×224, a mirror image, and
	// normalisation to float32 planes. The plan fuses it all into two launches.
	plan, err := kernels.NewChain().
		ResizeShorter(256, raster.Linear).
		CenterCrop(224, 224).
		FlipH().
		Normalize(kernels.ImageNet).
		Plan()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(plan.Launches())

	photo, _ := raster.NewImage(500, 375, 3)
	res, err := plan.Run([]raster.Image{photo})
	if err != nil {
		fmt.Println(err)
		return
	}
	t := res.Tensors[0]
	fmt.Println(t.Channels, t.Height, t.Width)
	// Output:
	// [resample_h resample_v_norm]
	// 3 224 224
}

func ExampleLevels() {
	// Brighter by a tenth, more contrast, a little gamma lift; curves compose exactly.
	c, _ := kernels.Levels(0.1, 1.2, 1.1)
	fmt.Println(c[0], c[128], c[255])
	// Output: 0 164 255
}

func ExamplePlan_Shape() {
	plan, _ := kernels.NewChain().ResizeShrink(256, 256, raster.Lanczos3).Plan()
	for _, size := range [][2]int{{4000, 3000}, {100, 80}} {
		s, _ := plan.Shape(size[0], size[1], 3)
		fmt.Printf("%d×%d → %d×%d\n", size[0], size[1], s.Width, s.Height)
	}
	// Output:
	// 4000×3000 → 256×192
	// 100×80 → 100×80
}

func ExamplePlan_MinDecodeSize() {
	// A thumbnail that fits in 256×256 needs twice its size from the decoder: a 4000×3000
	// JPEG may be decoded at 1/4 (1000×750) but not at 1/8 (500×375).
	plan, _ := kernels.NewChain().ResizeFit(256, 256, raster.Lanczos3).Plan()
	fmt.Println(plan.MinDecodeSize(4000, 3000))

	// A crop before the resize is in pixels of the full image: no shrinking.
	plan, _ = kernels.NewChain().Crop(100, 100, 2000, 2000).ResizeFit(256, 256, raster.Lanczos3).Plan()
	fmt.Println(plan.MinDecodeSize(4000, 3000))
	// Output:
	// 512 384
	// 4000 3000
}

func ExamplePlan_FixedShape() {
	for _, c := range []kernels.Chain{
		kernels.NewChain().ResizeShorter(256, raster.Linear).CenterCrop(224, 224).Normalize(kernels.ImageNet),
		kernels.NewChain().ResizeFill(128, 96, raster.Lanczos3).Grey(),
		kernels.NewChain().ResizeFit(128, 128, raster.Lanczos3),
	} {
		plan, _ := c.Plan()
		s, ok := plan.FixedShape(3)
		fmt.Printf("%+v %v\n", s, ok)
	}
	// Output:
	// {Width:224 Height:224 Channels:3 Tensor:true} true
	// {Width:128 Height:96 Channels:1 Tensor:false} true
	// {Width:0 Height:0 Channels:0 Tensor:false} false
}

func ExampleParseChain() {
	chain, err := kernels.ParseChain("rotate=90, filter=linear, fill=320x240, grey, blur=0.8")
	if err != nil {
		fmt.Println(err)
		return
	}
	// String writes the same syntax back, in its own words.
	fmt.Println(chain)
	plan, _ := chain.Plan()
	s, _ := plan.Shape(4000, 3000, 3)
	fmt.Printf("%d×%d, %d channel\n", s.Width, s.Height, s.Channels)

	_, err = kernels.ParseChain("resize=256")
	fmt.Println(err)
	// Output:
	// rotate=90,filter=linear,fill=320x240,grey,blur=0.8
	// 320×240, 1 channel
	// kernels: bad chain: "resize=256": want a size WxH, such as 640x480
}
