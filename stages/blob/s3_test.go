package blob_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	_ "gocloud.dev/blob/s3blob" // the driver, which programs import themselves

	"github.com/gpupipe/gpupipe/internal/s3test"
	"github.com/gpupipe/gpupipe/stages/blob"
	"github.com/gpupipe/gpupipe/stages/output"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// TestS3 runs the S3 client path against an S3 server in the process: a sink writes the
// tree (conditional writes refuse a second write), a source lists it in the order of a
// local walk and reads it back, a missing bucket is refused when the sink opens.
func TestS3(t *testing.T) {
	ctx := context.Background()
	q := s3test.Start(t, "photos")
	sink, err := blob.OpenSink(ctx, "s3://photos/in?"+q)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	tmpl, _ := output.ParseTemplate("{rel}.{ext}")
	sink.Template = tmpl
	for _, name := range tree {
		dir, base := "", name
		if i := strings.LastIndex(name, "/"); i >= 0 {
			dir, base = name[:i], name[i+1:]
		}
		ext := base[strings.LastIndex(base, ".")+1:]
		sink.Ext = ext
		f := walk.File{Root: "x", Rel: strings.TrimPrefix(dir+"/"+strings.TrimSuffix(base, "."+ext)+".src", "/")}
		if _, err := sink.Write(ctx, f, func(w io.Writer) error { _, err := io.WriteString(w, name); return err }); err != nil {
			t.Fatal(err)
		}
	}
	sink.Ext = "jpg"
	_, err = sink.Write(ctx, walk.File{Root: "x", Rel: "a.src"}, func(w io.Writer) error { return nil })
	if !errors.Is(err, output.ErrExists) {
		t.Errorf("writing over an object without Overwrite: %v", err)
	}

	dir := t.TempDir()
	writeLocal(t, dir, tree)
	want := rels(t, func(fn func(walk.File) error) error {
		return walk.Walk(ctx, []string{dir}, walk.Options{Exts: walk.ImageExts}, fn)
	})
	src, err := blob.OpenSource(ctx, "s3://photos/in?"+q)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var got []string
	err = src.Walk(ctx, walk.Options{Exts: walk.ImageExts}, func(f walk.File) error {
		got = append(got, f.Rel)
		r, size, err := f.Store.Open(ctx, f.Rel)
		if err != nil {
			return err
		}
		defer r.Close()
		data, err := io.ReadAll(r)
		if err != nil || string(data) != f.Rel || size != int64(len(f.Rel)) || f.Path() != "s3://photos/in/"+f.Rel {
			t.Errorf("%s reads %q, size %d, %v", f.Path(), data, size, err)
		}
		return nil
	})
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("walk: %v\n got %v\nwant %v", err, got, want)
	}

	if _, err := blob.OpenSink(ctx, "s3://missing/out?"+q); err == nil || !strings.Contains(err.Error(), "s3://missing/out") {
		t.Errorf("a sink in a missing bucket: %v", err)
	}
}
