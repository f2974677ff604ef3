// Command formats reports how imgpipe's decoder reads a corpus of image-format variants
// against the reference tools: coverage (of the files Pillow or vips read, how many imgpipe
// reads) and agreement (of the files both read, how many decode to the same pixels, PSNR at
// least 40 dB). scripts/format-corpus.py writes the corpus and its reference decodes.
//
//	scripts/format-corpus.py build/corpus && go run ./bench/formats -corpus build/corpus
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/stages/imageio"
)

// AgreeDB is the PSNR from which two decodes count as the same picture: decoders of lossy
// formats differ by a rounding here and there (55 dB and up); a wrong colour conversion,
// orientation or sample scaling costs far more (under 30 dB).
const AgreeDB = 40

// Result is one file of the corpus.
type Result struct {
	Name   string
	Err    error   // imgpipe's failure, or nil
	HasRef bool    // a reference tool reads it
	PSNR   float64 // against the reference, when both read it
	Shape  string
}

// Check decodes every file of the corpus and compares it with its reference decode.
func Check(dir string) ([]Result, error) {
	entries, err := os.ReadDir(filepath.Join(dir, "files"))
	if err != nil {
		return nil, err
	}
	dec := &imageio.Decoder{}
	var out []Result
	for _, e := range entries {
		r := Result{Name: e.Name()}
		got, err := dec.DecodeFile(context.Background(), filepath.Join(dir, "files", e.Name()))
		r.Err = err
		refBytes, rerr := os.ReadFile(filepath.Join(dir, "ref", e.Name()+".png"))
		r.HasRef = rerr == nil
		if err == nil {
			r.Shape = fmt.Sprintf("%dx%dx%d", got.Image.Width, got.Image.Height, got.Image.Channels)
		}
		if err == nil && r.HasRef {
			m, err := png.Decode(bytes.NewReader(refBytes))
			if err != nil {
				return nil, fmt.Errorf("%s: reference: %w", e.Name(), err)
			}
			ref := imageio.FromImage(m, nil)
			r.PSNR = PSNR(ref, imageio.ToChannels(got.Image, ref.Channels, [3]uint8{}, nil))
			got.Release()
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// PSNR of b against a in dB: +Inf when equal, 0 when their sizes differ.
func PSNR(a, b raster.Image) float64 {
	if a.Width != b.Width || a.Height != b.Height || a.Channels != b.Channels {
		return 0
	}
	var se float64
	for y := range a.Height {
		ra := a.Pix[y*a.Stride : y*a.Stride+a.Width*a.Channels]
		rb := b.Pix[y*b.Stride : y*b.Stride+b.Width*b.Channels]
		for i := range ra {
			d := float64(ra[i]) - float64(rb[i])
			se += d * d
		}
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(a.Width*a.Height*a.Channels)))
}

// Summary counts coverage and agreement.
func Summary(rs []Result) (refRead, bothRead, agree, ours int) {
	for _, r := range rs {
		if r.Err == nil {
			ours++
		}
		if !r.HasRef {
			continue
		}
		refRead++
		if r.Err == nil {
			bothRead++
			if r.PSNR >= AgreeDB {
				agree++
			}
		}
	}
	return
}

// Write prints one line per file and the summary.
func Write(w io.Writer, rs []Result) {
	for _, r := range rs {
		ref := "no reference"
		if r.HasRef {
			ref = "reference"
		}
		switch {
		case r.Err != nil:
			fmt.Fprintf(w, "%-28s %-12s FAILED %v\n", r.Name, ref, r.Err)
		case r.HasRef:
			fmt.Fprintf(w, "%-28s %-12s %-10s PSNR %6.1f dB%s\n", r.Name, ref, r.Shape, r.PSNR, map[bool]string{true: "", false: "  DIFFERS"}[r.PSNR >= AgreeDB])
		default:
			fmt.Fprintf(w, "%-28s %-12s %-10s\n", r.Name, ref, r.Shape)
		}
	}
	refRead, both, agree, ours := Summary(rs)
	fmt.Fprintf(w, "\n%d files; imgpipe reads %d.\ncoverage: %d of the %d files the reference tools read (%.1f%%)\nagreement: %d of the %d files both read are within %d dB (%.1f%%)\n",
		len(rs), ours, both, refRead, pct(both, refRead), agree, both, AgreeDB, pct(agree, both))
}

func pct(a, b int) float64 {
	if b == 0 {
		return 100
	}
	return 100 * float64(a) / float64(b)
}

func main() {
	dir := flag.String("corpus", "", "folder written by scripts/format-corpus.py")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "usage: formats -corpus DIR")
		os.Exit(2)
	}
	rs, err := Check(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "formats:", err)
		os.Exit(1)
	}
	Write(os.Stdout, rs)
}
