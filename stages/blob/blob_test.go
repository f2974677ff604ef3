package blob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	gcblob "gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/gpupipe/gpupipe/stages/blob"
	"github.com/gpupipe/gpupipe/stages/imageio"
	"github.com/gpupipe/gpupipe/stages/output"
	"github.com/gpupipe/gpupipe/stages/walk"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The S3 client's HTTP transport keeps idle connections to the test server for
		// reuse; they end when the server closes them.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// tree is a set of files whose names test the walk's rules: a folder whose name sorts
// before files that sort before it as keys ("a/" after "a-b.jpg" and "a.jpg"), hidden files
// and folders, extensions in any case, files of other kinds, deep folders.
var tree = []string{
	"a/b.jpg", "a-b.jpg", "a.jpg", "a.txt", ".hidden.jpg", ".hdir/x.jpg", "c.PNG",
	"sub/deep/e.jpeg", "sub/d.png", "sub/z/y.png", "zz.gif",
}

// writeLocal writes the tree under dir, each file's content its name.
func writeLocal(t *testing.T, dir string, names []string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writeBucket writes the tree under prefix of b.
func writeBucket(t *testing.T, b *gcblob.Bucket, prefix string, names []string) {
	t.Helper()
	for _, n := range names {
		if err := b.WriteAll(context.Background(), prefix+n, []byte(n), nil); err != nil {
			t.Fatal(err)
		}
	}
}

func rels(t *testing.T, seq func(func(walk.File) error) error) []string {
	t.Helper()
	var out []string
	if err := seq(func(f walk.File) error {
		out = append(out, filepath.ToSlash(f.Rel))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// uniqueName names a memory bucket for one run of one test: buckets outlive tests, and a
// test run again (-count) must start empty.
func uniqueName(t *testing.T) string {
	return fmt.Sprintf("%s-%d", strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()), time.Now().UnixNano())
}

// TestWalkOrderAsLocal: a bucket prefix, a memory bucket and a file location of the same
// tree give the files of a local walk, in its order, with its filters, whole and in shards.
func TestWalkOrderAsLocal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeLocal(t, dir, tree)
	name := uniqueName(t)
	writeBucket(t, blob.MemBucket(name), "photos/", tree)

	for _, exts := range [][]string{walk.ImageExts, nil, {"png"}} {
		opts := walk.Options{Exts: exts}
		want := rels(t, func(fn func(walk.File) error) error { return walk.Walk(ctx, []string{dir}, opts, fn) })
		if len(want) < 3 {
			t.Fatalf("local walk found %v", want)
		}
		for _, url := range []string{"mem://" + name + "/photos", "file://" + filepath.ToSlash(dir)} {
			src, err := blob.OpenSource(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			got := rels(t, func(fn func(walk.File) error) error { return src.Walk(ctx, opts, fn) })
			if !slices.Equal(got, want) {
				t.Errorf("%s, exts %v:\n got %v\nwant %v", url, exts, got, want)
			}
			n, err := src.Count(ctx, opts)
			if err != nil || n != len(want) {
				t.Errorf("%s: Count = %d, %v; want %d", url, n, err, len(want))
			}
			var sharded []string
			for i := range 3 {
				o := opts
				o.Shard = walk.Shard{Index: i, Count: 3}
				sharded = append(sharded, rels(t, func(fn func(walk.File) error) error { return src.Walk(ctx, o, fn) })...)
			}
			if !slices.Equal(sharded, want) {
				t.Errorf("%s: shards 0/3..2/3 give %v, want %v", url, sharded, want)
			}
			src.Close()
		}
	}
}

// TestWalkNamesAndReads: each file is named by its URL, carries its size and identity,
// and reads back its content through its Store.
func TestWalkNamesAndReads(t *testing.T) {
	ctx := context.Background()
	name := uniqueName(t)
	writeBucket(t, blob.MemBucket(name), "in/", tree)
	src, err := blob.OpenSource(ctx, "mem://"+name+"/in")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ids := map[walk.ID]bool{}
	err = src.Walk(ctx, walk.Options{}, func(f walk.File) error {
		key := filepath.ToSlash(f.Rel)
		if f.Path() != "mem://"+name+"/in/"+key || f.Root != "mem://"+name+"/in" {
			t.Errorf("file %q: Path %q, Root %q", key, f.Path(), f.Root)
		}
		if f.Size != int64(len(key)) || f.ID.IsZero() || ids[f.ID] {
			t.Errorf("file %q: size %d, id %v (seen: %v)", key, f.Size, f.ID, ids[f.ID])
		}
		ids[f.ID] = true
		r, size, err := f.Store.Open(ctx, f.Rel)
		if err != nil {
			return err
		}
		defer r.Close()
		data, err := io.ReadAll(r)
		if err != nil || string(data) != key || size != f.Size {
			t.Errorf("file %q reads %q (size %d), %v", key, data, size, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.Open(ctx, "missing.jpg"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("opening a missing object: %v, want fs.ErrNotExist", err)
	}
	f, err := src.Stat(ctx, "sub/d.png")
	if err != nil || f.Size != int64(len("sub/d.png")) || f.Path() != "mem://"+name+"/in/sub/d.png" {
		t.Errorf("Stat: %+v, %v", f, err)
	}
}

// TestWalkRoots: a prefix that names an object is one file; a prefix with nothing under it
// is an error naming it, as a missing folder is; an excluded folder (an output prefix
// inside the input prefix) is left out, the root never.
func TestWalkRoots(t *testing.T) {
	ctx := context.Background()
	name := uniqueName(t)
	writeBucket(t, blob.MemBucket(name), "in/", tree)
	writeBucket(t, blob.MemBucket(name), "in/out/", []string{"made.jpg"})

	src, _ := blob.OpenSource(ctx, "mem://"+name+"/in/sub/d.png")
	var files []walk.File
	if err := src.Walk(ctx, walk.Options{Exts: []string{"jpg"}}, func(f walk.File) error { files = append(files, f); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Rel != "d.png" || files[0].Root != "mem://"+name+"/in/sub" || files[0].Path() != "mem://"+name+"/in/sub/d.png" {
		t.Fatalf("a file root gives %+v", files)
	}
	if r, _, err := files[0].Store.Open(ctx, files[0].Rel); err != nil {
		t.Fatal(err)
	} else {
		r.Close()
	}

	src, _ = blob.OpenSource(ctx, "mem://"+name+"/nothing")
	err := src.Walk(ctx, walk.Options{}, func(walk.File) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "mem://"+name+"/nothing") {
		t.Errorf("walking an empty prefix: %v", err)
	}

	src, _ = blob.OpenSource(ctx, "mem://"+name+"/in")
	opts := walk.Options{Exclude: []string{"mem://" + name + "/in/out", "mem://other/in/sub", "/tmp"}}
	got := rels(t, func(fn func(walk.File) error) error { return src.Walk(ctx, opts, fn) })
	if slices.Contains(got, "out/made.jpg") || !slices.Contains(got, "sub/d.png") {
		t.Errorf("excluding the output prefix: %v", got)
	}
	src, _ = blob.OpenSource(ctx, "mem://"+name+"/in/out")
	if got := rels(t, func(fn func(walk.File) error) error { return src.Walk(ctx, opts, fn) }); !slices.Equal(got, []string{"made.jpg"}) {
		t.Errorf("an excluded folder named as the root: %v", got)
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		url, root, prefix, err string
	}{
		{url: "s3://photos/2024/summer/?region=eu-west-1", root: "s3://photos/2024/summer", prefix: "2024/summer"},
		{url: "S3://photos", root: "s3://photos"},
		{url: "gs://b/p", root: "gs://b/p", prefix: "p"},
		{url: "azblob://c", root: "azblob://c"},
		{url: "file:///data/in", root: "file:///data/in"},
		{url: "s3://", err: "no bucket"},
		{url: "s3://b/p?prefix=x", err: "in the path"},
		{url: "file://host/x", err: "local folder"},
		{url: "ftp://x/y", err: "want a URL"},
	} {
		loc, err := blob.Parse(c.url)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Parse(%q) = %v, want an error with %q", c.url, err, c.err)
			}
			continue
		}
		if err != nil || loc.Root() != c.root || loc.Prefix != c.prefix {
			t.Errorf("Parse(%q) = root %q prefix %q, %v", c.url, loc.Root(), loc.Prefix, err)
		}
	}
	for s, want := range map[string]bool{"s3://a": true, "mem://x/y": true, "photos": false, "./s3:/x": false, "C:/x": false} {
		if blob.IsURL(s) != want {
			t.Errorf("IsURL(%q) = %v", s, !want)
		}
	}
}

// pngBytes is a small valid PNG.
func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.Set(0, 0, color.RGBA{1, 2, 3, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// countingStore counts the bytes read from a store.
type countingStore struct {
	walk.Store
	read atomic.Int64
}

func (c *countingStore) Open(ctx context.Context, rel string) (io.ReadCloser, int64, error) {
	r, n, err := c.Store.Open(ctx, rel)
	if err != nil {
		return nil, 0, err
	}
	return &countingReader{r, &c.read}, n, nil
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// TestDecodeFromStore: the decoder reads a store's files under the limits of local files:
// a file over the size limit is refused before a byte is read, a large file that is not an
// image after its first kilobytes, an empty one as empty; an image decodes.
func TestDecodeFromStore(t *testing.T) {
	ctx := context.Background()
	name := uniqueName(t)
	b := blob.MemBucket(name)
	img := pngBytes(t, 40, 30)
	for key, data := range map[string][]byte{
		"ok.png": img, "big.png": append(img, make([]byte, 1<<20)...),
		"video.jpg": bytes.Repeat([]byte("not an image "), 1<<15), "empty.jpg": nil,
	} {
		if err := b.WriteAll(ctx, "in/"+key, data, nil); err != nil {
			t.Fatal(err)
		}
	}
	src, _ := blob.OpenSource(ctx, "mem://"+name+"/in")
	dec := &imageio.Decoder{MaxFileSize: 1 << 19}
	for _, c := range []struct {
		rel     string
		want    error
		maxRead int64
	}{
		{"ok.png", nil, int64(len(img))},
		{"big.png", imageio.ErrTooLarge, 0},
		{"video.jpg", imageio.ErrUnknownFormat, 64 << 10},
		{"empty.jpg", imageio.ErrEmpty, 0},
	} {
		f, err := src.Stat(ctx, c.rel)
		if err != nil {
			t.Fatal(err)
		}
		cs := &countingStore{Store: f.Store}
		f.Store = cs
		d, err := dec.Decode(ctx, f)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.rel, err, c.want)
		}
		if c.want != nil && (err == nil || !strings.HasPrefix(err.Error(), "mem://"+name+"/in/"+c.rel+": ")) {
			t.Errorf("%s: the error %q does not name the object", c.rel, err)
		}
		if cs.read.Load() > c.maxRead {
			t.Errorf("%s: read %d bytes, want at most %d", c.rel, cs.read.Load(), c.maxRead)
		}
		if d != nil {
			if d.Image.Width != 40 || d.Image.Height != 30 || d.File.Path() != "mem://"+name+"/in/ok.png" {
				t.Errorf("decoded %dx%d from %s", d.Image.Width, d.Image.Height, d.File.Path())
			}
			d.Release()
		}
	}
}

func file(root, rel string) walk.File { return walk.File{Root: root, Rel: rel} }

// TestSinkWrites: outputs named by the template appear when complete; a failed or cancelled
// write leaves nothing; an existing output is done (skipped) and kept, or replaced with
// Overwrite; an output that is an input is refused.
func TestSinkWrites(t *testing.T) {
	ctx := context.Background()
	name := uniqueName(t)
	for _, url := range []string{"mem://" + name + "/out", "file://" + filepath.ToSlash(t.TempDir()) + "/out"} {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			sink, err := blob.OpenSink(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			sink.Ext = ".jpg"
			sink.Template, _ = output.ParseTemplate("{dir}/{name}-x.{ext}")
			in := file("mem://in", "2024/a.png")
			pending, err := sink.Pending(ctx, in)
			if err != nil || !pending {
				t.Fatalf("Pending before any write: %v, %v", pending, err)
			}
			got, err := sink.Write(ctx, in, func(w io.Writer) error { _, err := io.WriteString(w, "first"); return err })
			if err != nil || got != strings.TrimSuffix(sink.Location().Root(), "/")+"/2024/a-x.jpg" {
				t.Fatalf("Write = %q, %v", got, err)
			}
			if data := read(t, sink, "2024/a-x.jpg"); data != "first" {
				t.Fatalf("the output holds %q", data)
			}
			if pending, err := sink.Pending(ctx, in); err != nil || pending {
				t.Errorf("Pending after the write: %v, %v", pending, err)
			}
			_, err = sink.Write(ctx, in, func(w io.Writer) error { _, err := io.WriteString(w, "second"); return err })
			if !errors.Is(err, output.ErrExists) || read(t, sink, "2024/a-x.jpg") != "first" {
				t.Errorf("a second write without Overwrite: %v; the output holds %q", err, read(t, sink, "2024/a-x.jpg"))
			}

			boom := errors.New("encoder failed")
			b := file("mem://in", "b.png")
			if _, err := sink.Write(ctx, b, func(w io.Writer) error {
				io.WriteString(w, strings.Repeat("partial", 1000))
				return boom
			}); !errors.Is(err, boom) {
				t.Errorf("a failed write: %v", err)
			}
			cctx, cancel := context.WithCancel(ctx)
			if _, err := sink.Write(cctx, b, func(w io.Writer) error {
				io.WriteString(w, "partial")
				cancel()
				return nil
			}); !errors.Is(err, context.Canceled) {
				t.Errorf("a cancelled write: %v", err)
			}
			if pending, err := sink.Pending(ctx, b); !pending || err != nil {
				t.Errorf("a failed and a cancelled write left an object (pending %v, %v)", pending, err)
			}

			sink.Overwrite = true
			if _, err := sink.Write(ctx, in, func(w io.Writer) error { _, err := io.WriteString(w, "third"); return err }); err != nil || read(t, sink, "2024/a-x.jpg") != "third" {
				t.Errorf("Overwrite: %v, the output holds %q", err, read(t, sink, "2024/a-x.jpg"))
			}
			// The output's identity is an input's: refused, kept.
			inputs := map[walk.ID]bool{}
			src, _ := blob.OpenSource(ctx, url)
			src.Walk(ctx, walk.Options{}, func(f walk.File) error { inputs[f.ID] = true; return nil })
			src.Close()
			sink.Protect = func(id walk.ID) error {
				if inputs[id] {
					return output.ErrInput
				}
				return nil
			}
			if _, err := sink.Write(ctx, in, func(w io.Writer) error { return nil }); !errors.Is(err, output.ErrInput) || read(t, sink, "2024/a-x.jpg") != "third" {
				t.Errorf("writing over an input: %v", err)
			}
			sink.Overwrite = false
			if _, err := sink.Pending(ctx, in); !errors.Is(err, output.ErrInput) {
				t.Errorf("Pending of an output that is an input: %v", err)
			}
		})
	}
}

func read(t *testing.T, sink *blob.Sink, rel string) string {
	t.Helper()
	src, err := blob.OpenSource(context.Background(), sink.Location().String())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	r, _, err := src.Open(context.Background(), rel)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	defer r.Close()
	data, _ := io.ReadAll(r)
	return string(data)
}

// TestSinkRefusesMissingBucket: a sink whose bucket cannot be reached is refused when it is
// opened, naming it.
func TestSinkRefusesMissingBucket(t *testing.T) {
	b := memblob.OpenBucket(nil)
	b.Close()
	if _, err := blob.OpenSink(context.Background(), "file:///proc/no/such/folder"); err == nil || !strings.Contains(err.Error(), "/proc/no/such/folder") {
		t.Errorf("a folder that cannot be made: %v", err)
	}
}
