package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/cpu"
	"github.com/gpupipe/gpupipe/gpu/raster"
	"github.com/gpupipe/gpupipe/internal/samples"
	"github.com/gpupipe/gpupipe/pipeline"
	"github.com/gpupipe/gpupipe/stages/imageio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFingerprintsKeepTheOrder(t *testing.T) {
	dev := newDevice(t)
	paths := sampleFiles(t, 11)
	out := &output{}
	if err := fingerprints(context.Background(), dev, paths, 3, out); err != nil {
		t.Fatal(err)
	}
	if !out.closed.Load() {
		t.Error("fingerprints returned before the sink closed its writer")
	}
	if got, want := out.lines(), expectedLines(t, dev, paths); !slices.Equal(got, want) {
		t.Errorf("the sink got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestErrorComesBackThroughWait checks that an undecodable file stops the flow, that the sink
// still finishes with the fingerprints that came before it, in order, and that the error
// names the file.
func TestErrorComesBackThroughWait(t *testing.T) {
	dev := newDevice(t)
	paths := sampleFiles(t, 12)
	bad := filepath.Join(t.TempDir(), "bad.jpg")
	if err := os.WriteFile(bad, []byte("not a JPEG"), 0o644); err != nil {
		t.Fatal(err)
	}
	paths = slices.Insert(paths, 7, bad)
	out := &output{}

	err := fingerprints(context.Background(), dev, paths, 2, out)
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != "decode" || !errors.Is(err, imageio.ErrUnknownFormat) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("fingerprints returned %v, want the decode stage's error about %s", err, bad)
	}
	if !out.closed.Load() {
		t.Error("the sink did not finish")
	}
	want := expectedLines(t, dev, paths[:7])
	if got := out.lines(); len(got) > len(want) || !slices.Equal(got, want[:len(got)]) {
		t.Errorf("before the error the sink got\n%s\nwant a prefix of\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCancelledContextComesBackThroughWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := &output{}
	if err := fingerprints(ctx, newDevice(t), sampleFiles(t, 3), 2, out); !errors.Is(err, context.Canceled) {
		t.Errorf("fingerprints returned %v, want context.Canceled", err)
	}
	if !out.closed.Load() {
		t.Error("the sink did not finish")
	}
}

func TestAverageHash(t *testing.T) {
	img, _ := raster.NewImage(8, 8, 1)
	for y := range 8 {
		for x := range 4 {
			img.Pix[8*y+x] = 200 // the left half is bright
		}
	}
	if got, want := averageHash(img), uint64(0xf0f0f0f0f0f0f0f0); got != want {
		t.Errorf("hash %016x, want %016x", got, want)
	}
}

// expectedLines computes each file's line on the host: the same decoder, the chain run by
// Plan.Run, the same hash.
func expectedLines(t *testing.T, dev gpu.Device, paths []string) []string {
	t.Helper()
	fp, err := newFingerprinter(dev, 1)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, p := range paths {
		d, err := fp.decoder.DecodeFile(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		res, err := fp.plan.Run([]raster.Image{d.Image})
		if err != nil {
			t.Fatal(err)
		}
		f := fingerprint{Path: p, Width: d.SourceWidth, Height: d.SourceHeight, Hash: averageHash(res.Images[0])}
		lines = append(lines, strings.TrimSuffix(f.line(), "\n"))
	}
	return lines
}

// sampleFiles writes n small samples, one in three a PNG, and returns their paths.
func sampleFiles(t *testing.T, n int) []string {
	t.Helper()
	paths, err := samples.Write(t.TempDir(), samples.Options{Count: n, Width: 96, Height: 64, Seed: 5,
		Formats: []string{"jpeg", "jpeg", "png"}, Folders: []string{"", "sub"}})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

func newDevice(t *testing.T) gpu.Device {
	t.Helper()
	dev, err := cpu.New(cpu.RandomDelays(7, 200*time.Microsecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	return dev
}

// output is the sink's writer: it keeps what was written and whether it was closed.
type output struct {
	bytes.Buffer
	closed atomic.Bool
}

func (o *output) Close() error {
	if o.closed.Swap(true) {
		return fmt.Errorf("closed twice")
	}
	return nil
}

func (o *output) lines() []string {
	s := strings.TrimSuffix(o.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
