package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/gpupipe/gpupipe/gpu/device"
	"github.com/gpupipe/gpupipe/gpu/kernels"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/internal/job"
	"github.com/gpupipe/gpupipe/internal/samples"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/pipeline/progress"
	"github.com/gpupipe/gpupipe/stages/blob"
	"github.com/gpupipe/gpupipe/stages/icc"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/npy"
	"github.com/gpupipe/gpupipe/stages/output"
	"github.com/gpupipe/gpupipe/stages/walk"
)

var errHelp = errors.New("help shown")

const usageHead = `imgpipe turns folders of images into thumbnails, transformed images or tensor shards.

Usage:
  imgpipe --in DIR [--in DIR ...] --out DIR [flags]

Images are decoded on the CPU, batched, run through the operations on the device (a GPU,
or the CPU device that runs the same operations in Go), and written under --out with the
input's folder layout. A file that cannot be processed is named on stderr with the reason
and skipped; outputs appear only when complete, so running the same command again after a
failure or Ctrl-C finishes what is left.

Flags:
`

const usageTail = `
Operations (--ops), applied in order, separated by commas:
  fit=WxH|S  shrink=WxH|S  fill=WxH  cover=WxH  stretch=WxH (or resize=WxH)  shorter=S
  filter=box|linear|catmullrom|lanczos3 (for the resizes after it)
  crop=WxH+X+Y  centercrop=WxH  fliph  flipv  rotate=90|180|270  transpose  transverse
  grey  brightness=B  contrast=C  gamma=G  blur=SIGMA  sharpen=SIGMA[:AMOUNT[:THRESHOLD]]
  normalize=imagenet|M1:M2:M3/S1:S2:S3   (last; makes float32 tensors: use with --tensor)

Size modes (--mode, with --size; the same words as in --ops):
  fit      the largest size inside the box, keeping the aspect ratio (default)
  shrink   as fit, but images already inside the box keep their size
  fill     cover the box keeping the aspect ratio, then crop the centre to exactly WxH
           (crop is accepted as another name for it)
  cover    the smallest size that covers the box, keeping the aspect ratio; no crop
  stretch  exactly WxH, the aspect ratio not kept

Tensor presets (--tensor):
  imagenet        shorter side 256, centre crop 224x224, ImageNet mean and std: float32 NCHW
  imagenet-uint8  shorter side 256, centre crop 224x224: uint8 NHWC
  Shards are shard-00000.npy ... with shard-index.jsonl mapping each row to its source and
  shard-manifest.json listing what is complete; with --shard i/n they are shard-s{i}of{n}-...
  (shard-s0of4-00000.npy), so the parts can share a folder. Running the same command again
  after Ctrl-C, a full disk or a crash finishes the shards; --overwrite starts afresh.

Colour (--color): images with an embedded ICC profile (a phone's Display P3, a camera's
  Adobe RGB) are converted to sRGB by default, during the resize; --color keep embeds the
  profile in the output instead, --color ignore leaves pixels and drops it. LUT-based
  and CMYK profiles need Little CMS (liblcms2); a profile that cannot be used is named on
  stderr.

Exit status:
  0    every file was done (or was already there)
  1    some files failed (the others were done), the run stopped on an error, or the
       report could not be written
  2    usage error, or inputs that would share an output name (nothing is done; the
       message names them and the --name that tells them apart)
  130  interrupted (Ctrl-C); run the same command again to finish. A second Ctrl-C
       stops at once, leaving temporary files that the next run removes

Examples:
  imgpipe --demo build/demo
  imgpipe --in photos --out thumbs --size 256
  imgpipe --in photos --out thumbs --size 320x240 --mode fill --format png
  imgpipe --in scans --out clean --ops "rotate=90,grey,sharpen=1.2:0.8"
  imgpipe --in train --out shards --tensor imagenet --device cuda --batch 64
  imgpipe --in photos --out thumbs --size 256 --shard 0/4 --report run.json
  imgpipe --in photos --out web --size 1024 --keep-metadata --color keep
  imgpipe --in "s3://photos/2024?region=eu-west-1" --out s3://thumbs/2024 --size 256 --metrics :9090
`

// options are the parsed command line.
type options struct {
	cfg        job.Config
	reportPath string
	quiet      bool
	progress   string
	metrics    string // --metrics: the address to serve metrics on
}

// listFlag collects a flag given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// rawFlags are the flag values before they are checked.
type rawFlags struct {
	in                                []string
	out, size, mode, filter, ops      string
	format, background, tensor, name  string
	dev, shard, exts, progress        string
	report, demo, maxMemory, metrics  string
	quality, batch, slots, workers    int
	decodeWorkers, encodeWorkers      int
	shardRows                         int
	maxPixels                         int64
	overwrite, dryRun, quiet, version bool
	color, shrink                     string
	keepMetadata                      bool
	lossless, qualityGiven            bool
}

func newFlagSet(raw *rawFlags, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("imgpipe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var((*listFlag)(&raw.in), "in", "input `folder` (or file, or URL s3://BUCKET/PREFIX?QUERY, gs://, azblob://, file://); repeat for several")
	fs.StringVar(&raw.out, "out", "", "output `folder` (or URL, as --in)")
	fs.StringVar(&raw.size, "size", "", "resize to `S` (longest side) or WxH, see --mode")
	fs.StringVar(&raw.mode, "mode", "fit", "how --size treats the aspect ratio: `mode` fit, shrink, fill, cover or stretch (see below)")
	fs.StringVar(&raw.filter, "filter", "lanczos3", "resampling `filter`: box, linear, catmullrom or lanczos3")
	fs.StringVar(&raw.ops, "ops", "", "operation `chain`, such as \"resize=512x512,grey,blur=1.5\" (see below)")
	fs.StringVar(&raw.format, "format", "jpeg", "output `format`: jpeg, png, webp or avif")
	fs.IntVar(&raw.quality, "quality", 0, "JPEG, WebP or AVIF `quality`, 1 to 100 (default 85 for JPEG, 75 for WebP, 50 for AVIF)")
	fs.BoolVar(&raw.lossless, "lossless", false, "write lossless WebP (with --format webp)")
	fs.StringVar(&raw.background, "background", "ffffff", "`RRGGBB` colour that transparency is flattened onto in JPEG")
	fs.StringVar(&raw.color, "color", "srgb", "colour `mode` for images with an ICC profile: srgb (convert; outputs and tensors are sRGB),\nkeep (leave the pixels, embed the profile in the output) or ignore (leave the pixels, drop the profile)")
	fs.BoolVar(&raw.keepMetadata, "keep-metadata", false, "copy EXIF (orientation reset), XMP and the ICC profile into outputs (default: none)")
	fs.StringVar(&raw.name, "name", output.DefaultTemplate, "output name `template`: {dir} {name} {ext} {srcext} {rel} {root}")
	fs.BoolVar(&raw.overwrite, "overwrite", false, "replace existing outputs (default: skip inputs whose output exists)")
	fs.StringVar(&raw.tensor, "tensor", "", "write .npy tensor shards with a `preset`: imagenet or imagenet-uint8")
	fs.IntVar(&raw.shardRows, "shard-rows", npy.DefaultRowsPerShard, "images per tensor `shard`")
	fs.StringVar(&raw.dev, "device", "auto", "`device`: auto, cpu, cuda, cuda:N, cuda:N,M or cuda:all")
	fs.IntVar(&raw.batch, "batch", 16, "images per `batch` sent to the device")
	fs.IntVar(&raw.slots, "slots", 2, "batches in flight per device (2 is double buffering)")
	fs.IntVar(&raw.workers, "workers", runtime.GOMAXPROCS(0), "`goroutines` for decoding and for encoding")
	fs.IntVar(&raw.decodeWorkers, "decode-workers", 0, "decoding goroutines (default --workers)")
	fs.IntVar(&raw.encodeWorkers, "encode-workers", 0, "encoding goroutines (default --workers)")
	fs.StringVar(&raw.shrink, "shrink-on-load", "auto", "decode JPEGs at 1/2, 1/4 or 1/8 size keeping at least `margin` times the resize's output on each side:\na number of at least 1, off (full size) or auto (2 for images, as vipsthumbnail; 1 for --tensor, as Pillow's draft)")
	fs.Int64Var(&raw.maxPixels, "max-pixels", imageio.DefaultMaxPixels, "refuse images with more `pixels` than this, from their header (-1: no limit)")
	fs.StringVar(&raw.maxMemory, "max-memory", "", "memory `budget`, such as 600MB or 2GiB (KB, MB, GB, KiB, MiB, GiB): images wait for room, and one that alone needs more is refused (default: 256 MiB per worker, at least 1.5 GiB, at most half the machine's memory)")
	fs.StringVar(&raw.shard, "shard", "", "process part `i/n` of the sorted input, to split it between machines")
	fs.StringVar(&raw.exts, "ext", strings.Join(walk.ImageExts, ","), "input file `extensions`")
	fs.StringVar(&raw.progress, "progress", "auto", "progress `display`: auto, bar, plain or none")
	fs.StringVar(&raw.report, "report", "", "write a JSON run report to `file`")
	fs.StringVar(&raw.metrics, "metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics (host:port) while the run goes on")
	fs.BoolVar(&raw.dryRun, "dry-run", false, "list what would be written, decode nothing")
	fs.BoolVar(&raw.quiet, "quiet", false, "no progress and no summary; failures are still named on stderr")
	fs.BoolVar(&raw.version, "version", false, "print the version and the build's features")
	fs.StringVar(&raw.demo, "demo", "", "write generated sample photos to `folder`/in (once) and process them into folder/out\n(with --size 256 and a report in folder/report.json unless other flags say otherwise)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), usageTail+queueUsage)
	}
	return fs
}

// parseArgs reads and checks the command line.
func parseArgs(args []string, stdout, stderr io.Writer) (*options, error) {
	var raw rawFlags
	fs := newFlagSet(&raw, stderr)
	// The flag package prints the usage itself on -h and on a bad flag: the help goes to
	// stdout once, below, and a mistake is told in one line by the caller.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return nil, errHelp
		}
		return nil, err
	}
	fs.SetOutput(stderr)
	fs.Visit(func(f *flag.Flag) { raw.qualityGiven = raw.qualityGiven || f.Name == "quality" })
	if raw.version {
		printVersion(stdout)
		return nil, errHelp
	}
	raw.in = append(raw.in, fs.Args()...)
	if raw.demo != "" {
		if err := raw.prepareDemo(fs, stderr); err != nil {
			return nil, err
		}
	}
	return raw.options()
}

// demoSamples is how many sample photos --demo makes: enough for the bars to show the run.
const demoSamples = 200

// prepareDemo fills in the flags --demo implies and writes the sample photos.
func (raw *rawFlags) prepareDemo(fs *flag.FlagSet, stderr io.Writer) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if len(raw.in) == 0 {
		raw.in = []string{filepath.Join(raw.demo, "in")}
	}
	if raw.out == "" {
		raw.out = filepath.Join(raw.demo, "out")
	}
	if !set["size"] && !set["ops"] && !set["tensor"] {
		raw.size = "256"
	}
	if !set["report"] {
		raw.report = filepath.Join(raw.demo, "report.json")
	}
	fmt.Fprintf(stderr, "imgpipe: %d sample photos in %s\n", demoSamples, raw.in[0])
	_, err := samples.Write(raw.in[0], samples.Options{
		Count: demoSamples, Folders: []string{"", "coast", "hills/north", "hills/south"},
		Formats: []string{"jpeg", "jpeg", "jpeg", "png"},
	})
	return err
}

func printVersion(w io.Writer) {
	turbo := "libjpeg-turbo"
	if err := imageio.TurboJPEG(); err != nil {
		turbo = "Go JPEG decoder (" + err.Error() + ")"
	}
	lcms := "Little CMS"
	if err := icc.LittleCMS(); err != nil {
		lcms = "none (" + err.Error() + "; LUT-based profiles are not converted)"
	}
	heif := "libheif"
	if err := imageio.HEIFLib(); err != nil {
		heif = "no HEIC, AVIF by WebAssembly (" + err.Error() + ")"
	}
	fmt.Fprintf(w, "imgpipe (gpupipe) %s, CUDA %v, JPEG: %s, HEIC/AVIF: %s, colour engine for LUT profiles: %s\n",
		runtime.Version(), device.HasCUDA(), turbo, heif, lcms)
}

func (raw *rawFlags) options() (*options, error) {
	o := &options{reportPath: raw.report, quiet: raw.quiet, progress: raw.progress, metrics: raw.metrics}
	c := &o.cfg
	if err := raw.checkPaths(); err != nil {
		return nil, err
	}
	c.Inputs, c.Output = raw.in, raw.out
	steps := []func(*job.Config) error{raw.chain, raw.images, raw.run, raw.walk, raw.colour}
	for _, step := range steps {
		if err := step(c); err != nil {
			return nil, err
		}
	}
	if _, err := progress.ParseMode(raw.progress); err != nil {
		return nil, err
	}
	c.DryRun = raw.dryRun
	return o, nil
}

func (raw *rawFlags) checkPaths() error {
	if len(raw.in) == 0 {
		return errors.New("no input: give --in DIR")
	}
	if raw.out == "" {
		return errors.New("no output: give --out DIR")
	}
	for _, in := range raw.in {
		if blob.IsURL(in) {
			if _, err := blob.Parse(in); err != nil {
				return fmt.Errorf("input: %w", err)
			}
			continue
		}
		if _, err := os.Stat(in); err != nil {
			return fmt.Errorf("input %s: %w", in, errors.Unwrap(err))
		}
	}
	if blob.IsURL(raw.out) {
		if _, err := blob.Parse(raw.out); err != nil {
			return fmt.Errorf("output: %w", err)
		}
		return nil
	}
	// Every output would fail on a file where the folder should be.
	switch st, err := os.Stat(raw.out); {
	case err == nil && !st.IsDir():
		return fmt.Errorf("output %s is a file, not a folder", raw.out)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("output %s: %w", raw.out, errors.Unwrap(err))
	}
	return nil
}

// chain builds the operations from --size, --mode, --filter, --ops and --tensor.
func (raw *rawFlags) chain(c *job.Config) error {
	if raw.tensor != "" {
		return raw.tensorChain(c)
	}
	filter, err := raster.ParseFilter(raw.filter)
	if err != nil {
		return fmt.Errorf("--filter: %w", err)
	}
	chain := kernels.NewChain()
	if raw.size != "" {
		if chain, err = sizeChain(raw.size, raw.mode, filter); err != nil {
			return err
		}
	} else if raw.mode != "fit" {
		return errors.New("--mode needs --size")
	}
	ops, err := kernels.ParseChain("filter=" + raw.filter + "," + raw.ops)
	if err != nil {
		return fmt.Errorf("--ops: %w", err)
	}
	c.Chain = chain.Then(ops)
	plan, err := c.Chain.Plan()
	if err != nil {
		return fmt.Errorf("--ops: %w", err)
	}
	if err := plan.CheckSizes(); err != nil {
		// Every image would fail: a usage error, before any work.
		flag := "--ops"
		if raw.ops == "" {
			flag = "--size"
		}
		return fmt.Errorf("%s: %w", flag, err)
	}
	if plan.Tensor() {
		return errors.New("--ops ends with normalize, which makes tensors: add --tensor to write shards")
	}
	return nil
}

// sizeChain turns --size and --mode into a resize. The modes are the words --ops uses for
// the same operations.
func sizeChain(size, mode string, f raster.Filter) (kernels.Chain, error) {
	w, h, err := kernels.ParseSize(size)
	if err != nil {
		return kernels.Chain{}, fmt.Errorf("--size: %w", err)
	}
	c := kernels.NewChain()
	switch mode {
	case "fit":
		return c.ResizeFit(w, h, f), nil
	case "shrink":
		return c.ResizeShrink(w, h, f), nil
	case "fill", "crop": // crop: the name this mode had before it took --ops' word
		return c.ResizeFill(w, h, f), nil
	case "cover":
		return c.ResizeCover(w, h, f), nil
	case "stretch":
		return c.Resize(w, h, f), nil
	}
	return kernels.Chain{}, fmt.Errorf("--mode %q: want fit, shrink, fill, cover or stretch", mode)
}

// tensorChain is the chain of a --tensor preset, and the shard layout.
func (raw *rawFlags) tensorChain(c *job.Config) error {
	if raw.ops != "" || raw.size != "" {
		return errors.New("--tensor sets the operations itself: leave out --ops and --size")
	}
	t := &job.Tensors{RowsPerShard: raw.shardRows, Prefix: "shard"}
	var text string
	switch raw.tensor {
	case "imagenet":
		text, t.Layout = "shorter=256,centercrop=224x224,normalize=imagenet", npy.CHWFloat32
	case "imagenet-uint8":
		text, t.Layout = "shorter=256,centercrop=224x224", npy.HWCUint8
	default:
		return fmt.Errorf("--tensor %q: want imagenet or imagenet-uint8", raw.tensor)
	}
	if raw.shardRows < 1 {
		return fmt.Errorf("--shard-rows %d: want at least 1", raw.shardRows)
	}
	chain, err := kernels.ParseChain("filter=" + raw.filter + "," + text)
	c.Chain, c.Tensors = chain, t
	return err
}

// images reads the output image flags.
func (raw *rawFlags) images(c *job.Config) error {
	format, err := imageio.ParseFormat(raw.format)
	if err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	quality := raw.quality
	switch {
	case !raw.qualityGiven:
		quality = defaultQuality[format]
	case quality < 1 || quality > 100:
		return fmt.Errorf("--quality %d: want 1 to 100", raw.quality)
	}
	if raw.lossless && format != imageio.WebP {
		return fmt.Errorf("--lossless: only WebP has a lossless mode, not %s", format)
	}
	bg, err := parseColour(raw.background)
	if err != nil {
		return err
	}
	tmpl, err := output.ParseTemplate(raw.name)
	if err != nil {
		return fmt.Errorf("--name: %w", err)
	}
	// A template that leads outside --out for a file at the top of an input does so for
	// every such file (the message names IN/photo.png): a usage mistake, told before any
	// work, not a failure per file.
	if _, err := tmpl.Expand(walk.File{Root: "IN", Rel: "photo.png"}, "jpg"); err != nil {
		return fmt.Errorf("--name: %w", err)
	}
	c.Format, c.Quality, c.Background, c.Template, c.Overwrite = format, quality, bg, tmpl, raw.overwrite
	c.Lossless = raw.lossless
	return nil
}

// defaultQuality is each format's --quality when none is given: the scales differ, and these
// are what cwebp, vips and sharp default to (JPEG's is this tool's own).
var defaultQuality = map[string]int{
	imageio.JPEG: 85, imageio.WebP: imageio.DefaultWebPQuality, imageio.AVIF: imageio.DefaultAVIFQuality,
}

func parseColour(s string) ([3]uint8, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "#"), 16, 32)
	if err != nil || len(strings.TrimPrefix(s, "#")) != 6 {
		return [3]uint8{}, fmt.Errorf("--background %q: want a colour RRGGBB, such as ffffff", s)
	}
	return [3]uint8{uint8(v >> 16), uint8(v >> 8), uint8(v)}, nil
}

// run reads the device and concurrency flags.
func (raw *rawFlags) run(c *job.Config) error {
	spec, err := device.Parse(raw.dev)
	if err != nil {
		return fmt.Errorf("--device: %w", err)
	}
	if spec.Kind == "cuda" && !device.HasCUDA() {
		return fmt.Errorf("--device %s: %w", raw.dev, device.ErrNoCUDA)
	}
	for name, v := range map[string]int{"--batch": raw.batch, "--slots": raw.slots, "--workers": raw.workers} {
		if v < 1 {
			return fmt.Errorf("%s %d: want at least 1", name, v)
		}
	}
	for name, v := range map[string]int{"--decode-workers": raw.decodeWorkers, "--encode-workers": raw.encodeWorkers} {
		if v < 0 {
			return fmt.Errorf("%s %d: cannot be negative (0 is as many as --workers)", name, v)
		}
	}
	if raw.maxPixels < 1 && raw.maxPixels != -1 {
		return fmt.Errorf("--max-pixels %d: want a number of pixels of at least 1, or -1 for no limit", raw.maxPixels)
	}
	if raw.maxMemory != "" {
		n, err := pipeline.ParseBytes(raw.maxMemory)
		if err != nil {
			return fmt.Errorf("--max-memory: %w", err)
		}
		if n < minMaxMemory {
			return fmt.Errorf("--max-memory %s: want at least %s (the program itself takes about 64 MiB)", raw.maxMemory, pipeline.FormatBytes(minMaxMemory))
		}
		c.MaxMemory = n
	}
	switch raw.shrink {
	case "auto":
	case "off":
		c.ShrinkOnLoad = -1
	default:
		m, err := strconv.ParseFloat(raw.shrink, 64)
		if err != nil || !(m >= 1 && m <= 64) {
			return fmt.Errorf("--shrink-on-load %q: want a margin from 1 to 64, off or auto", raw.shrink)
		}
		c.ShrinkOnLoad = m
	}
	c.Device, c.Batch, c.Slots, c.MaxPixels = raw.dev, raw.batch, raw.slots, raw.maxPixels
	c.DecodeWorkers = orDefault(raw.decodeWorkers, raw.workers)
	c.EncodeWorkers = orDefault(raw.encodeWorkers, raw.workers)
	return nil
}

// minMaxMemory is the smallest --max-memory: below it, little would be left for images.
const minMaxMemory = 128 << 20

// orDefault is v, or def when v is 0.
func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// colour reads --color and --keep-metadata.
func (raw *rawFlags) colour(c *job.Config) error {
	mode, err := job.ParseColorMode(raw.color)
	if err != nil {
		return fmt.Errorf("--color: %w", err)
	}
	c.Color, c.KeepMetadata = mode, raw.keepMetadata
	return nil
}

// walk reads the input selection flags.
func (raw *rawFlags) walk(c *job.Config) error {
	shard, err := walk.ParseShard(raw.shard)
	if err != nil {
		return fmt.Errorf("--shard: %w", err)
	}
	c.Shard = shard
	for _, e := range strings.Split(raw.exts, ",") {
		if e = strings.TrimSpace(e); e != "" {
			c.Exts = append(c.Exts, e)
		}
	}
	if len(c.Exts) == 0 {
		return errors.New("--ext: no extensions")
	}
	return nil
}
