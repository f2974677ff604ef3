//go:build !cuda

package device

import (
	"errors"
	"strings"
	"testing"
)

func TestNoCUDA(t *testing.T) {
	if HasCUDA() {
		t.Fatal("HasCUDA in a build without the cuda tag")
	}
	for _, name := range []string{"cuda", "cuda:1"} {
		d, err := Open(name)
		if err == nil {
			d.Close()
			t.Fatalf("Open(%q) succeeded without CUDA", name)
		}
		if !errors.Is(err, ErrNoCUDA) || !strings.Contains(err.Error(), "go build -tags cuda") {
			t.Errorf("Open(%q): %v; want ErrNoCUDA saying how to rebuild", name, err)
		}
	}
	for _, name := range []string{"cuda:0,1", "cuda:all"} {
		if ds, err := OpenAll(name); !errors.Is(err, ErrNoCUDA) {
			CloseAll(ds)
			t.Errorf("OpenAll(%q): %v, want ErrNoCUDA", name, err)
		}
	}
}

func TestAutoIsCPUWithoutCUDA(t *testing.T) {
	d, err := Open("auto")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Kind() != "cpu" {
		t.Errorf("Open(auto) without CUDA gave a %s device", d.Kind())
	}
	ds, err := OpenAll("auto")
	if err != nil {
		t.Fatal(err)
	}
	defer CloseAll(ds)
	if len(ds) != 1 || ds[0].Kind() != "cpu" {
		t.Errorf("OpenAll(auto) without CUDA gave %d devices", len(ds))
	}
}
