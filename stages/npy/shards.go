package npy

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/stages/output"
)

// Layout is how a shard's rows hold their images.
type Layout int

const (
	// HWCUint8 rows are images as decoded: height × width × channels uint8 samples. A shard
	// is an N×H×W×C array of uint8.
	HWCUint8 Layout = iota
	// CHWFloat32 rows are channels × height × width float32 values, the input layout of most
	// vision models. A shard is an N×C×H×W array of little-endian float32.
	CHWFloat32
)

func (l Layout) String() string {
	switch l {
	case HWCUint8:
		return "HWC uint8"
	case CHWFloat32:
		return "CHW float32"
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

// DefaultRowsPerShard is the shard size of Options whose RowsPerShard is 0.
const DefaultRowsPerShard = 1024

// Options configure a ShardWriter.
type Options struct {
	// Dir is the folder the shards and the index go to; it is created as needed.
	Dir string
	// Prefix names the files: <Prefix>-00000.npy, <Prefix>-00001.npy, ... and the index
	// <Prefix>-index.jsonl. Empty means "shard".
	Prefix string
	// Layout is the rows' layout and element type.
	Layout Layout
	// Height, Width and Channels are every row's image size.
	Height, Width, Channels int
	// RowsPerShard starts a new shard every this many rows; 0 means DefaultRowsPerShard.
	RowsPerShard int
	// Mean and Std normalise the CHWFloat32 rows AddImage makes, per channel:
	// (sample/255 − Mean[c]) / Std[c]. Nil means 0 and 1: samples scaled to [0, 1].
	Mean, Std []float32
	// Overwrite removes the shards with this Prefix, their index and their manifest from
	// Dir, listed or not, and starts afresh. Without it, the writer resumes what an earlier
	// writer with the same Prefix left (see the package documentation).
	Overwrite bool
	// Config describes how the rows are made (the operations, the inputs), in any words: a
	// writer resumes only shards whose manifest records the same Config and row shape.
	Config string
	// Sync flushes each shard, the index and the manifest to the disk before they count as
	// committed, so that they survive a power loss, at the cost of a disk round trip each.
	Sync bool
	// OnCommit, when set, is called after each shard is committed with the sources of its
	// rows, in row order. It runs with the writer's lock held: it must not call the writer.
	OnCommit func(sources []string)
}

// Entry is one line of the index: row Row of shard Shard (a file name in the same folder)
// holds the image from Path.
type Entry struct {
	Shard string `json:"shard"`
	Row   int    `json:"row"`
	Path  string `json:"path"`
}

// ShardWriter writes rows into shards of RowsPerShard rows and lists them in the index. Its
// methods are safe for concurrent use; rows are stored in the order the calls are made.
// Memory is one row plus a buffer, the sources of the rows of the open shard, and 16 bytes
// for each committed row (to answer Committed).
type ShardWriter struct {
	opts     Options
	descr    string
	dims     []int // the shape of one row
	rowBytes int
	hdrSize  int // the reserved header length of every shard

	mu       sync.Mutex
	lock     io.Closer // the lock file held while the writer is open
	shard    *output.File
	buf      *bufio.Writer
	number   int      // the open shard's number
	sources  []string // the open shard's rows
	index    *os.File // opened for appending
	manifest manifest
	done     sourceSet // the sources of every committed row
	scratch  []byte
	shards   int // shards committed by this writer
	rows     int // rows committed by this writer
	err      error
	closed   bool
}

// NewShardWriter checks opts, takes the lock of Dir's shards with opts.Prefix, and resumes
// what an earlier writer left there or, with Overwrite, removes it; see the package
// documentation. Nothing new appears in Dir under a shard's name before it is complete.
func NewShardWriter(opts Options) (*ShardWriter, error) {
	if opts.Height <= 0 || opts.Width <= 0 || opts.Channels <= 0 {
		return nil, fmt.Errorf("npy: shard rows of %d×%d×%d", opts.Height, opts.Width, opts.Channels)
	}
	if opts.RowsPerShard < 0 {
		return nil, fmt.Errorf("npy: %d rows per shard", opts.RowsPerShard)
	}
	if opts.RowsPerShard == 0 {
		opts.RowsPerShard = DefaultRowsPerShard
	}
	if opts.Prefix == "" {
		opts.Prefix = "shard"
	}
	if err := checkNorm(opts); err != nil {
		return nil, err
	}
	w := &ShardWriter{opts: opts}
	h, wd, c := opts.Height, opts.Width, opts.Channels
	switch opts.Layout {
	case HWCUint8:
		w.descr, w.dims, w.rowBytes = Uint8, []int{h, wd, c}, h*wd*c
	case CHWFloat32:
		w.descr, w.dims, w.rowBytes = Float32, []int{c, h, wd}, 4*h*wd*c
	default:
		return nil, fmt.Errorf("npy: unknown layout %d", opts.Layout)
	}
	w.hdrSize = len(EncodeHeader(w.descr, append([]int{opts.RowsPerShard}, w.dims...)))
	if err := w.start(); err != nil {
		return nil, err
	}
	return w, nil
}

func checkNorm(o Options) error {
	if (o.Mean != nil && len(o.Mean) != o.Channels) || (o.Std != nil && len(o.Std) != o.Channels) {
		return fmt.Errorf("npy: Mean and Std need one value per channel (%d)", o.Channels)
	}
	for _, s := range o.Std {
		if s == 0 {
			return errors.New("npy: a standard deviation of 0")
		}
	}
	return nil
}

func (w *ShardWriter) fileOptions() output.Options {
	return output.Options{Sync: w.opts.Sync}
}

// IndexPath is where the index appears.
func (w *ShardWriter) IndexPath() string {
	return filepath.Join(w.opts.Dir, w.opts.Prefix+"-index.jsonl")
}

// ShardPath is where shard number i appears.
func (w *ShardWriter) ShardPath(i int) string {
	return filepath.Join(w.opts.Dir, fmt.Sprintf("%s-%05d.npy", w.opts.Prefix, i))
}

// RowBytes is the size of one row in bytes, as Add takes it.
func (w *ShardWriter) RowBytes() int { return w.rowBytes }

// Written returns the shards and rows this writer has committed so far, not counting those
// it resumed.
func (w *ShardWriter) Written() (shards, rows int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.shards, w.rows
}

// Resumed returns the shards and rows an earlier writer had committed, which this one kept.
func (w *ShardWriter) Resumed() (shards, rows int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.manifest.Shards) - w.shards, w.manifest.Rows - w.rows
}

// Committed reports whether a row from source is in a committed shard, this writer's or one
// it resumed: a caller that resumes skips such sources.
func (w *ShardWriter) Committed(source string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done.has(source)
}

// Add appends one row, already in the shard's layout and element type (RowBytes long), made
// from the file source. A failure to write is sticky: every later call returns it.
func (w *ShardWriter) Add(row []byte, source string) error {
	if len(row) != w.rowBytes {
		return fmt.Errorf("npy: %s: row of %d bytes, shards take %d", source, len(row), w.rowBytes)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.add(source, func(dst io.Writer) error {
		_, err := dst.Write(row)
		return err
	})
}

// AddFloat32s appends one row of float32 values in the shard's layout (a CHWFloat32 shard's
// RowBytes/4 values, such as a raster.Tensor's Data), made from the file source. The values
// are written little-endian, as the header's "<f4" says, whatever the machine.
func (w *ShardWriter) AddFloat32s(row []float32, source string) error {
	if w.opts.Layout != CHWFloat32 || 4*len(row) != w.rowBytes {
		return fmt.Errorf("npy: %s: row of %d float32 values, shards take %d bytes of %v", source, len(row), w.rowBytes, w.opts.Layout)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.add(source, func(dst io.Writer) error {
		var buf [4096]byte
		for len(row) > 0 {
			n := min(len(row), len(buf)/4)
			for i, v := range row[:n] {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
			if _, err := dst.Write(buf[:4*n]); err != nil {
				return err
			}
			row = row[n:]
		}
		return nil
	})
}

// AddImage appends img, made from the file source, converting it to the shard's layout:
// uint8 samples are copied, float32 values normalised with Mean and Std. The image must
// have the shard's size and channels (resize first).
func (w *ShardWriter) AddImage(img raster.Image, source string) error {
	o := w.opts
	if img.Width != o.Width || img.Height != o.Height || img.Channels != o.Channels {
		return fmt.Errorf("npy: %s is %d×%d with %d channels, shards take %d×%d with %d",
			source, img.Width, img.Height, img.Channels, o.Width, o.Height, o.Channels)
	}
	if len(img.Pix) < (img.Height-1)*img.Stride+img.Width*img.Channels {
		return fmt.Errorf("npy: %s: pixel buffer of %d bytes is too short", source, len(img.Pix))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.add(source, func(dst io.Writer) error {
		if o.Layout == HWCUint8 {
			for y := range img.Height {
				if _, err := dst.Write(img.Pix[y*img.Stride : y*img.Stride+img.Width*img.Channels]); err != nil {
					return err
				}
			}
			return nil
		}
		w.scratch = w.toCHWFloat32(img, w.scratch)
		_, err := dst.Write(w.scratch)
		return err
	})
}

// toCHWFloat32 converts img into buf (grown as needed) as normalised CHW float32.
func (w *ShardWriter) toCHWFloat32(img raster.Image, buf []byte) []byte {
	buf = append(buf[:0], make([]byte, w.rowBytes)...)
	plane := img.Width * img.Height
	for c := range img.Channels {
		mean, std := float32(0), float32(1)
		if w.opts.Mean != nil {
			mean = w.opts.Mean[c]
		}
		if w.opts.Std != nil {
			std = w.opts.Std[c]
		}
		var lut [256]uint32 // each sample value's float bits: 256 divisions, not H×W
		for v := range lut {
			lut[v] = math.Float32bits((float32(v)/255 - mean) / std)
		}
		out := buf[4*c*plane:]
		for y := range img.Height {
			src := img.Pix[y*img.Stride:]
			for x := range img.Width {
				binary.LittleEndian.PutUint32(out[4*(y*img.Width+x):], lut[src[x*img.Channels+c]])
			}
		}
	}
	return buf
}

// add writes one row with write under w.mu, opening and closing shards as needed.
func (w *ShardWriter) add(source string, write func(io.Writer) error) error {
	if w.closed {
		return errors.New("npy: shard writer is closed")
	}
	if w.err != nil {
		return w.err
	}
	if w.shard == nil {
		if err := w.open(); err != nil {
			w.err = err
			return err
		}
	}
	if err := write(w.buf); err != nil {
		w.err = fmt.Errorf("npy: %w", err)
		return w.err
	}
	w.sources = append(w.sources, source)
	if len(w.sources) == w.opts.RowsPerShard {
		if err := w.commit(); err != nil {
			w.err = err
			return err
		}
	}
	return nil
}

// open starts the next shard with a header-sized gap, filled in by commit.
func (w *ShardWriter) open() error {
	f, err := output.Create(w.ShardPath(w.number), w.fileOptions())
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	w.shard, w.buf = f, bufio.NewWriterSize(f, 1<<20)
	if _, err := w.buf.Write(make([]byte, w.hdrSize)); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}

// commit writes the open shard's header with its final row count, renames the shard into
// place, appends its rows to the index and records it in the manifest, in that order: a
// shard counts as committed once the manifest lists it.
func (w *ShardWriter) commit() error {
	f := w.shard
	w.shard = nil
	hdr, err := encodeHeader(w.descr, append([]int{len(w.sources)}, w.dims...), w.hdrSize)
	if err == nil {
		err = w.buf.Flush()
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err == nil {
		_, err = f.Write(hdr)
	}
	if err != nil {
		f.Abort()
		return fmt.Errorf("npy: %w", err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	name := filepath.Base(f.Path())
	var lines []byte
	for i, src := range w.sources {
		line, _ := json.Marshal(Entry{Shard: name, Row: i, Path: src})
		lines = append(append(lines, line...), '\n')
	}
	if err := w.appendIndex(lines); err != nil {
		return err
	}
	w.manifest.Shards = append(w.manifest.Shards, manifestShard{Name: name, Rows: len(w.sources), IndexEnd: w.manifest.IndexBytes + int64(len(lines))})
	w.manifest.Rows += len(w.sources)
	w.manifest.IndexBytes += int64(len(lines))
	if err := w.writeManifest(); err != nil {
		return err
	}
	for _, src := range w.sources {
		w.done.add(src)
	}
	if w.opts.OnCommit != nil {
		w.opts.OnCommit(w.sources)
	}
	w.shards++
	w.rows += len(w.sources)
	w.sources = w.sources[:0]
	w.number++
	return nil
}

// Close completes the last shard, however few rows it has, and marks the manifest complete.
// It returns the first error of the writer's life.
func (w *ShardWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.shard != nil && w.err == nil {
		w.err = w.commit()
	}
	if w.err == nil {
		w.manifest.Complete = true
		w.err = w.writeManifest()
	}
	return w.finish()
}

// Abort drops the open shard: what a cancelled run keeps is its complete shards, listed in
// the index and the manifest, which the next writer resumes. It returns the first error of
// the writer's life.
func (w *ShardWriter) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	w.closed = true
	return w.finish()
}

// finish drops a shard left open, closes the index and lets go of the lock.
func (w *ShardWriter) finish() error {
	if w.shard != nil {
		w.shard.Abort()
		w.shard = nil
	}
	if err := w.index.Close(); err != nil && w.err == nil {
		w.err = fmt.Errorf("npy: %w", err)
	}
	w.lock.Close()
	return w.err
}
