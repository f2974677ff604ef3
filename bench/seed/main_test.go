package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestMain lets the test binary serve as its own worker processes, as the command does.
func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		if err := worker(role, os.Args[1:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "seed %s worker: %v\n", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// All three approaches run for real (worker processes included) on a few images, agree bit
// for bit (run fails otherwise), and print one line each.
func TestRunAllApproaches(t *testing.T) {
	var out bytes.Buffer
	o := options{images: 5, sub: 2, workers: 2, batch: 2, slots: 2, seed: 7,
		approaches: []string{"subprocess", "multiprocess", "pipeline"}}
	if err := run(&out, o); err != nil {
		t.Fatal(err)
	}
	var names []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var r row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if r.Images != 5 || r.Seconds <= 0 || r.ImagesPerS <= 0 {
			t.Errorf("implausible row %+v", r)
		}
		names = append(names, r.Approach)
	}
	if got := strings.Join(names, ","); got != "subprocess,multiprocess,pipeline" {
		t.Errorf("approaches printed: %s", got)
	}
}

// The computation is not the identity and depends on the input.
func TestComputationDoesWork(t *testing.T) {
	in := randomImages(2, 3)
	out := make([]float32, len(in))
	processImages(out, in, 2, 2)
	same, zero := 0, 0
	for i := range out {
		if out[i] == in[i] {
			same++
		}
		if out[i] == 0 {
			zero++
		}
	}
	if same > len(out)/100 || zero > len(out)/100 {
		t.Errorf("%d outputs equal their input and %d are zero, of %d", same, zero, len(out))
	}
	first := append([]float32(nil), out[:imageLen]...)
	if bytes.Equal(floatBytes(first), floatBytes(out[imageLen:])) {
		t.Error("two different images gave the same output")
	}
}

func TestWorkerRejectsBadInput(t *testing.T) {
	for name, input := range map[string][]byte{
		"empty":      nil,
		"zero count": {0, 0, 0, 0},
		"truncated":  append([]byte{1, 0, 0, 0}, make([]byte, 100)...),
	} {
		if err := subprocessWorker(bytes.NewReader(input), &bytes.Buffer{}); err == nil {
			t.Errorf("%s: worker accepted it", name)
		}
	}
	if err := worker("nobody", nil, nil, nil); err == nil {
		t.Error("unknown role accepted")
	}
	if err := poolWorker([]string{"x"}); err == nil {
		t.Error("pool worker accepted one argument")
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	if err := run(&bytes.Buffer{}, options{images: 0, sub: 1, workers: 1, batch: 1, slots: 1}); err == nil {
		t.Error("zero images accepted")
	}
	o := options{images: 1, sub: 1, workers: 1, batch: 1, slots: 1, approaches: []string{"telepathy"}}
	if err := run(&bytes.Buffer{}, o); err == nil || !strings.Contains(err.Error(), "telepathy") {
		t.Errorf("unknown approach: %v", err)
	}
}
