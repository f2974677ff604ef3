// Command photos writes a folder of generated, photo-like JPEGs for the benchmarks (see
// package internal/samples). The same flags always give the same files, and files already in
// place are kept.
//
//	go run ./bench/photos -out build/photos -n 40 -size 4000x3000
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/internal/samples"
)

func main() {
	out := flag.String("out", "", "folder to write the photos to")
	n := flag.Int("n", 40, "number of photos")
	size := flag.String("size", "4000x3000", "size of every photo, WxH")
	quality := flag.Int("quality", 90, "JPEG quality")
	seed := flag.Int64("seed", 1, "which set of photos")
	flag.Parse()
	w, h, err := kernels.ParseSize(*size)
	if err != nil || *out == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: photos -out DIR [-n N] [-size WxH] [-quality Q] [-seed S]")
		os.Exit(2)
	}
	paths, err := samples.Write(*out, samples.Options{Count: *n, Width: w, Height: h, Quality: *quality, Seed: *seed})
	if err != nil {
		fmt.Fprintln(os.Stderr, "photos:", err)
		os.Exit(1)
	}
	fmt.Printf("%d photos of %dx%d in %s\n", len(paths), w, h, *out)
}
