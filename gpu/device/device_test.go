package device

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/cpu"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name string
		want Spec
		str  string
	}{
		{"auto", Spec{Kind: "auto"}, "auto"},
		{" CPU ", Spec{Kind: "cpu"}, "cpu"},
		{"cuda", Spec{Kind: "cuda", Ordinals: []int{0}}, "cuda:0"},
		{"cuda:3", Spec{Kind: "cuda", Ordinals: []int{3}}, "cuda:3"},
		{"cuda:2, 0", Spec{Kind: "cuda", Ordinals: []int{2, 0}}, "cuda:2,0"},
		{"Cuda:All", Spec{Kind: "cuda", All: true}, "cuda:all"},
	} {
		got, err := Parse(c.name)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Parse(%q) = %+v, want %+v", c.name, got, c.want)
		}
		if got.String() != c.str {
			t.Errorf("Parse(%q).String() = %q, want %q", c.name, got.String(), c.str)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, name := range []string{"", "gpu", "cuda:", "cuda:-1", "cuda:x", "cuda:1,1", "cuda:0,", "cpu:0", "tpu"} {
		if s, err := Parse(name); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", name, s)
		} else if !strings.Contains(err.Error(), "device") {
			t.Errorf("Parse(%q): error %q does not say what it is about", name, err)
		}
	}
}

func TestSingle(t *testing.T) {
	for name, want := range map[string]bool{"auto": true, "cpu": true, "cuda:1": true, "cuda:0,1": false, "cuda:all": false} {
		s, err := Parse(name)
		if err != nil {
			t.Fatal(err)
		}
		if s.Single() != want {
			t.Errorf("%q: Single() = %v, want %v", name, s.Single(), want)
		}
	}
}

func TestOpenCPU(t *testing.T) {
	d, err := Open("cpu", WithCPU(cpu.Name("test cpu")))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Kind() != "cpu" || d.Name() != "test cpu" {
		t.Errorf("Open(cpu) gave %s %q, want a cpu device named by the option", d.Kind(), d.Name())
	}
}

func TestOpenBadName(t *testing.T) {
	if d, err := Open("quantum"); err == nil {
		d.Close()
		t.Fatal("Open of an unknown name succeeded")
	}
	if ds, err := OpenAll("cuda:x"); err == nil {
		CloseAll(ds)
		t.Fatal("OpenAll of a bad name succeeded")
	}
}

func TestOpenSeveralNeedsOpenAll(t *testing.T) {
	for _, name := range []string{"cuda:0,1", "cuda:all"} {
		if d, err := Open(name); err == nil {
			d.Close()
			t.Errorf("Open(%q) succeeded, want an error pointing to OpenAll", name)
		} else if !strings.Contains(err.Error(), "OpenAll") {
			t.Errorf("Open(%q): %v does not point to OpenAll", name, err)
		}
	}
}

func TestCPUOptionErrorIsReturned(t *testing.T) {
	if d, err := Open("cpu", WithCPU(cpu.CopyEngines(0))); err == nil {
		d.Close()
		t.Fatal("a bad CPU option was ignored")
	}
}
