// Command memfiles writes the inputs of bench/imgpipe-memory.sh: files that are small on disk
// and large in memory, and files that are not images at all. Files already in place are kept.
//
//	go run ./bench/memfiles -out build/bench-memory/zero    -kind zero    -n 8
//	go run ./bench/memfiles -out build/bench-memory/zero16  -kind zero16  -n 1
//	go run ./bench/memfiles -out build/bench-memory/pngs    -kind photo-png -n 24 -size 4000x3000
//	go run ./bench/memfiles -out build/bench-memory/junk    -kind junk    -n 2
//
// Kinds: zero, a PNG of black pixels (8-bit RGB, 10000x9900 unless -size says otherwise:
// about 300 KB on disk, 297 MB of pixels); zero16, the same as 16-bit RGBA (792 MB as Go's
// decoder holds it); photo-png, photo-like PNGs (package internal/samples); junk, sparse
// files of 1000 MB of zeros named .png, which take no disk.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"

	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/internal/samples"
)

func main() {
	out := flag.String("out", "", "folder to write to")
	kind := flag.String("kind", "", "zero, zero16, photo-png or junk")
	n := flag.Int("n", 1, "number of files")
	size := flag.String("size", "10000x9900", "image size, WxH")
	flag.Parse()
	w, h, err := kernels.ParseSize(*size)
	if err != nil || *out == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: memfiles -out DIR -kind zero|zero16|photo-png|junk [-n N] [-size WxH]")
		os.Exit(2)
	}
	if err := write(*out, *kind, *n, w, h); err != nil {
		fmt.Fprintln(os.Stderr, "memfiles:", err)
		os.Exit(1)
	}
}

func write(dir, kind string, n, w, h int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if kind == "photo-png" {
		_, err := samples.Write(dir, samples.Options{Count: n, Width: w, Height: h, Formats: []string{"png"}})
		return err
	}
	var first string
	for i := range n {
		path := filepath.Join(dir, fmt.Sprintf("%s-%02d.png", kind, i))
		if _, err := os.Stat(path); err == nil {
			continue
		}
		var err error
		switch {
		case kind == "junk":
			err = junk(path)
		case first != "":
			err = copyFile(first, path) // one encode is enough: the copies are the same
		default:
			err = zeroPNG(path, kind, w, h)
		}
		if err != nil {
			return err
		}
		if first == "" {
			first = path
		}
	}
	return nil
}

func junk(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := f.Truncate(1000 << 20); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func zeroPNG(path, kind string, w, h int) error {
	var m image.Image
	switch kind {
	case "zero":
		rgba := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := 3; i < len(rgba.Pix); i += 4 {
			rgba.Pix[i] = 0xff // opaque: the encoder writes 8-bit RGB
		}
		m = rgba
	case "zero16":
		m = image.NewNRGBA64(image.Rect(0, 0, w, h)) // all zero: 16-bit RGBA, transparent
	default:
		return fmt.Errorf("kind %q: want zero, zero16, photo-png or junk", kind)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(bw, m); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}
