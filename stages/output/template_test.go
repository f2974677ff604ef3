package output

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestTemplateExpand(t *testing.T) {
	cases := []struct {
		tmpl, rel, ext, want string
	}{
		{DefaultTemplate, "a.png", ".jpg", "a.jpg"},
		{DefaultTemplate, "2024/may/a.PNG", "jpg", "2024/may/a.jpg"},
		{DefaultTemplate, "noext", ".png", "noext.png"},
		{DefaultTemplate, "x.tar.gz", ".png", "x.tar.png"},
		{DefaultTemplate, ".hidden", ".png", ".hidden.png"},
		{"{root}/{dir}/{name}.{ext}", "d/a.png", ".jpg", "photos/d/a.jpg"},
		{"{name}_{srcext}.{ext}", "d/a.png", ".jpg", "a_png.jpg"},
		{"thumbs/{rel}-small.{ext}", "d/e/a.png", ".jpg", "thumbs/d/e/a-small.jpg"},
		{"thumbs/{rel}-small.{ext}", "a.png", ".jpg", "thumbs/a-small.jpg"},
		{"{dir}//{name}.{ext}", "a.png", ".jpg", "a.jpg"},
		{"/abs/{name}.{ext}", "d/a.png", ".jpg", "abs/a.jpg"}, // kept inside
		{"{name}.{srcext}.{ext}", "a", ".jpg", "a..jpg"},
		{"x/../{rel}.{ext}", "d/a.png", ".jpg", "d/a.jpg"},
	}
	for _, c := range cases {
		tm, err := ParseTemplate(c.tmpl)
		if err != nil {
			t.Fatalf("ParseTemplate(%q): %v", c.tmpl, err)
		}
		got, err := tm.Expand(walkFile("/data/photos", c.rel), c.ext)
		if err != nil || got != filepath.FromSlash(c.want) {
			t.Errorf("%q on %q = %q, %v; want %q", c.tmpl, c.rel, got, err, c.want)
		}
		if tm.String() != c.tmpl {
			t.Errorf("String() = %q", tm.String())
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	for tmpl, msg := range map[string]string{
		"{dir}/{nam}.{ext}": "unknown placeholder {nam}",
		"{dir}/{name.{ext}": "unknown placeholder",
		"{dir}/{name":       "'{' without '}'",
		"{dir}/name}.jpg":   "'}' without '{'",
		"{dir}/out.{ext}":   "needs {name} or {rel}",
	} {
		if _, err := ParseTemplate(tmpl); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseTemplate(%q) = %v, want %q", tmpl, err, msg)
		}
	}
	for _, tmpl := range []string{"../{name}.{ext}", "{dir}/../../{name}", "{name}/../.."} {
		tm, err := ParseTemplate(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := tm.Expand(walkFile("/in", "a/b.png"), "jpg"); err == nil || !strings.Contains(err.Error(), "not inside the output folder") {
			t.Errorf("%q expanded to %q, %v", tmpl, got, err)
		}
	}
}
