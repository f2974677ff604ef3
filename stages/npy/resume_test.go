package npy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/raster"
)

// row i of the test sets: a 2×2 grey image of the value i.
func row(i int) raster.Image {
	return raster.Image{Pix: bytes.Repeat([]byte{byte(i)}, 4), Width: 2, Height: 2, Stride: 2, Channels: 1}
}

func smallOpts(dir string) Options {
	return Options{Dir: dir, Height: 2, Width: 2, Channels: 1, RowsPerShard: 3, Config: "ops=grey"}
}

// writeRows adds rows from..to-1 to a new writer over opts, skipping the committed ones as a
// resuming caller does, and ends it with Close, or Abort when abort is set.
func writeRows(t *testing.T, opts Options, from, to int, abort bool) *ShardWriter {
	t.Helper()
	w, err := NewShardWriter(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < to; i++ {
		if w.Committed(fmt.Sprint(i)) {
			continue
		}
		if err := w.AddImage(row(i), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if abort {
		err = w.Abort()
	} else {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// readDir reads every file of dir but the lock.
func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range files(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = data
	}
	return out
}

func sameDirs(t *testing.T, got, want string) {
	t.Helper()
	g, w := readDir(t, got), readDir(t, want)
	if len(g) != len(w) {
		t.Fatalf("files %q, want %q", files(t, got), files(t, want))
	}
	for name, data := range w {
		if !bytes.Equal(g[name], data) {
			t.Errorf("%s differs from an uninterrupted run's:\n%s\nwant\n%s", name, g[name], data)
		}
	}
}

// A writer resumes what a cancelled one committed: the rows it skips are the committed
// ones, and the files end as an uninterrupted run leaves them, byte for byte.
func TestResumeAfterAbort(t *testing.T) {
	want := t.TempDir()
	writeRows(t, smallOpts(want), 0, 10, false)

	dir := t.TempDir()
	writeRows(t, smallOpts(dir), 0, 7, true) // two shards committed, row 6 dropped
	var committed [][]string
	opts := smallOpts(dir)
	opts.OnCommit = func(sources []string) { committed = append(committed, slices.Clone(sources)) }
	w, err := NewShardWriter(opts)
	if err != nil {
		t.Fatal(err)
	}
	if shards, rows := w.Resumed(); shards != 2 || rows != 6 {
		t.Fatalf("Resumed() = %d, %d; want 2 shards of 6 rows", shards, rows)
	}
	for i := range 10 {
		if got := w.Committed(fmt.Sprint(i)); got != (i < 6) {
			t.Fatalf("Committed(%d) = %v", i, got)
		}
	}
	for i := 6; i < 10; i++ {
		if err := w.AddImage(row(i), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if shards, rows := w.Written(); shards != 2 || rows != 4 {
		t.Errorf("Written() = %d, %d", shards, rows)
	}
	if !slices.EqualFunc(committed, [][]string{{"6", "7", "8"}, {"9"}}, slices.Equal) {
		t.Errorf("OnCommit saw %q", committed)
	}
	sameDirs(t, dir, want)

	// A rerun after a complete run adds nothing and changes nothing.
	w = writeRows(t, smallOpts(dir), 0, 10, false)
	if shards, rows := w.Written(); shards != 0 || rows != 0 {
		t.Errorf("a rerun wrote %d shards of %d rows", shards, rows)
	}
	sameDirs(t, dir, want)
}

// What a killed writer can leave is cleaned up by the next: a shard renamed into place but
// not in the manifest, index lines past the manifest, a damaged shard and those after it.
func TestResumeAfterKill(t *testing.T) {
	want := t.TempDir()
	writeRows(t, smallOpts(want), 0, 12, false)

	for name, damage := range map[string]func(dir string){
		"shard not in the manifest": func(dir string) {
			copyFile(t, filepath.Join(dir, "shard-00001.npy"), filepath.Join(dir, "shard-00002.npy"))
			appendFile(t, filepath.Join(dir, "shard-index.jsonl"), `{"shard":"shard-00002.npy","row":0,"pa`)
		},
		"damaged shard": func(dir string) {
			p := filepath.Join(dir, "shard-00001.npy")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, data[:len(data)-1], 0o644)
		},
		"missing shard": func(dir string) { os.Remove(filepath.Join(dir, "shard-00000.npy")) },
		"index cut short": func(dir string) {
			p := filepath.Join(dir, "shard-index.jsonl")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, data[:len(data)-10], 0o644)
		},
		"no index": func(dir string) { os.Remove(filepath.Join(dir, "shard-index.jsonl")) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeRows(t, smallOpts(dir), 0, 8, true)
			damage(dir)
			writeRows(t, smallOpts(dir), 0, 12, false)
			sameDirs(t, dir, want)
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, text string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(text)
	f.Close()
}

// Shards the writer cannot resume are an error that says why; Overwrite replaces them and
// leaves no stale shard.
func TestResumeRefusesAndOverwrite(t *testing.T) {
	dir := t.TempDir()
	writeRows(t, smallOpts(dir), 0, 9, false)

	other := smallOpts(dir)
	other.Config = "ops=grey,fliph"
	if _, err := NewShardWriter(other); !errors.Is(err, ErrNotResumable) || !strings.Contains(err.Error(), `"ops=grey,fliph"`) {
		t.Errorf("another Config: %v", err)
	}
	bigger := smallOpts(dir)
	bigger.Width = 3
	if _, err := NewShardWriter(bigger); !errors.Is(err, ErrNotResumable) || !strings.Contains(err.Error(), "[2 2 1]") {
		t.Errorf("another shape: %v", err)
	}
	os.Rename(filepath.Join(dir, "shard-manifest.json"), filepath.Join(dir, "old.json"))
	if _, err := NewShardWriter(smallOpts(dir)); !errors.Is(err, ErrNotResumable) ||
		!strings.Contains(err.Error(), "shard-00000.npy, shard-00001.npy, shard-00002.npy and 1 more") {
		t.Errorf("no manifest: %v", err)
	}
	os.Remove(filepath.Join(dir, "old.json"))

	over := smallOpts(dir)
	over.Overwrite, over.Config = true, "ops=grey,fliph"
	writeRows(t, over, 100, 102, false)
	if got := files(t, dir); !slices.Equal(got, []string{"shard-00000.npy", "shard-index.jsonl", "shard-manifest.json"}) {
		t.Errorf("after Overwrite: %q", got)
	}
	if index := readIndex(t, filepath.Join(dir, "shard-index.jsonl")); len(index) != 2 || index[0].Path != "100" {
		t.Errorf("index %+v", index)
	}
}

// Two writers of one prefix cannot run at once; writers of two prefixes can.
func TestWriterLock(t *testing.T) {
	dir := t.TempDir()
	a, err := NewShardWriter(smallOpts(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewShardWriter(smallOpts(dir)); err == nil || !strings.Contains(err.Error(), "another writer") {
		t.Errorf("second writer: %v", err)
	}
	other := smallOpts(dir)
	other.Prefix = "shard-s1of2"
	b, err := NewShardWriter(other)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	a.Close()
	c, err := NewShardWriter(smallOpts(dir))
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	c.Close()
}
