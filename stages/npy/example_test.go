package npy_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/stages/npy"
)

func Example() {
	dir, _ := os.MkdirTemp("", "shards")
	defer os.RemoveAll(dir)
	w, err := npy.NewShardWriter(npy.Options{
		Dir: dir, Prefix: "train", Layout: npy.CHWFloat32,
		Height: 2, Width: 2, Channels: 3, RowsPerShard: 2,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	img := raster.Image{Pix: make([]byte, 12), Width: 2, Height: 2, Stride: 6, Channels: 3}
	for _, src := range []string{"a.jpg", "b.jpg", "c.jpg"} {
		w.AddImage(img, src)
	}
	if err := w.Close(); err != nil {
		fmt.Println(err)
		return
	}
	f, _ := os.Open(filepath.Join(dir, "train-00001.npy"))
	defer f.Close()
	h, _ := npy.ReadHeader(f)
	fmt.Println(h.Descr, h.Shape)
	index, _ := os.ReadFile(filepath.Join(dir, "train-index.jsonl"))
	fmt.Print(string(index))
	// Output:
	// <f4 [1 3 2 2]
	// {"shard":"train-00000.npy","row":0,"path":"a.jpg"}
	// {"shard":"train-00000.npy","row":1,"path":"b.jpg"}
	// {"shard":"train-00001.npy","row":0,"path":"c.jpg"}
}
