package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpupipe/gpupipe/stages/imageio"
)

// WebP (lossy and lossless) and AVIF outputs get their extensions, through the name template
// too, and decode to the size asked for; --lossless is refused for other formats.
func TestWebPAndAVIFOutputs(t *testing.T) {
	in := t.TempDir()
	goodImages(t, in, 3, 21)
	for _, c := range []struct {
		args   []string
		format string
	}{
		{[]string{"--format", "webp"}, "webp"},
		{[]string{"--format", "webp", "--lossless", "--name", "{name}-small.{ext}"}, "webp"},
		{[]string{"--format", "avif", "--quality", "40"}, "avif"},
	} {
		out := t.TempDir()
		res := imgpipe(t, append([]string{"--in", in, "--out", out, "--size", "24x20", "--mode", "fill", "--progress", "none"}, c.args...)...)
		if res.code != exitOK {
			t.Fatalf("%q: exit %d\n%s", c.args, res.code, res.stderr)
		}
		n := 0
		filepath.WalkDir(out, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			n++
			if filepath.Ext(path) != "."+c.format || (strings.Contains(strings.Join(c.args, " "), "-small") && !strings.HasSuffix(path, "-small."+c.format)) {
				t.Errorf("%q: output %s", c.args, path)
			}
			got, err := (&imageio.Decoder{}).DecodeFile(context.Background(), path)
			if err != nil || got.Format != c.format || got.Image.Width != 24 || got.Image.Height != 20 {
				t.Errorf("%q: %s decodes to %+v, %v; want a 24x20 %s", c.args, path, got, err, c.format)
			}
			return nil
		})
		if n != 3 {
			t.Errorf("%q: %d outputs, want 3", c.args, n)
		}
	}
	if res := imgpipe(t, "--in", in, "--out", t.TempDir(), "--format", "avif", "--lossless"); res.code != exitUsage ||
		!strings.Contains(res.stderr, "--lossless") {
		t.Errorf("--lossless with avif: exit %d, %q", res.code, res.stderr)
	}
}
