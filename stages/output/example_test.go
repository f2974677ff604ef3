package output_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gpupipe/gpupipe/stages/output"
	"github.com/gpupipe/gpupipe/stages/walk"
)

func ExampleWriter() {
	out, _ := os.MkdirTemp("", "out")
	defer os.RemoveAll(out)
	tmpl, _ := output.ParseTemplate("{dir}/{name}.thumb.{ext}")
	w := &output.Writer{Dir: out, Template: tmpl, Ext: ".jpg"}
	in := walk.File{Root: "/data/photos", Rel: filepath.Join("2024", "beach.png")}

	write := func(dst io.Writer) error {
		_, err := io.WriteString(dst, "jpeg bytes")
		return err
	}
	path, err := w.Write(context.Background(), in, write)
	rel, _ := filepath.Rel(out, path)
	fmt.Println(filepath.ToSlash(rel), err)

	// A rerun finds the output and skips it.
	done, _ := w.Done(in)
	_, err = w.Write(context.Background(), in, write)
	fmt.Println(done, errors.Is(err, output.ErrExists))
	// Output:
	// 2024/beach.thumb.jpg <nil>
	// true true
}
