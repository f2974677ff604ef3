package imageio_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/gpupipe/gpupipe/stages/imageio"
)

func Example() {
	// A 4×2 PNG with a translucent pixel, as a file would hold it.
	src := image.NewNRGBA(image.Rect(0, 0, 4, 2))
	for i := range src.Pix {
		src.Pix[i] = 200
	}
	src.SetNRGBA(0, 0, color.NRGBA{255, 0, 0, 128})
	var file bytes.Buffer
	png.Encode(&file, src)

	pool := &imageio.Pool{}
	dec := &imageio.Decoder{Pool: pool}
	img, err := dec.DecodeBytes("in.png", file.Bytes())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer img.Release()
	fmt.Println(img.Format, img.Image.Width, img.Image.Height, img.Image.Channels)

	// JPEG has no alpha: the translucent pixel is flattened onto white.
	enc := &imageio.Encoder{Format: imageio.JPEG, Quality: 85, Background: [3]uint8{255, 255, 255}, Pool: pool}
	var out bytes.Buffer
	if err := enc.Encode(&out, img.Image); err != nil {
		fmt.Println(err)
		return
	}
	back, _ := dec.DecodeBytes("out.jpg", out.Bytes())
	fmt.Println(back.Format, back.Image.Channels)
	// Output:
	// png 4 2 4
	// jpeg 3
}

func ExampleShrinkFactor() {
	// A 12-megapixel photo that will become a thumbnail of 224×168 needs twice that,
	// 448×336: it can be decoded at 1/8, 500×375.
	fmt.Println(imageio.ShrinkFactor(4000, 3000, 448, 336))
	// Output: 8
}

func ExampleDecoder_DecodeBytes_tooLarge() {
	// A PNG header claiming 100000×100000 pixels is refused before anything is allocated.
	dec := &imageio.Decoder{}
	_, err := dec.DecodeBytes("bomb.png", pngHeader(100000, 100000))
	fmt.Println(err)
	// Output: bomb.png: image too large: 100000×100000 is 10000.0 megapixels, over the limit of 100.0
}
