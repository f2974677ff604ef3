package imageio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"

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

func ExampleDecoder_DecodeFile() {
	dir, _ := os.MkdirTemp("", "decodefile-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "grey.png")
	f, _ := os.Create(path)
	png.Encode(f, image.NewGray(image.Rect(0, 0, 3, 5)))
	f.Close()

	d, err := (&imageio.Decoder{}).DecodeFile(context.Background(), path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Release()
	fmt.Println(d.Format, d.Image.Width, d.Image.Height, d.Image.Channels, d.Label() == path)
	_, err = (&imageio.Decoder{}).DecodeFile(context.Background(), filepath.Join(dir, "missing.png"))
	fmt.Println(errors.Is(err, fs.ErrNotExist))
	// Output:
	// png 3 5 1 true
	// true
}
