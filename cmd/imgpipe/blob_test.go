package main

import (
	"bytes"
	"context"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gpupipe/gpupipe/internal/s3test"
	"github.com/gpupipe/gpupipe/stages/blob"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// readBucket reads every object under a store URL, by key relative to it.
func readBucket(t *testing.T, url string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	src, err := blob.OpenSource(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out := map[string][]byte{}
	err = src.Walk(ctx, walk.Options{Hidden: true}, func(f walk.File) error {
		r, _, err := f.Store.Open(ctx, f.Rel)
		if err != nil {
			return err
		}
		defer r.Close()
		out[f.Rel], err = io.ReadAll(r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBlobS3InAndOut runs imgpipe from a local folder to an S3 bucket and from the bucket
// to a local folder, against an S3 server in the test's process: the objects are the files
// a local run writes, byte for byte, and named alike; a rerun finds every object there;
// the run back from the bucket makes every thumbnail; a broken object is reported by its
// URL and skipped.
func TestBlobS3InAndOut(t *testing.T) {
	q := s3test.Start(t, "photos")
	in, local, back := t.TempDir(), t.TempDir(), t.TempDir()
	goodImages(t, in, 12, 7)
	flags := []string{"--size", "48", "--progress", "none", "--workers", "2"}

	if r := imgpipe(t, append([]string{"--in", in, "--out", local}, flags...)...); r.code != 0 {
		t.Fatalf("local run: exit %d\n%s", r.code, r.stderr)
	}
	want := readTree(t, local)
	url := "s3://photos/thumbs?" + q
	r := imgpipe(t, append([]string{"--in", in, "--out", url}, flags...)...)
	if r.code != 0 || !strings.Contains(r.stderr, "12 done") {
		t.Fatalf("run to S3: exit %d\n%s", r.code, r.stderr)
	}
	got := readBucket(t, url)
	if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
		t.Fatalf("objects %v, want the local run's files %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	for k, v := range want {
		if !bytes.Equal(got[k], v) {
			t.Errorf("object %s differs from the local run's file", k)
		}
	}
	if r := imgpipe(t, append([]string{"--in", in, "--out", url}, flags...)...); r.code != 0 || !strings.Contains(r.stderr, "0 done, 12 already there") {
		t.Errorf("rerun to S3: exit %d\n%s", r.code, r.stderr)
	}

	// Back from the bucket, with a broken object among the thumbnails.
	sink, err := blob.OpenSink(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	sink.Ext = ".jpg"
	if _, err := sink.Write(context.Background(), walk.File{Root: "x", Rel: "broken.jpg"}, func(w io.Writer) error {
		_, err := w.Write([]byte("\xff\xd8\xff\xe0 not really a jpeg"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	sink.Close()
	r = imgpipe(t, append([]string{"--in", url, "--out", back, "--name", "{root}/{rel}.{ext}"}, flags...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "s3://photos/thumbs/broken.jpg: decode: ") || !strings.Contains(r.stderr, "12 done") {
		t.Fatalf("run from S3: exit %d\n%s", r.code, r.stderr)
	}
	made := readTree(t, back)
	for k := range want {
		if _, ok := made[filepath.Join("thumbs", strings.TrimSuffix(k, filepath.Ext(k))+".jpg")]; !ok {
			t.Errorf("no output for s3://photos/thumbs/%s; made %v", k, slices.Sorted(maps.Keys(made)))
		}
	}
	if len(made) != len(want) {
		t.Errorf("made %d files, want %d", len(made), len(want))
	}
}
