//go:build cuda

package device

import (
	"strings"
	"testing"

	"github.com/gpupipe/gpupipe/gpu/cuda"
)

// These tests run where the cuda build runs: on a GPU machine, or against the mock driver
// (scripts/gpu-mock.sh).

func TestCUDABuild(t *testing.T) {
	if !HasCUDA() {
		t.Fatal("HasCUDA is false in the cuda build")
	}
	for _, name := range []string{"auto", "cuda", "cuda:0"} {
		d, err := Open(name)
		if err != nil {
			t.Fatalf("Open(%q): %v", name, err)
		}
		if d.Kind() != "cuda" {
			t.Errorf("Open(%q) gave a %s device, want cuda", name, d.Kind())
		}
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestOpenAllGPUs(t *testing.T) {
	n, err := cuda.Count()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cuda:all", "auto"} {
		devs, err := OpenAll(name)
		if err != nil {
			t.Fatalf("OpenAll(%q): %v", name, err)
		}
		if len(devs) != n {
			t.Errorf("OpenAll(%q) opened %d devices, the driver sees %d", name, len(devs), n)
		}
		if err := CloseAll(devs); err != nil {
			t.Error(err)
		}
	}
}

func TestOpenMissingGPU(t *testing.T) {
	n, err := cuda.Count()
	if err != nil {
		t.Fatal(err)
	}
	name := "cuda:" + strings.Repeat("9", 3)
	if d, err := Open(name); err == nil {
		d.Close()
		t.Errorf("Open(%q) with %d GPUs succeeded", name, n)
	}
	if devs, err := OpenAll("cuda:0,999"); err == nil {
		CloseAll(devs)
		t.Error("OpenAll of a list with a missing GPU succeeded")
	}
}

func TestScheduleOption(t *testing.T) {
	for _, s := range []string{"blocking", "spin", "yield", "auto"} {
		d, err := Open("cuda", WithSchedule(s), WithWriteCombinedUploads(true))
		if err != nil {
			t.Fatalf("schedule %q: %v", s, err)
		}
		d.Close()
	}
	if d, err := Open("cuda", WithSchedule("nap")); err == nil {
		d.Close()
		t.Error("an unknown schedule was accepted")
	}
}
