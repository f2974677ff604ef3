package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEncodeHeader(t *testing.T) {
	cases := []struct {
		descr string
		shape []int
		dict  string
	}{
		{Float32, []int{2, 3, 224, 224}, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 224, 224), }"},
		{Uint8, []int{1000, 480, 640, 3}, "{'descr': '|u1', 'fortran_order': False, 'shape': (1000, 480, 640, 3), }"},
		{Uint8, []int{7}, "{'descr': '|u1', 'fortran_order': False, 'shape': (7,), }"},
		{Float32, nil, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }"},
	}
	for _, c := range cases {
		h := EncodeHeader(c.descr, c.shape)
		if len(h)%64 != 0 || string(h[:6]) != "\x93NUMPY" || h[6] != 1 || h[7] != 0 {
			t.Fatalf("%v: header %q", c.shape, h)
		}
		if n := int(binary.LittleEndian.Uint16(h[8:])); n != len(h)-10 {
			t.Fatalf("%v: length field %d, header %d", c.shape, n, len(h))
		}
		body := string(h[10:])
		if !strings.HasPrefix(body, c.dict) || !strings.HasSuffix(body, "\n") ||
			strings.TrimLeft(body[len(c.dict):], " ") != "\n" {
			t.Fatalf("%v: header body %q", c.shape, body)
		}
		got, err := ReadHeader(bytes.NewReader(h))
		if err != nil || got.Descr != c.descr || !slices.Equal(got.Shape, c.shape) || got.FortranOrder ||
			got.DataOffset != int64(len(h)) {
			t.Fatalf("%v: ReadHeader = %+v, %v", c.shape, got, err)
		}
	}
	// Padded to a larger size, for a header rewritten with the final count.
	h, err := encodeHeader(Uint8, []int{3, 2, 2, 1}, 128)
	if err != nil || len(h) != 128 || h[127] != '\n' {
		t.Fatalf("padded header: %q, %v", h, err)
	}
	if _, err := encodeHeader(Uint8, []int{3, 2, 2, 1}, 32); err == nil {
		t.Fatal("a header fitted into 32 bytes")
	}
}

func TestReadHeaderErrors(t *testing.T) {
	good := EncodeHeader(Uint8, []int{1, 2})
	v9 := bytes.Clone(good)
	v9[6] = 9
	for name, data := range map[string][]byte{
		"empty":       nil,
		"bad magic":   []byte("\x93NUMPZ\x01\x00\x10\x00"),
		"truncated":   good[:20],
		"version 9":   v9,
		"no shape":    append(append([]byte("\x93NUMPY\x01\x00"), 34, 0), "{'descr': '|u1', 'fortran_order': False}"[:34]...),
		"short magic": []byte("\x93NU"),
	} {
		if h, err := ReadHeader(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: read %+v", name, h)
		}
	}
}

// shard is one .npy file read back.
type shard struct {
	Header
	data []byte
}

func readShard(t *testing.T, path string) shard {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := ReadHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	n := 1
	for _, d := range h.Shape {
		n *= d
	}
	size := map[string]int{Uint8: 1, Float32: 4}[h.Descr]
	if len(data) != n*size || h.DataOffset%64 != 0 {
		t.Fatalf("%s: shape %v of %s holds %d bytes of data at offset %d", path, h.Shape, h.Descr, len(data), h.DataOffset)
	}
	return shard{h, data}
}

func readIndex(t *testing.T, path string) []Entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("index line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// files lists the files in dir but the writer's lock files.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".lock") {
			out = append(out, e.Name())
		}
	}
	return out
}

// randomImage is a w×h image with c channels of random samples, its stride padded.
func randomImage(rng *rand.Rand, w, h, c int) raster.Image {
	m := raster.Image{Pix: make([]byte, h*(w*c+5)), Width: w, Height: h, Stride: w*c + 5, Channels: c}
	for i := range m.Pix {
		m.Pix[i] = uint8(rng.IntN(256))
	}
	return m
}

func TestShardsHWC(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dir := filepath.Join(t.TempDir(), "out")
	w, err := NewShardWriter(Options{Dir: dir, Prefix: "train", Height: 4, Width: 5, Channels: 3, RowsPerShard: 3})
	if err != nil {
		t.Fatal(err)
	}
	var images []raster.Image
	for i := range 7 {
		img := randomImage(rng, 5, 4, 3)
		images = append(images, img)
		if err := w.AddImage(img, fmt.Sprintf("/in/%d.jpg", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"train-00000.npy", "train-00001.npy", "train-00002.npy", "train-index.jsonl", "train-manifest.json"}
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files %q", got)
	}
	index := readIndex(t, filepath.Join(dir, "train-index.jsonl"))
	if len(index) != 7 {
		t.Fatalf("index has %d rows", len(index))
	}
	for i, e := range index {
		if e.Shard != want[i/3] || e.Row != i%3 || e.Path != fmt.Sprintf("/in/%d.jpg", i) {
			t.Fatalf("index row %d: %+v", i, e)
		}
		s := readShard(t, filepath.Join(dir, e.Shard))
		if s.Descr != Uint8 || !slices.Equal(s.Shape[1:], []int{4, 5, 3}) || s.Shape[0] != min(3, 7-i/3*3) {
			t.Fatalf("%s: %+v", e.Shard, s.Header)
		}
		row := s.data[e.Row*60 : (e.Row+1)*60]
		img := images[i]
		for y := range 4 {
			if !bytes.Equal(row[y*15:(y+1)*15], img.Pix[y*img.Stride:y*img.Stride+15]) {
				t.Fatalf("row %d, line %d differs", i, y)
			}
		}
	}
	if shards, rows := w.Written(); shards != 3 || rows != 7 {
		t.Fatalf("Written = %d, %d", shards, rows)
	}
	if err := w.AddImage(images[0], "late"); err == nil {
		t.Fatal("AddImage after Close succeeded")
	}
}

func TestShardsCHWFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dir := t.TempDir()
	mean, std := []float32{0.485, 0.456, 0.406}, []float32{0.229, 0.224, 0.225}
	w, err := NewShardWriter(Options{Dir: dir, Layout: CHWFloat32, Height: 3, Width: 2, Channels: 3, Mean: mean, Std: std})
	if err != nil {
		t.Fatal(err)
	}
	img := randomImage(rng, 2, 3, 3)
	if err := w.AddImage(img, "a.png"); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, w.RowBytes())
	for i := range raw {
		raw[i] = byte(i)
	}
	if err := w.Add(raw, "raw"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s := readShard(t, filepath.Join(dir, "shard-00000.npy"))
	if s.Descr != Float32 || !slices.Equal(s.Shape, []int{2, 3, 3, 2}) {
		t.Fatalf("header %+v", s.Header)
	}
	for c := range 3 {
		for y := range 3 {
			for x := range 2 {
				got := math.Float32frombits(binary.LittleEndian.Uint32(s.data[4*(c*6+y*2+x):]))
				v := float32(img.Pix[y*img.Stride+x*3+c])
				if want := (v/255 - mean[c]) / std[c]; math.Abs(float64(got-want)) > 1e-6 {
					t.Fatalf("(c %d, y %d, x %d) = %v, want %v", c, y, x, got, want)
				}
			}
		}
	}
	if !bytes.Equal(s.data[w.RowBytes():], raw) {
		t.Fatal("raw row changed")
	}
}

func TestAddFloat32s(t *testing.T) {
	dir := t.TempDir()
	// 3×40×40 values: more than one 4 KiB chunk of the writer's conversion buffer.
	w, err := NewShardWriter(Options{Dir: dir, Layout: CHWFloat32, Height: 40, Width: 40, Channels: 3, RowsPerShard: 2})
	if err != nil {
		t.Fatal(err)
	}
	row := make([]float32, 3*40*40)
	for i := range row {
		row[i] = float32(i)*0.25 - 7
	}
	if err := w.AddFloat32s(row, "a.jpg"); err != nil {
		t.Fatal(err)
	}
	if err := w.AddFloat32s(row[1:], "short.jpg"); err == nil {
		t.Error("a row of the wrong length was accepted")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s := readShard(t, filepath.Join(dir, "shard-00000.npy"))
	if !slices.Equal(s.Shape, []int{1, 3, 40, 40}) {
		t.Fatalf("shape %v", s.Shape)
	}
	for i, v := range row {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(s.data[4*i:])); got != v {
			t.Fatalf("value %d is %v, want %v", i, got, v)
		}
	}
	u8, err := NewShardWriter(Options{Dir: t.TempDir(), Layout: HWCUint8, Height: 1, Width: 1, Channels: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer u8.Abort()
	if err := u8.AddFloat32s([]float32{1, 2, 3}, "x"); err == nil || !strings.Contains(err.Error(), "HWC uint8") {
		t.Errorf("float32 values into a uint8 shard: %v", err)
	}
}

// A cancelled run keeps the complete shards and an index of exactly them.
func TestShardsAbort(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	dir := t.TempDir()
	w, err := NewShardWriter(Options{Dir: dir, Height: 2, Width: 2, Channels: 1, RowsPerShard: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := w.AddImage(randomImage(rng, 2, 2, 1), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); !slices.Equal(got, []string{"shard-00000.npy", "shard-index.jsonl", "shard-manifest.json"}) {
		t.Fatalf("files %q", got)
	}
	if index := readIndex(t, filepath.Join(dir, "shard-index.jsonl")); len(index) != 3 {
		t.Fatalf("index %+v", index)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close after Abort: %v", err)
	}
}

func TestShardsRefuse(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, Height: 2, Width: 2, Channels: 3}
	w, err := NewShardWriter(opts)
	if err != nil {
		t.Fatal(err)
	}
	bad := raster.Image{Pix: make([]byte, 27), Width: 3, Height: 3, Stride: 9, Channels: 3}
	if err := w.AddImage(bad, "/in/big.jpg"); err == nil || !strings.Contains(err.Error(), "/in/big.jpg is 3×3") {
		t.Fatalf("wrong size: %v", err)
	}
	if err := w.Add(make([]byte, 5), "/in/x"); err == nil || !strings.Contains(err.Error(), "/in/x") {
		t.Fatalf("wrong row length: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{
		{Dir: dir, Height: 0, Width: 2, Channels: 3},
		{Dir: dir, Height: 2, Width: 2, Channels: 3, RowsPerShard: -1},
		{Dir: dir, Height: 2, Width: 2, Channels: 3, Mean: []float32{1}},
		{Dir: dir, Height: 2, Width: 2, Channels: 1, Std: []float32{0}},
		{Dir: dir, Height: 2, Width: 2, Channels: 1, Layout: 7},
	} {
		if _, err := NewShardWriter(o); err == nil {
			t.Errorf("accepted %+v", o)
		}
	}
}

// Rows added from many goroutines land whole, each where the index says.
func TestShardsConcurrent(t *testing.T) {
	dir := t.TempDir()
	w, err := NewShardWriter(Options{Dir: dir, Height: 8, Width: 8, Channels: 3, RowsPerShard: 10})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				id := g*25 + i
				img := raster.Image{Pix: bytes.Repeat([]byte{byte(id)}, 192), Width: 8, Height: 8, Stride: 24, Channels: 3}
				if err := w.AddImage(img, fmt.Sprint(id)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	index := readIndex(t, filepath.Join(dir, "shard-index.jsonl"))
	seen := map[string]bool{}
	for _, e := range index {
		s := readShard(t, filepath.Join(dir, e.Shard))
		row := s.data[e.Row*192 : (e.Row+1)*192]
		if id := fmt.Sprint(row[0]); id != e.Path || !bytes.Equal(row, bytes.Repeat(row[:1], 192)) || seen[id] {
			t.Fatalf("index %+v: row starts with %d", e, row[0])
		}
		seen[e.Path] = true
	}
	if len(seen) != 100 {
		t.Fatalf("%d rows", len(seen))
	}
}

// numpy reads the shards, where a Python with numpy is installed.
func TestNumpyLoads(t *testing.T) {
	python := pythonWithNumpy()
	if python == "" {
		t.Skip("no python3 with numpy")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	dir := t.TempDir()
	for _, layout := range []Layout{HWCUint8, CHWFloat32} {
		prefix := fmt.Sprint("l", layout)
		w, err := NewShardWriter(Options{Dir: dir, Prefix: prefix, Layout: layout, Height: 6, Width: 5, Channels: 3, RowsPerShard: 4})
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for i := range 6 {
			img := randomImage(rng, 5, 6, 3)
			for y := range 6 {
				for _, v := range img.Pix[y*img.Stride : y*img.Stride+15] {
					sum += float64(v)
				}
			}
			if err := w.AddImage(img, fmt.Sprint(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		wantShape, scale := "(4, 6, 5, 3) (2, 6, 5, 3) uint8", 1.0
		if layout == CHWFloat32 {
			wantShape, scale = "(4, 3, 6, 5) (2, 3, 6, 5) float32", 1/255.0
		}
		script := fmt.Sprintf(`import numpy as np
a = np.load(%q); b = np.load(%q)
print(a.shape, b.shape, a.dtype, "%%.3f" %% (float(a.sum(dtype=np.float64)) + float(b.sum(dtype=np.float64))))`,
			filepath.Join(dir, prefix+"-00000.npy"), filepath.Join(dir, prefix+"-00001.npy"))
		out, err := exec.Command(python, "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("numpy: %v\n%s", err, out)
		}
		want := fmt.Sprintf("%s %.3f", wantShape, sum*scale)
		if got := strings.TrimSpace(string(out)); got != want {
			t.Fatalf("numpy printed %q, want %q", got, want)
		}
	}
}

func pythonWithNumpy() string {
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import numpy").Run() == nil {
			return p
		}
	}
	return ""
}

// The header written first, with room for a full shard, keeps the data 64-byte aligned for
// any final count.
func TestHeaderReservation(t *testing.T) {
	dir := t.TempDir()
	w, err := NewShardWriter(Options{Dir: dir, Height: 1, Width: 1, Channels: 1, RowsPerShard: 100000})
	if err != nil {
		t.Fatal(err)
	}
	w.Add([]byte{42}, "a")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s := readShard(t, filepath.Join(dir, "shard-00000.npy"))
	if !slices.Equal(s.Shape, []int{1, 1, 1, 1}) || s.data[0] != 42 || s.DataOffset != int64(w.hdrSize) {
		t.Fatalf("%+v %v", s.Header, s.data)
	}
	if _, err := os.Stat(filepath.Join(dir, "shard-00001.npy")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("an empty shard was written")
	}
}

// The header is byte for byte what numpy.save writes, where a Python with numpy is installed.
func TestHeaderMatchesNumpy(t *testing.T) {
	python := pythonWithNumpy()
	if python == "" {
		t.Skip("no python3 with numpy")
	}
	for _, c := range []struct {
		dtype string
		descr string
		shape []int
	}{{"<f4", Float32, []int{2, 3, 224, 224}}, {"u1", Uint8, []int{10, 48, 64, 3}}, {"u1", Uint8, []int{7}}} {
		path := filepath.Join(t.TempDir(), "a.npy")
		dims := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(c.shape)), ","), "[]")
		script := fmt.Sprintf("import numpy as np\nnp.save(%q, np.lib.stride_tricks.as_strided(np.zeros(1, %q), shape=(%s,), strides=(0,)*%d))",
			path, c.dtype, dims, len(c.shape))
		if out, err := exec.Command(python, "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("numpy: %v\n%s", err, out)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		want := EncodeHeader(c.descr, c.shape)
		got := make([]byte, len(want))
		_, err = io.ReadFull(f, got)
		f.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("numpy wrote %q\nwe write    %q", got, want)
		}
	}
}
