// Gostreams puts a GPU stage in the middle of a github.com/reugn/go-streams pipeline. It
// computes a perceptual fingerprint of every image (the average hash: the image shrunk to
// 8×8 grey pixels on the device, one bit per pixel brighter than their mean), which finds
// near-duplicate photos.
//
//	ChanSource ─▶ [decode ─▶ process.Images ─▶ hash] ─▶ flow.Map ─▶ WriterSink
//	(file paths)   a typed gpupipe segment wrapped      (format)    (stdout)
//	               as a go-streams Flow by gostreams.NewFlow
//
// go-streams moves untyped values over unbuffered channels and has no errors; the Flow that
// pipeline/gostreams makes checks the values' type, keeps their order (the segment decodes
// with an OrderedMap, and the image stage hands its results on in input order), and reports
// the segment's error through Wait once the go-streams side has drained. Run with -broken to
// see a file that cannot be decoded stop the flow, and the error come back.
//
//	go run ./examples/gostreams
//	go run ./examples/gostreams -broken
//	go run ./examples/gostreams -in ~/Pictures -device auto
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/reugn/go-streams/extension"
	"github.com/reugn/go-streams/flow"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/device"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/internal/samples"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/pipeline/gostreams"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/process"
	"github.com/gpupipe/gpupipe/stages/walk"
)

func main() {
	in := flag.String("in", "", "folder of images (default: sample photos generated in a temporary folder)")
	dev := flag.String("device", "auto", "device: auto, cpu, cuda or cuda:N (GPUs need a build with -tags cuda)")
	batch := flag.Int("batch", 8, "images per batch on the device")
	broken := flag.Bool("broken", false, "send a file that is not an image as the 21st, to show how errors come back")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *in, *dev, *batch, *broken); err != nil {
		fmt.Fprintln(os.Stderr, "gostreams:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, in, devName string, batch int, broken bool) error {
	paths, err := inputs(in)
	if err != nil {
		return err
	}
	if broken {
		bad := filepath.Join(os.TempDir(), "gpupipe-not-an-image.jpg")
		if err := os.WriteFile(bad, []byte("this is not a JPEG"), 0o644); err != nil {
			return err
		}
		defer os.Remove(bad)
		at := min(20, len(paths))
		paths = append(paths[:at:at], append([]string{bad}, paths[at:]...)...)
	}
	dev, err := device.Open(devName)
	if err != nil {
		return err
	}
	defer dev.Close()

	fmt.Printf("fingerprints of %d images on %s\n", len(paths), dev.Name())
	start := time.Now()
	err = fingerprints(ctx, dev, paths, batch, nopCloser{os.Stdout})
	fmt.Printf("the flow ended after %.2fs\n", time.Since(start).Seconds())
	return err
}

// inputs lists the images of folder in, or generates sample photos when in is empty.
func inputs(in string) ([]string, error) {
	if in == "" {
		_, paths, err := samples.WriteShared()
		return paths, err
	}
	var paths []string
	err := walk.Walk(context.Background(), []string{in}, walk.Options{Exts: walk.ImageExts}, func(f walk.File) error {
		paths = append(paths, f.Path())
		return nil
	})
	return paths, err
}

// fingerprints streams paths through go-streams: a channel source, the GPU segment as a
// Flow, a go-streams Map that formats each fingerprint as a line, and a sink writing the lines
// to w. It returns when the sink has finished, with the segment's error.
func fingerprints(ctx context.Context, dev gpu.Device, paths []string, batch int, w io.WriteCloser) error {
	fp, err := newFingerprinter(dev, batch)
	if err != nil {
		return err
	}
	sink, err := extension.NewWriterSink(w, extension.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	ch := make(chan any)
	go func() {
		// When the flow fails it keeps draining its input, so this never blocks for good.
		defer close(ch)
		for _, p := range paths {
			ch <- p
		}
	}()

	segment := gostreams.NewFlow(ctx, fp.segment)
	extension.NewChanSource(ch).
		Via(segment).
		Via(flow.NewMap(fingerprint.line, 1)).
		To(sink) // blocks until the sink has written everything
	return segment.Wait()
}

// fingerprint is the average hash of one image: bit i (from the top left, row by row) is set
// when pixel i of the 8×8 grey image is brighter than their mean. Two pictures whose hashes
// differ in a few bits only (bits.OnesCount64(a^b) ≤ 5) are most likely the same picture,
// resized, recompressed or slightly edited.
type fingerprint struct {
	Path          string
	Width, Height int // the decoded image's size
	Hash          uint64
}

func (f fingerprint) line() string {
	return fmt.Sprintf("%016x  %4d×%-4d  %s\n", f.Hash, f.Width, f.Height, f.Path)
}

// fingerprinter holds the segment's state.
type fingerprinter struct {
	dev     gpu.Device
	plan    *kernels.Plan
	decoder *imageio.Decoder
	batch   int
}

// hashChain shrinks every image to 8×8 by area averaging, then makes it grey.
var hashChain = kernels.NewChain().Resize(8, 8, raster.Box).Grey()

func newFingerprinter(dev gpu.Device, batch int) (*fingerprinter, error) {
	plan, err := hashChain.Plan()
	if err != nil {
		return nil, err
	}
	// libjpeg-turbo decodes JPEGs at 1/8 of their size straight away: plenty for 8×8.
	dec := &imageio.Decoder{MinSize: plan.MinDecodeSize, Pool: &imageio.Pool{}}
	return &fingerprinter{dev: dev, plan: plan, decoder: dec, batch: batch}, nil
}

// segment is the typed gpupipe part of the flow. Every stage keeps the input order, and an
// error stops the segment (no SkipErrors, no OnError), which the Flow's Wait reports.
func (fp *fingerprinter) segment(paths *pipeline.Stream[string]) *pipeline.Stream[fingerprint] {
	decoded := pipeline.OrderedMap(paths, fp.decoder.DecodeFile, pipeline.Name("decode"), pipeline.AllCores())
	smalls := process.Images(decoded, []gpu.Device{fp.dev}, fp.plan, process.Options{Batch: fp.batch, MaxWait: 20 * time.Millisecond})
	return pipeline.Map(smalls, hash, pipeline.Name("hash")) // one worker: in order
}

// hash turns an image's 8×8 grey result into its fingerprint.
func hash(_ context.Context, r process.Result) (fingerprint, error) {
	return fingerprint{Path: r.Source.File.Path(), Width: r.Source.SourceWidth, Height: r.Source.SourceHeight,
		Hash: averageHash(r.Image)}, nil
}

// averageHash sets bit i for every pixel i of the 8×8 grey image brighter than the mean.
func averageHash(img raster.Image) uint64 {
	sum := 0
	for y := range 8 {
		for x := range 8 {
			sum += int(img.Pix[y*img.Stride+x])
		}
	}
	var h uint64
	for y := range 8 {
		for x := range 8 {
			if 64*int(img.Pix[y*img.Stride+x]) > sum {
				h |= 1 << (63 - (8*y + x))
			}
		}
	}
	return h
}

// nopCloser lets the sink close standard output's writer without closing standard output.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
