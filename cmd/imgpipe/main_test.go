package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/pipeline/report"
	"github.com/gpupipe/gpupipe/stages/npy"
)

// bin is the imgpipe built once for all tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "imgpipe-test")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "imgpipe")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building imgpipe: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

func imgpipe(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, stdout.String(), stderr.String()}
}

// noisy is a random image with some structure, so that encoders have work to do.
func noisy(r *rand.Rand, w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			i := m.PixOffset(x, y)
			m.Pix[i] = uint8(x * 255 / w)
			m.Pix[i+1] = uint8(y * 255 / h)
			m.Pix[i+2] = uint8(r.IntN(256))
			m.Pix[i+3] = 255
		}
	}
	return m
}

func writeImage(t *testing.T, path string, m image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jpg", ".jpeg":
		err = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90})
	case ".png":
		err = png.Encode(&buf, m)
	case ".gif":
		err = gif.Encode(&buf, m, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// goodImages writes n images of random sizes in a few formats and folders, and returns their
// paths relative to dir with their sizes.
func goodImages(t *testing.T, dir string, n int, seed uint64) map[string]image.Point {
	r := rand.New(rand.NewPCG(seed, 1))
	exts := []string{".jpg", ".png", ".gif", ".JPG"}
	sizes := map[string]image.Point{}
	for i := range n {
		rel := filepath.Join(fmt.Sprintf("set%d", i%3), fmt.Sprintf("img%03d%s", i, exts[i%len(exts)]))
		w, h := 40+r.IntN(300), 40+r.IntN(300)
		writeImage(t, filepath.Join(dir, rel), noisy(r, w, h))
		sizes[rel] = image.Pt(w, h)
	}
	return sizes
}

// brokenImages writes files that must fail, and returns their relative paths.
func brokenImages(t *testing.T, dir string) []string {
	t.Helper()
	r := rand.New(rand.NewPCG(9, 9))
	var good bytes.Buffer
	if err := jpeg.Encode(&good, noisy(r, 200, 150), nil); err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 5000)
	for i := range random {
		random[i] = byte(r.IntN(256))
	}
	files := map[string][]byte{
		"broken/truncated.jpg": good.Bytes()[:good.Len()/3],
		"broken/empty.png":     nil,
		"broken/random.jpg":    random,
		"broken/huge.png":      hugePNGHeader(),
	}
	var names []string
	for rel, data := range files {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, rel)
	}
	// Not inputs: a folder named like an image, and a hidden file.
	if err := os.MkdirAll(filepath.Join(dir, "broken", "folder.jpg"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeImage(t, filepath.Join(dir, ".hidden.png"), noisy(r, 10, 10))
	slices.Sort(names)
	return names
}

// hugePNGHeader is a valid PNG signature and IHDR chunk claiming 100000×100000 pixels, and
// nothing after it.
func hugePNGHeader() []byte {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()[:33] // signature (8), IHDR length and type (8), data (13), CRC (4)
	binary.BigEndian.PutUint32(b[16:], 100000)
	binary.BigEndian.PutUint32(b[20:], 100000)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func readReport(t *testing.T, path string) report.Report {
	t.Helper()
	rep, err := report.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// tempFiles lists files in dir that a crash or interruption would have left half-written.
func tempFiles(t *testing.T, dir string) []string {
	var found []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp-") {
			found = append(found, path)
		}
		return nil
	})
	return found
}

func decodeConfig(t *testing.T, path string) image.Config {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if format != "jpeg" {
		t.Fatalf("%s is %s, want jpeg", path, format)
	}
	return cfg
}

func TestThumbnailsOfGoodAndBrokenFiles(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	good := goodImages(t, in, 24, 1)
	broken := brokenImages(t, in)
	reportPath := filepath.Join(t.TempDir(), "report.json")
	res := imgpipe(t, "--in", in, "--out", out, "--size", "64", "--batch", "5", "--device", "cpu",
		"--report", reportPath, "--progress", "plain")
	if res.code != exitSomeFailed {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", res.code, exitSomeFailed, res.stderr)
	}
	for rel, size := range good {
		outRel := strings.TrimSuffix(rel, filepath.Ext(rel)) + ".jpg"
		if _, err := os.Stat(filepath.Join(out, outRel)); err != nil {
			t.Fatalf("%v\n%s", err, res.stderr)
		}
		cfg := decodeConfig(t, filepath.Join(out, outRel))
		if max(cfg.Width, cfg.Height) != 64 || !sameAspect(size, cfg) {
			t.Errorf("%s (%v) became %dx%d, want 64 on the long side with the same aspect", rel, size, cfg.Width, cfg.Height)
		}
	}
	for _, rel := range broken {
		if !strings.Contains(res.stderr, filepath.Join(in, rel)) {
			t.Errorf("stderr does not name %s:\n%s", rel, res.stderr)
		}
	}
	rep := readReport(t, reportPath)
	c := rep.Counts
	if c.Found != int64(len(good)+len(broken)) || c.Done != int64(len(good)) || c.Failed != int64(len(broken)) {
		t.Errorf("report counts %+v, want %d good and %d broken", c, len(good), len(broken))
	}
	var failed []string
	for _, f := range rep.Failures {
		rel, _ := filepath.Rel(in, f.Path)
		failed = append(failed, rel)
		if f.Reason == "" {
			t.Errorf("failure of %s has no reason", f.Path)
		}
	}
	slices.Sort(failed)
	if !slices.Equal(failed, broken) {
		t.Errorf("report failures %v, want %v", failed, broken)
	}
	if rep.Interrupted || rep.Bottleneck == "" || len(rep.Stages) == 0 {
		t.Errorf("report interrupted=%v bottleneck=%q stages=%d", rep.Interrupted, rep.Bottleneck, len(rep.Stages))
	}
	if tmp := tempFiles(t, out); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	if strings.Contains(res.stderr, "\x1b") {
		t.Errorf("plain progress wrote escape codes")
	}

	// A rerun does nothing new: every good output is there already.
	res = imgpipe(t, "--in", in, "--out", out, "--size", "64", "--device", "cpu", "--report", reportPath, "--quiet")
	rep = readReport(t, reportPath)
	if res.code != exitSomeFailed || rep.Counts.SkippedExisting != int64(len(good)) || rep.Counts.Done != 0 {
		t.Errorf("rerun: exit %d, counts %+v", res.code, rep.Counts)
	}
}

func sameAspect(src image.Point, dst image.Config) bool {
	want := float64(src.X) / float64(src.Y)
	got := float64(dst.Width) / float64(dst.Height)
	return got > want*0.9-0.05 && got < want*1.1+0.05
}

func TestCleanRunExitsZero(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	goodImages(t, in, 6, 2)
	res := imgpipe(t, "--in", in, "--out", out, "--size", "32x48", "--mode", "crop", "--format", "png", "--progress", "none")
	if res.code != exitOK {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	n := 0
	filepath.WalkDir(out, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		f, _ := os.Open(path)
		defer f.Close()
		cfg, format, err := image.DecodeConfig(f)
		if err != nil || format != "png" || cfg.Width != 32 || cfg.Height != 48 {
			t.Errorf("%s: %s %dx%d %v, want a 32x48 png", path, format, cfg.Width, cfg.Height, err)
		}
		return nil
	})
	if n != 6 {
		t.Errorf("%d outputs, want 6", n)
	}
	if !strings.Contains(res.stderr, "6 done") {
		t.Errorf("summary: %s", res.stderr)
	}
}

func TestOpsChain(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	writeImage(t, filepath.Join(in, "a.png"), noisy(rand.New(rand.NewPCG(3, 3)), 120, 80))
	res := imgpipe(t, "--in", in, "--out", out, "--ops", "rotate=90,grey,fit=40,blur=0.8", "--quiet")
	if res.code != exitOK {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	f, err := os.Open(filepath.Join(out, "a.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, grey := m.(*image.Gray); !grey || m.Bounds().Dx() != 27 || m.Bounds().Dy() != 40 {
		t.Errorf("got %T %v, want a grey 27x40 image (120x80 turned, fit in 40)", m, m.Bounds())
	}
}

func TestUsageErrors(t *testing.T) {
	in := t.TempDir()
	for _, args := range [][]string{
		{},
		{"--in", in},
		{"--out", in},
		{"--in", filepath.Join(in, "missing"), "--out", in},
		{"--in", in, "--out", in, "--size", "big"},
		{"--in", in, "--out", in, "--size", "10", "--mode", "squash"},
		{"--in", in, "--out", in, "--ops", "explode=3"},
		{"--in", in, "--out", in, "--quality", "0"},
		{"--in", in, "--out", in, "--device", "tpu"},
		{"--in", in, "--out", in, "--device", "cuda"},
		{"--in", in, "--out", in, "--shard", "3/2"},
		{"--in", in, "--out", in, "--tensor", "resnet"},
		{"--in", in, "--out", in, "--tensor", "imagenet", "--size", "10"},
		{"--in", in, "--out", in, "--progress", "loud"},
		{"--in", in, "--out", in, "--no-such-flag"},
	} {
		res := imgpipe(t, args...)
		if res.code != exitUsage || !strings.Contains(res.stderr, "imgpipe") {
			t.Errorf("imgpipe %q: exit %d, stderr %q; want exit 2 and a message", args, res.code, res.stderr)
		}
	}
	res := imgpipe(t, "--in", in, "--out", in, "--device", "cuda")
	if !strings.Contains(res.stderr, "built without CUDA") || !strings.Contains(res.stderr, "-tags cuda") {
		t.Errorf("--device cuda in a build without CUDA says %q", res.stderr)
	}
}

func TestHelpShowsFlagsExamplesAndExitCodes(t *testing.T) {
	res := imgpipe(t, "-h")
	if res.code != exitOK {
		t.Fatalf("exit %d", res.code)
	}
	for _, want := range []string{"--in", "--out", "--size", "--ops", "--tensor", "--device", "--batch",
		"--workers", "--progress", "--report", "--dry-run", "--quiet", "Examples:", "130", "Exit status"} {
		if !strings.Contains(res.stdout, strings.TrimPrefix(want, "-")) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	goodImages(t, in, 4, 4)
	res := imgpipe(t, "--in", in, "--out", out, "--size", "64", "--dry-run")
	if res.code != exitOK || strings.Count(res.stdout, " -> ") != 4 {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 0 {
		t.Errorf("dry run wrote %d entries", len(entries))
	}
}

func TestShardsSplitTheInput(t *testing.T) {
	in := t.TempDir()
	good := goodImages(t, in, 10, 5)
	seen := map[string]int{}
	for i := range 3 {
		out := t.TempDir()
		res := imgpipe(t, "--in", in, "--out", out, "--size", "16", "--shard", fmt.Sprintf("%d/3", i), "--quiet")
		if res.code != exitOK {
			t.Fatalf("shard %d: exit %d\n%s", i, res.code, res.stderr)
		}
		filepath.WalkDir(out, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(out, path)
				seen[rel]++
			}
			return nil
		})
	}
	if len(seen) != len(good) {
		t.Errorf("the shards made %d distinct outputs, want %d", len(seen), len(good))
	}
	for rel, n := range seen {
		if n != 1 {
			t.Errorf("%s made by %d shards", rel, n)
		}
	}
}

func TestTensorShards(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	good := goodImages(t, in, 7, 6)
	res := imgpipe(t, "--in", in, "--out", out, "--tensor", "imagenet", "--shard-rows", "4", "--batch", "3", "--quiet")
	if res.code != exitOK {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	rows := 0
	for i, want := range []int{4, 3} {
		f, err := os.Open(filepath.Join(out, fmt.Sprintf("shard-%05d.npy", i)))
		if err != nil {
			t.Fatal(err)
		}
		h, err := npy.ReadHeader(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if h.Descr != npy.Float32 || !slices.Equal(h.Shape, []int{want, 3, 224, 224}) {
			t.Errorf("shard %d: %s %v, want <f4 [%d 3 224 224]", i, h.Descr, h.Shape, want)
		}
		rows += h.Shape[0]
	}
	idx, err := os.Open(filepath.Join(out, "shard-index.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	sources := map[string]bool{}
	sc := bufio.NewScanner(idx)
	for sc.Scan() {
		var e struct{ Path string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		sources[e.Path] = true
	}
	if rows != len(good) || len(sources) != len(good) {
		t.Errorf("%d rows and %d sources in the index, want %d", rows, len(sources), len(good))
	}
}

// Ctrl-C stops the run promptly, leaves no partial file, and a rerun finishes the rest.
func TestInterruptAndResume(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	r := rand.New(rand.NewPCG(7, 7))
	const n = 120
	for i := range n {
		writeImage(t, filepath.Join(in, fmt.Sprintf("p%03d.png", i)), noisy(r, 640, 480))
	}
	reportPath := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(bin, "--in", in, "--out", out, "--size", "200", "--format", "png",
		"--workers", "1", "--batch", "2", "--report", reportPath, "--progress", "none")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForOutputs(t, out, 3)
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted {
		t.Fatalf("after SIGINT: %v, want exit %d\n%s", err, exitInterrupted, stderr.String())
	}
	if d := time.Since(sent); d > 10*time.Second {
		t.Errorf("took %v to stop after SIGINT", d)
	}
	if tmp := tempFiles(t, out); len(tmp) > 0 {
		t.Errorf("temporary files left after SIGINT: %v", tmp)
	}
	rep := readReport(t, reportPath)
	if !rep.Interrupted || rep.Counts.Done == 0 || rep.Counts.Done >= n {
		t.Errorf("report after SIGINT: interrupted %v, counts %+v", rep.Interrupted, rep.Counts)
	}
	doneBefore := rep.Counts.Done

	res := imgpipe(t, "--in", in, "--out", out, "--size", "200", "--format", "png", "--report", reportPath, "--quiet")
	rep = readReport(t, reportPath)
	if res.code != exitOK || rep.Counts.Done+rep.Counts.SkippedExisting != n || rep.Counts.SkippedExisting < doneBefore {
		t.Fatalf("rerun: exit %d, counts %+v (done before: %d)\n%s", res.code, rep.Counts, doneBefore, res.stderr)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != n {
		t.Errorf("%d outputs after the rerun, want %d", len(entries), n)
	}
	for _, e := range entries {
		f, _ := os.Open(filepath.Join(out, e.Name()))
		_, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s is not a whole PNG: %v", e.Name(), err)
		}
	}
}

func waitForOutputs(t *testing.T, dir string, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(dir)
		count := 0
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") {
				count++
			}
		}
		if count >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %d outputs in %s after a minute", n, dir)
}

// --mode and --ops use the same word for the same operation: the outputs are identical.
func TestModeAndOpsWordsAgree(t *testing.T) {
	in := t.TempDir()
	goodImages(t, in, 3, 2)
	for _, mode := range []string{"fit", "shrink", "fill", "cover", "stretch"} {
		byMode, byOps := t.TempDir(), t.TempDir()
		for _, args := range [][]string{
			{"--out", byMode, "--size", "30x20", "--mode", mode},
			{"--out", byOps, "--ops", mode + "=30x20"},
		} {
			res := imgpipe(t, append([]string{"--in", in, "--format", "png", "--progress", "none"}, args...)...)
			if res.code != exitOK {
				t.Fatalf("%v: exit %d\n%s", args, res.code, res.stderr)
			}
		}
		a, b := readTree(t, byMode), readTree(t, byOps)
		if len(a) != 3 || !maps.EqualFunc(a, b, bytes.Equal) {
			t.Errorf("--mode %s and --ops %s=30x20 differ (%d and %d files)", mode, mode, len(a), len(b))
		}
	}
}

// readTree reads every file under dir, keyed by its path relative to dir.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		files[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
