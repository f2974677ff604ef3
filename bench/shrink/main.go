// Command shrink measures what JPEG shrink-on-load costs a thumbnail's quality, to choose how
// much larger than the resize's output a decode must stay (kernels.Plan.MinDecodeSize).
//
// For every JPEG in -in it decodes the photo at full size and computes the ideal thumbnail:
// a float64 Lanczos-3 reduction (package internal/resizeref) fitting -box×-box. Then, for each
// margin in -margins, it decodes the photo again with libjpeg-turbo at the smallest 1/2, 1/4
// or 1/8 scale that leaves at least margin × the thumbnail's size on each side (the DCT-domain
// scaling imgpipe's decoder does), resizes that with the Lanczos-3 of package gpu/kernels (what
// every device computes), and measures the PSNR against the ideal. vipsthumbnail's thumbnail of
// the same photo (written as PNG, so that no JPEG encoding adds error) is measured the same way
// when it is on PATH.
//
//	go run ./bench/shrink -in build/bench-imgpipe/photos-camera
//
// It prints one JSON line per photo and margin, then one summary line per margin: the mean
// and the worst PSNR, the mean decode time, the worst difference from vipsthumbnail on the same
// photo, and whether the margin passes the rule imgpipe's margin is chosen by: a mean PSNR
// within 1 dB of margin 2's (the rule before measurement) and no photo below vipsthumbnail's.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/internal/resizeref"
	"github.com/gpupipe/gpupipe/stages/imageio"
)

func main() {
	in := flag.String("in", "", "folder of JPEG photos")
	box := flag.Int("box", 256, "fit the thumbnails in box×box")
	margins := flag.String("margins", "1,1.25,1.5,2", "decode margins to measure (2 is the rule before measurement)")
	flag.Parse()
	var ms []float64
	for _, s := range strings.Split(*margins, ",") {
		m, err := strconv.ParseFloat(s, 64)
		if err != nil || m < 1 {
			fmt.Fprintln(os.Stderr, "shrink: bad margin", s)
			os.Exit(2)
		}
		ms = append(ms, m)
	}
	if *in == "" {
		fmt.Fprintln(os.Stderr, "usage: shrink -in DIR [-box N] [-margins 1,1.5,2]")
		os.Exit(2)
	}
	if err := imageio.TurboJPEG(); err != nil {
		fmt.Fprintln(os.Stderr, "shrink: libjpeg-turbo is needed for shrink-on-load:", err)
		os.Exit(1)
	}
	if _, err := run(os.Stdout, *in, *box, ms); err != nil {
		fmt.Fprintln(os.Stderr, "shrink:", err)
		os.Exit(1)
	}
}

// line is one photo at one margin ("vipsthumbnail" in Margin's place for vips).
type line struct {
	Photo    string  `json:"photo"`
	Size     string  `json:"size"`
	Margin   string  `json:"margin"`
	Scale    int     `json:"scale,omitempty"` // the shrink-on-load denominator
	PSNR     float64 `json:"psnr_db"`
	DecodeMs float64 `json:"decode_ms,omitempty"`
}

// summary is one margin over every photo.
type summary struct {
	Margin       float64 `json:"margin"`
	Photos       int     `json:"photos"`
	MeanPSNR     float64 `json:"mean_psnr_db"`
	WorstPSNR    float64 `json:"worst_psnr_db"`
	MeanDecodeMs float64 `json:"mean_decode_ms"`
	VsMargin2    float64 `json:"mean_vs_margin2_db"`
	WorstVsVips  float64 `json:"worst_vs_vipsthumbnail_db,omitempty"`
	MeanVips     float64 `json:"mean_vipsthumbnail_psnr_db,omitempty"`
	Passes       bool    `json:"passes"`
}

// run measures every photo in dir, writes the JSON lines to w and returns the summaries.
func run(w io.Writer, dir string, box int, margins []float64) ([]summary, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("no .jpg files in %s", dir)
	}
	slices.Sort(paths)
	_, vipsErr := exec.LookPath("vipsthumbnail")
	tmp, err := os.MkdirTemp("", "shrink-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	enc := json.NewEncoder(w)
	psnrs := make([][]float64, len(margins))
	decodeMs := make([][]float64, len(margins))
	var vips []float64
	for _, path := range paths {
		full, err := decode(path, nil)
		if err != nil {
			return nil, err
		}
		w, h := full.Image.Width, full.Image.Height
		dw, dh := kernels.FitSize(w, h, box, box)
		ref := resizeref.Reference(full.Image, dw, dh, resizeref.Lanczos3)
		full.Release()
		name := filepath.Base(path)
		size := fmt.Sprintf("%dx%d->%dx%d", w, h, dw, dh)
		for i, m := range margins {
			minSize := func(w, h int) (int, int) {
				return min(w, int(math.Ceil(m*float64(dw)))), min(h, int(math.Ceil(m*float64(dh))))
			}
			t0 := time.Now()
			d, err := decode(path, minSize)
			if err != nil {
				return nil, err
			}
			ms := float64(time.Since(t0).Microseconds()) / 1e3
			out, err := kernels.Resized(d.Image, dw, dh, raster.Lanczos3)
			scale := d.Scale
			d.Release()
			if err != nil {
				return nil, err
			}
			p := resizeref.PSNR(out.Pix, ref)
			psnrs[i] = append(psnrs[i], p)
			decodeMs[i] = append(decodeMs[i], ms)
			if err := enc.Encode(line{name, size, strconv.FormatFloat(m, 'g', -1, 64), scale, round(p), round(ms)}); err != nil {
				return nil, err
			}
		}
		if vipsErr == nil {
			p, err := vipsPSNR(path, tmp, box, dw, dh, ref)
			if err != nil {
				return nil, err
			}
			vips = append(vips, p)
			if err := enc.Encode(line{Photo: name, Size: size, Margin: "vipsthumbnail", PSNR: round(p)}); err != nil {
				return nil, err
			}
		}
	}
	base := -1
	for i, m := range margins {
		if m == 2 {
			base = i
		}
	}
	var sums []summary
	for i, m := range margins {
		s := summary{Margin: m, Photos: len(paths), MeanPSNR: mean(psnrs[i]), WorstPSNR: slices.Min(psnrs[i]), MeanDecodeMs: mean(decodeMs[i])}
		s.Passes = true
		if base >= 0 {
			s.VsMargin2 = s.MeanPSNR - mean(psnrs[base])
			s.Passes = s.VsMargin2 >= -1
		}
		if len(vips) == len(paths) {
			s.MeanVips = round(mean(vips))
			s.WorstVsVips = math.Inf(1)
			for k, p := range psnrs[i] {
				s.WorstVsVips = min(s.WorstVsVips, p-vips[k])
			}
			s.Passes = s.Passes && s.WorstVsVips >= 0
			s.WorstVsVips = round(s.WorstVsVips)
		}
		s.MeanPSNR, s.WorstPSNR, s.MeanDecodeMs, s.VsMargin2 = round(s.MeanPSNR), round(s.WorstPSNR), round(s.MeanDecodeMs), round(s.VsMargin2)
		if err := enc.Encode(s); err != nil {
			return nil, err
		}
		sums = append(sums, s)
	}
	return sums, nil
}

// decode decodes path as 3-channel RGB, shrinking on load as minSize allows (nil: full size).
func decode(path string, minSize func(w, h int) (int, int)) (*imageio.Decoded, error) {
	dec := &imageio.Decoder{Channels: 3, MinSize: minSize, MaxPixels: -1}
	return dec.DecodeFile(context.Background(), path)
}

// vipsPSNR makes vipsthumbnail's thumbnail of path as a PNG and measures it against ref; its
// size must be the same as the kernels' (dw×dh).
func vipsPSNR(path, tmp string, box, dw, dh int, ref []float64) (float64, error) {
	out := filepath.Join(tmp, "vips.png")
	cmd := exec.Command("vipsthumbnail", "--size", strconv.Itoa(box), "-o", out, path)
	if b, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("vipsthumbnail %s: %v: %s", path, err, b)
	}
	d, err := decode(out, nil)
	if err != nil {
		return 0, err
	}
	defer d.Release()
	if d.Image.Width != dw || d.Image.Height != dh {
		return 0, fmt.Errorf("vipsthumbnail made %dx%d of %s, kernels %dx%d", d.Image.Width, d.Image.Height, path, dw, dh)
	}
	pix := make([]byte, 0, dw*dh*3)
	for y := range dh {
		pix = append(pix, d.Image.Pix[y*d.Image.Stride:][:dw*3]...)
	}
	return resizeref.PSNR(pix, ref), nil
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func round(v float64) float64 { return math.Round(v*100) / 100 }
