// Command photos writes a folder of generated, photo-like JPEGs for the benchmarks (see
// package internal/samples). The same flags always give the same files, and files already in
// place are kept.
//
//	go run ./bench/photos -out build/photos -n 40 -size 4000x3000
//	go run ./bench/photos -out build/camera -n 3 -size camera
//
// -size takes one size, a comma-separated list of sizes (-n photos of each, named after their
// size), or "camera": the sizes of the JPEGs phones and cameras write, from 1.3 to 18
// megapixels, landscape and portrait, so a run sees the spread of shrink-on-load factors a
// real collection gives.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/internal/samples"
)

// cameraSizes are common sizes of photos as cameras and phones store them: 1.3, 2, 3.1, 6,
// 8 (portrait), 12, 16 (portrait) and 18 megapixels.
const cameraSizes = "1400x934,1920x1080,2048x1536,3000x2000,2448x3264,4000x3000,3456x4608,5184x3456"

func main() {
	out := flag.String("out", "", "folder to write the photos to")
	n := flag.Int("n", 40, "number of photos of each size")
	size := flag.String("size", "4000x3000", `size of every photo, WxH; a list "WxH,WxH"; or "camera"`)
	quality := flag.Int("quality", 90, "JPEG quality")
	seed := flag.Int64("seed", 1, "which set of photos")
	flag.Parse()
	list := *size
	if list == "camera" {
		list = cameraSizes
	}
	var sizes [][2]int
	for _, s := range strings.Split(list, ",") {
		w, h, err := kernels.ParseSize(s)
		if err != nil {
			usage()
		}
		sizes = append(sizes, [2]int{w, h})
	}
	if *out == "" || *n < 1 {
		usage()
	}
	total := 0
	for i, wh := range sizes {
		opts := samples.Options{Count: *n, Width: wh[0], Height: wh[1], Quality: *quality, Seed: *seed + int64(i)}
		if len(sizes) > 1 {
			// One prefix per size keeps the names of each size apart and stable.
			opts.Prefix = fmt.Sprintf("photo-%dx%d", wh[0], wh[1])
		}
		paths, err := samples.Write(*out, opts)
		if err != nil {
			fmt.Fprintln(os.Stderr, "photos:", err)
			os.Exit(1)
		}
		total += len(paths)
	}
	fmt.Printf("%d photos of %s in %s\n", total, list, *out)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: photos -out DIR [-n N] [-size WxH[,WxH...]|camera] [-quality Q] [-seed S]")
	os.Exit(2)
}
