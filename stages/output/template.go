package output

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gpupipe/gpupipe/internal/termsafe"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// DefaultTemplate mirrors the input tree: "photos/2024/a.png" becomes "2024/a.jpg" under the
// output folder.
const DefaultTemplate = "{dir}/{name}.{ext}"

// Template maps an input file to an output path relative to the output folder. Its text
// is literal except for these placeholders:
//
//	{dir}     the input's folder relative to its root ("" for a file at the top)
//	{name}    the input's file name without its extension
//	{ext}     the output format's extension, without the dot ("jpg")
//	{srcext}  the input's extension, without the dot ("png")
//	{rel}     {dir}/{name}: the input's relative path without its extension
//	{root}    the name of the input root, which keeps inputs from several roots apart
//
// Segments that come out empty are dropped, so "{dir}/{name}.{ext}" gives "a.jpg" for a file
// at the top. "/" separates folders on every system. A template must use {name} or {rel}
// (else every input would map to one file) and cannot lead outside the output folder.
//
// Two inputs can still map to one output, such as "a.png" and "a.jpg" under the default
// template, or "x.jpg" of two roots: Writer.Plan finds them before any work and suggests the
// template that tells them apart ("{dir}/{name}.{srcext}.{ext}", "{root}/{dir}/{name}.{ext}").
type Template struct {
	text  string
	parts []part
}

type part struct {
	literal string
	field   string // a placeholder name, or "" for a literal
}

var fields = []string{"dir", "name", "ext", "srcext", "rel", "root"}

// ParseTemplate reads a name template; see Template.
func ParseTemplate(text string) (*Template, error) {
	t := &Template{text: text}
	named := false
	for rest := text; rest != ""; {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			t.parts = append(t.parts, part{literal: rest})
			break
		}
		if rest[open] == '}' {
			return nil, fmt.Errorf("output: template %q: '}' without '{'", text)
		}
		if open > 0 {
			t.parts = append(t.parts, part{literal: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("output: template %q: '{' without '}'", text)
		}
		name := rest[open+1 : open+end]
		if !isField(name) {
			return nil, fmt.Errorf("output: template %q: unknown placeholder {%s} (known: {%s})",
				text, name, strings.Join(fields, "}, {"))
		}
		named = named || name == "name" || name == "rel"
		t.parts = append(t.parts, part{field: name})
		rest = rest[open+end+1:]
	}
	if !named {
		return nil, fmt.Errorf("output: template %q: needs {name} or {rel}, or every input maps to one file", text)
	}
	return t, nil
}

func isField(name string) bool {
	for _, f := range fields {
		if f == name {
			return true
		}
	}
	return false
}

// String returns the template's text.
func (t *Template) String() string { return t.text }

// Expand returns the output path for f, relative to the output folder and in the system's
// form, for an output extension ext (with or without its dot). It refuses a path that would
// lead outside the output folder; a leading "/" is dropped, so an absolute-looking template
// stays inside it.
func (t *Template) Expand(f walk.File, ext string) (string, error) {
	rel := filepath.ToSlash(f.Rel)
	dir, base := "", rel
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		dir, base = rel[:i], rel[i+1:]
	}
	srcext := ""
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		base, srcext = base[:i], base[i+1:]
	}
	ext = strings.TrimPrefix(ext, ".")
	var b strings.Builder
	b.Grow(len(t.text) + len(rel) + len(ext))
	for _, p := range t.parts {
		switch p.field {
		case "":
			b.WriteString(p.literal)
		case "dir":
			b.WriteString(dir)
		case "name":
			b.WriteString(base)
		case "ext":
			b.WriteString(ext)
		case "srcext":
			b.WriteString(srcext)
		case "rel":
			if dir != "" {
				b.WriteString(dir)
				b.WriteByte('/')
			}
			b.WriteString(base)
		case "root":
			b.WriteString(filepath.Base(f.Root))
		}
	}
	// Empty and "." segments go, as does a leading "/"; ".." must not lead outside.
	out := filepath.Clean(filepath.FromSlash(strings.TrimLeft(b.String(), "/")))
	if out == "." || !filepath.IsLocal(out) {
		return "", fmt.Errorf("output: template %q gives %q for %s, which is not inside the output folder",
			t.text, out, termsafe.Name(f.Label()))
	}
	return out, nil
}
