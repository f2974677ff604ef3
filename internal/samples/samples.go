// Package samples writes folders of generated, photo-like images, the same ones every time
// for a seed: inputs for demonstrations, examples, tests and benchmarks that must not depend
// on anyone's photo collection.
//
// A sample is a landscape-like scene (see Image): smooth gradients, fractal texture, shapes
// with sharp edges and sensor-like grain, so that JPEG compresses it about as much as a
// landscape photo (12 to 16 times at quality 90) and decoding it costs as much. Pure noise
// would hardly compress, and flat colour would compress a hundredfold and decode in no time.
//
// Write generates the images on all cores and encodes them with package imageio (through
// libjpeg-turbo where it is loaded). It is idempotent: it records what it wrote in a hidden
// manifest, and a second call with the same options finds the files in place and writes
// nothing. The pixels are the same everywhere; the JPEG files are the same byte for byte
// where the same encoder writes them (libjpeg-turbo and Go's image/jpeg make different bytes
// from the same pixels). PNG files are the pixels exactly.
package samples

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/output"
)

// Defaults of Options fields left at zero.
const (
	DefaultCount  = 16
	DefaultWidth  = 1600
	DefaultHeight = 1200
	DefaultPrefix = "sample"
)

// ManifestName is the file in the folder where Write records the files it wrote. Its name
// starts with a dot, so package walk skips it.
const ManifestName = ".samples.json"

// generator names the version of the images Image makes. It is part of every file's key in
// the manifest, so changing the images (and this string) makes Write replace old samples.
const generator = "landscape-1"

// Options describe a set of samples. The zero value is DefaultCount JPEG images of
// DefaultWidth×DefaultHeight from seed 0, all in the folder itself.
type Options struct {
	// Count is the number of images; 0 means DefaultCount.
	Count int
	// Width and Height are every image's size; 0 means DefaultWidth and DefaultHeight.
	Width, Height int
	// Formats are taken in turn: image i is written as Formats[i % len(Formats)], "jpeg" or
	// "png" in any spelling imageio.ParseFormat reads. Nil means JPEG only; {"jpeg", "jpeg",
	// "jpeg", "png"} makes one image in four a PNG.
	Formats []string
	// Quality is the JPEG quality; 0 means imageio.DefaultQuality.
	Quality int
	// Seed chooses the set: the same seed makes the same images.
	Seed int64
	// Folders are taken in turn like Formats: image i goes into Folders[i % len(Folders)],
	// a path relative to the folder, with "/" separating nested folders and "" standing for
	// the folder itself. Nil puts every image in the folder itself.
	Folders []string
	// Prefix starts every file name: <Prefix>-0000.jpg, <Prefix>-0001.jpg, ... Empty means
	// DefaultPrefix.
	Prefix string
	// Workers is how many images are made at once; 0 means one per core.
	Workers int
}

// Write makes the samples opts describe under dir, creating folders as needed, and returns
// their paths in the order of their numbers. Files already there from an earlier call with
// the same seed, size, format and quality, and still of the size recorded then, are kept as
// they are; other files are written atomically (package output), so an interrupted call
// leaves no partial image. Files in dir that opts do not name are left alone.
//
// Cost: drawing a 1600×1200 image takes about 50 ms of one core, and encoding it as JPEG
// 5 ms more with libjpeg-turbo, 45 ms with Go's image/jpeg (BenchmarkImage and
// BenchmarkEncode on a 2-core AMD EPYC machine).
func Write(dir string, opts Options) ([]string, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	files := opts.files()
	m := readManifest(dir)
	var todo []sampleFile
	for _, f := range files {
		if !m.has(dir, f) {
			todo = append(todo, f)
		}
	}
	if len(todo) > 0 {
		err := write(dir, todo, opts, m)
		// The manifest lists what was written even when something failed, so that a retry
		// does not redo it.
		if werr := m.write(dir); err == nil {
			err = werr
		}
		if err != nil {
			return nil, err
		}
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = filepath.Join(dir, f.rel)
	}
	return paths, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.Count == 0 {
		o.Count = DefaultCount
	}
	if o.Width == 0 {
		o.Width = DefaultWidth
	}
	if o.Height == 0 {
		o.Height = DefaultHeight
	}
	if o.Formats == nil {
		o.Formats = []string{imageio.JPEG}
	}
	if o.Quality == 0 {
		o.Quality = imageio.DefaultQuality
	}
	if o.Folders == nil {
		o.Folders = []string{""}
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o, o.check()
}

// check refuses options that cannot make files, and normalises the formats.
func (o *Options) check() error {
	var errs []error
	if o.Count < 0 {
		errs = append(errs, fmt.Errorf("count %d is negative", o.Count))
	}
	if o.Width < 1 || o.Height < 1 || o.Width > maxSide || o.Height > maxSide {
		errs = append(errs, fmt.Errorf("size %d×%d: each side must be 1 to %d pixels", o.Width, o.Height, maxSide))
	}
	if o.Quality < 1 || o.Quality > 100 {
		errs = append(errs, fmt.Errorf("JPEG quality %d is not between 1 and 100", o.Quality))
	}
	if len(o.Formats) == 0 || len(o.Folders) == 0 {
		errs = append(errs, errors.New("formats and folders, when given, must not be empty"))
	}
	formats := make([]string, len(o.Formats))
	for i, f := range o.Formats {
		var err error
		formats[i], err = imageio.ParseFormat(f)
		errs = append(errs, err)
	}
	o.Formats = formats
	for _, f := range o.Folders {
		if f != "" && !filepath.IsLocal(filepath.FromSlash(f)) {
			errs = append(errs, fmt.Errorf("folder %q is not a path inside the output folder", f))
		}
	}
	if strings.ContainsAny(o.Prefix, `/\`) {
		errs = append(errs, fmt.Errorf("prefix %q contains a path separator", o.Prefix))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("samples: %w", err)
	}
	return nil
}

// sampleFile is one file of a set.
type sampleFile struct {
	index  int
	rel    string // path relative to the folder, in the system's form
	format string
	key    string // what the file's bytes depend on
}

func (o Options) files() []sampleFile {
	digits := max(4, len(strconv.Itoa(o.Count-1)))
	files := make([]sampleFile, o.Count)
	for i := range files {
		format := o.Formats[i%len(o.Formats)]
		enc := imageio.Encoder{Format: format}
		name := fmt.Sprintf("%s-%0*d%s", o.Prefix, digits, i, enc.Ext())
		key := fmt.Sprintf("%s seed=%d index=%d size=%dx%d format=%s", generator, o.Seed, i, o.Width, o.Height, format)
		if format == imageio.JPEG {
			key += fmt.Sprintf(" quality=%d", o.Quality)
		}
		files[i] = sampleFile{
			index:  i,
			rel:    filepath.Join(filepath.FromSlash(o.Folders[i%len(o.Folders)]), name),
			format: format,
			key:    key,
		}
	}
	return files
}

// write makes the files of todo on opts.Workers cores and records each in m once it is in
// place.
func write(dir string, todo []sampleFile, opts Options, m *manifest) error {
	p := pipeline.New()
	pipeline.ForEach(pipeline.FromSlice(p, todo), func(ctx context.Context, f sampleFile) error {
		size, err := writeFile(ctx, filepath.Join(dir, f.rel), f, opts)
		if err == nil {
			m.set(f, size)
		}
		return err
	}, pipeline.Workers(opts.Workers), pipeline.Name("samples"))
	err := p.Run(context.Background())
	var se *pipeline.StageError
	if errors.As(err, &se) {
		return se.Err // the file's own error names it
	}
	return err
}

// writeFile draws and encodes one sample and returns the size of the file.
func writeFile(ctx context.Context, path string, f sampleFile, opts Options) (int64, error) {
	img, err := Image(opts.Seed, f.index, opts.Width, opts.Height)
	if err != nil {
		return 0, err
	}
	enc := &imageio.Encoder{Format: f.format, Quality: opts.Quality}
	var n int64
	err = output.WriteFile(ctx, path, output.Options{Overwrite: true}, func(w io.Writer) error {
		cw := &countingWriter{w: w}
		err := enc.Encode(cw, img)
		n = cw.n
		return err
	})
	return n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// manifest records, for every file a call wrote, what its bytes depend on and its size.
type manifest struct {
	mu    sync.Mutex
	Files map[string]manifestEntry `json:"files"` // by path relative to the folder, with "/"
}

type manifestEntry struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
}

// readManifest reads dir's manifest. A missing or unreadable one is empty: every file is
// then written again, which is slow but right.
func readManifest(dir string) *manifest {
	m := &manifest{}
	if data, err := os.ReadFile(filepath.Join(dir, ManifestName)); err == nil {
		_ = json.Unmarshal(data, m)
	}
	if m.Files == nil {
		m.Files = map[string]manifestEntry{}
	}
	return m
}

// has reports whether f is in place: recorded with its key, and of the recorded size.
func (m *manifest) has(dir string, f sampleFile) bool {
	e, ok := m.Files[filepath.ToSlash(f.rel)]
	if !ok || e.Key != f.key {
		return false
	}
	st, err := os.Stat(filepath.Join(dir, f.rel))
	return err == nil && st.Mode().IsRegular() && st.Size() == e.Size
}

func (m *manifest) set(f sampleFile, size int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Files[filepath.ToSlash(f.rel)] = manifestEntry{Key: f.key, Size: size}
}

func (m *manifest) write(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return output.WriteFile(context.Background(), filepath.Join(dir, ManifestName), output.Options{Overwrite: true},
		func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(m)
		})
}

// SharedDir is the folder WriteShared writes to: one set in the system's temporary folder
// that every program using it shares, so that it is made once.
func SharedDir() string { return filepath.Join(os.TempDir(), "gpupipe-samples") }

// WriteShared writes the standard set of samples, 48 images of the default size in three
// folders, into SharedDir, where they are kept for later runs, and returns the folder and
// the images' paths. The examples run on it when given no input of their own.
func WriteShared() (dir string, paths []string, err error) {
	dir = SharedDir()
	paths, err = Write(dir, Options{Count: 48, Folders: []string{"", "2024", "2024/summer"}})
	return dir, paths, err
}
