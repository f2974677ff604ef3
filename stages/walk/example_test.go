package walk_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gpupipe/gpupipe/stages/walk"
)

func Example() {
	root, _ := os.MkdirTemp("", "photos")
	defer os.RemoveAll(root)
	for _, name := range []string{"b.JPG", "a/1.png", ".thumbs/x.jpg", "notes.txt"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(root, name), []byte("data"), 0o644)
	}
	for f, err := range walk.Seq(context.Background(), []string{root}, walk.Options{Exts: walk.ImageExts}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(filepath.ToSlash(f.Rel), f.Size)
	}
	// Output:
	// a/1.png 4
	// b.JPG 4
}

func ExampleParseShard() {
	s, _ := walk.ParseShard("1/3")
	lo, hi := s.Range(10)
	fmt.Println(lo, hi)
	// Output: 3 6
}
