package cuda

import (
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// gorgonia.org/cu exits the process from its package init when no GPU is found, so a file
// that imports it must be compiled only with the build tag cuda.

const cuPath = "gorgonia.org/cu"

// cuOutsideTag reports whether a Go source file imports gorgonia.org/cu without a build
// constraint that requires the tag cuda.
func cuOutsideTag(name string, src []byte) (bool, error) {
	f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly|parser.ParseComments)
	if err != nil {
		return false, err
	}
	imports := false
	for _, im := range f.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); p == cuPath || strings.HasPrefix(p, cuPath+"/") {
			imports = true
		}
	}
	if !imports {
		return false, nil
	}
	for _, group := range f.Comments {
		if group.Pos() >= f.Package {
			break
		}
		for _, c := range group.List {
			if !constraint.IsGoBuild(c.Text) {
				continue
			}
			expr, err := constraint.Parse(c.Text)
			if err != nil {
				return false, err
			}
			// Excluded in every build without cuda, whatever the other tags are.
			return expr.Eval(func(tag string) bool { return tag != "cuda" }), nil
		}
	}
	return true, nil
}

func TestCuOutsideTag(t *testing.T) {
	for _, c := range []struct {
		src  string
		want bool
	}{
		{"package p\nimport \"gorgonia.org/cu\"\n", true},
		{"//go:build cuda\n\npackage p\nimport \"gorgonia.org/cu\"\n", false},
		{"//go:build cuda && linux\n\npackage p\nimport \"gorgonia.org/cu\"\n", false},
		{"//go:build linux\n\npackage p\nimport \"gorgonia.org/cu\"\n", true},
		{"//go:build !cuda\n\npackage p\nimport \"gorgonia.org/cu\"\n", true},
		{"//go:build cuda || amd64\n\npackage p\nimport cudnn \"gorgonia.org/cu/dnn\"\n", true},
		{"package p\nimport \"fmt\"\n", false},
	} {
		got, err := cuOutsideTag("x.go", []byte(c.src))
		if err != nil || got != c.want {
			t.Errorf("%q: %v, %v; want %v", c.src, got, err, c.want)
		}
	}
}

// TestOnlyCUDAFilesImportCu checks every Go file of the module.
func TestOnlyCUDAFilesImportCu(t *testing.T) {
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Skip("not run from the source tree (a test binary copied to a GPU machine)")
	}
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "build") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		bad, err := cuOutsideTag(path, src)
		if err != nil {
			return err
		}
		if bad {
			t.Errorf("%s imports %s outside the cuda build tag", path, cuPath)
		}
		checked++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("only %d Go files found under %s", checked, root)
	}
}
