package output

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpupipe/gpupipe/stages/walk"
)

// FuzzTemplate parses any text as a name template and expands it for hostile input names:
// a template either parses or says why; its text survives a round trip; and every path it
// gives is relative, clean and inside the output folder whatever the names and the
// template hold ("..", "/", "{", control characters). Expand agrees with the first,
// straightforward implementation (expandReference). `go test` runs the seeds below and
// those in testdata/fuzz/FuzzTemplate; `go test -fuzz FuzzTemplate ./stages/output` looks
// for more.
func FuzzTemplate(f *testing.F) {
	for _, s := range []struct{ tmpl, rel, root string }{
		{DefaultTemplate, "a.png", "/data/photos"},
		{"{root}/{dir}/{name}.{srcext}.{ext}", "d/e/a.tar.gz", "/in"},
		{"../{name}.{ext}", "a.png", "/in"},
		{"/abs/{rel}.{ext}", "x/y.png", "/in"},
		{"{dir}/../../{name}", "a/b.png", "/in"},
		{"{name}/../..", "b.png", "in"},
		{"{rel}{{}}", "a.png", "/"},
		{"{name}\x1b[2J\n.{ext}", "clear\x1b[2J\n.png", "/in"},
		{"./{dir}/./{name}.{ext}", "../..", "."},
		{"{name}", "..", ""},
		{"{dir}//{name}", "a//b/.c", "/r/"},
	} {
		f.Add(s.tmpl, s.rel, s.root)
	}
	f.Fuzz(func(t *testing.T, text, rel, root string) {
		tm, err := ParseTemplate(text)
		if err != nil {
			if !strings.Contains(err.Error(), "template") {
				t.Fatalf("error %q does not say it is about the template", err)
			}
			return
		}
		if tm.String() != text {
			t.Fatalf("String() = %q, want %q", tm.String(), text)
		}
		again, err := ParseTemplate(tm.String())
		if err != nil || again.String() != text {
			t.Fatalf("reparsing %q: %v", text, err)
		}
		for _, ext := range []string{".jpg", "png", ""} {
			file := walk.File{Root: root, Rel: rel}
			got, err := tm.Expand(file, ext)
			want, wantErr := expandReference(tm, file, ext)
			if (err == nil) != (wantErr == nil) || got != want {
				t.Fatalf("Expand(%q, %q, %q) = %q, %v; the reference gives %q, %v", text, rel, ext, got, err, want, wantErr)
			}
			if err != nil {
				continue
			}
			if !filepath.IsLocal(got) || filepath.IsAbs(got) || got != filepath.Clean(got) || got == "." {
				t.Fatalf("Expand(%q, %q) = %q, which is not a clean path inside the output folder", text, rel, got)
			}
			for _, seg := range strings.Split(got, string(filepath.Separator)) {
				if seg == ".." || seg == "" {
					t.Fatalf("Expand(%q, %q) = %q has segment %q", text, rel, got, seg)
				}
			}
			out := filepath.Join("/out", got)
			if !strings.HasPrefix(out, "/out/") {
				t.Fatalf("Expand(%q, %q) = %q leads to %q", text, rel, got, out)
			}
		}
	})
}

// expandReference is Expand as first written: a map of values, the segments split, the
// empty and "." ones dropped, joined and cleaned.
func expandReference(t *Template, f walk.File, ext string) (string, error) {
	rel := filepath.ToSlash(f.Rel)
	dir, base := "", rel
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		dir, base = rel[:i], rel[i+1:]
	}
	srcext := ""
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		base, srcext = base[:i], base[i+1:]
	}
	values := map[string]string{
		"dir": dir, "name": base, "ext": strings.TrimPrefix(ext, "."), "srcext": srcext,
		"rel": strings.TrimPrefix(dir+"/"+base, "/"), "root": filepath.Base(f.Root),
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.field == "" {
			b.WriteString(p.literal)
		} else {
			b.WriteString(values[p.field])
		}
	}
	var segs []string
	for _, s := range strings.Split(b.String(), "/") {
		if s != "" && s != "." {
			segs = append(segs, s)
		}
	}
	out := filepath.Clean(filepath.FromSlash(strings.Join(segs, "/")))
	if out == "." || !filepath.IsLocal(out) {
		return "", errNotInside
	}
	return out, nil
}

var errNotInside = errors.New("not inside the output folder")
