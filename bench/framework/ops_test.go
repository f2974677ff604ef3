package main

import "testing"

// Every operator's three implementations compute the same, right result on a small run.
func TestOpsAgree(t *testing.T) {
	const n, buffer = 20_000, 16
	for _, op := range benchOps(20_000) { // throttle: 10,000 items in half a second
		for i, run := range op.impls {
			if got := run(n, buffer); !op.check(n, got) {
				t.Errorf("%s/%s computed %d", op.name, implNames[i], got)
			}
		}
	}
}
