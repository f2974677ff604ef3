package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// A small run prints one well-formed line per configuration.
func TestRunPrintsEveryConfiguration(t *testing.T) {
	var out bytes.Buffer
	cfg := config{batches: 6, phase: 300 * time.Microsecond, bytes: 4096, runs: 1}
	if err := run(&out, cfg, "1,2,3", "2,1"); err != nil {
		t.Fatal(err)
	}
	seen := map[[2]int]bool{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var r row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if r.Batches != 6 || r.MeasuredMs <= 0 || r.LimitMs <= 0 || r.LimitMs > r.SerialMs || r.Efficiency <= 0 {
			t.Errorf("implausible row %+v", r)
		}
		seen[[2]int{r.Slots, r.CopyEngines}] = true
	}
	if len(seen) != 6 {
		t.Errorf("configurations printed: %v, want 6", seen)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	good := config{batches: 1, phase: time.Millisecond, bytes: 1, runs: 1}
	for name, c := range map[string]struct {
		cfg            config
		slots, engines string
	}{
		"zero batches":   {config{phase: time.Millisecond, bytes: 1, runs: 1}, "1", "1"},
		"bad slot list":  {good, "1,x", "1"},
		"zero slots":     {good, "0", "1"},
		"three engines":  {good, "1", "3"},
		"no engine list": {good, "1", ""},
	} {
		if err := run(&bytes.Buffer{}, c.cfg, c.slots, c.engines); err == nil {
			t.Errorf("%s: run succeeded", name)
		}
	}
}
