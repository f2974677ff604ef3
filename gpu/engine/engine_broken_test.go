//go:build !race

// Under the race detector the broken engine below is reported as a data race (the device
// reads a host buffer that the producer is rewriting), which fails the run before the
// output check can speak; so this proof runs without it.

package engine_test

import (
	"context"
	"testing"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/gpu/engine"
)

// TestBrokenSlotReuseIsCaught runs the correctness check of TestEngineMatchesSynchronousRun
// on an engine broken on purpose: it recycles each slot as soon as its batch is enqueued,
// before the slot's event completes. The check must fail.
func TestBrokenSlotReuseIsCaught(t *testing.T) {
	batches := randomBatches(11, 150, 5000)
	want := reference(t, batches)
	// With slots reserved for the largest batch, nothing is reallocated: the early reuse
	// can only show as wrong data, which the comparison with the reference must see.
	t.Run("reserved", func(t *testing.T) {
		reserve := gpu.Sizes{In: 4 * 5000, Out: 4 * 5000, Scratch: 4 * 5000}
		for seed := range int64(5) {
			err, m := runBroken(t, batches, want, reserve, seed)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			if m != "" {
				t.Logf("seed %d: the output check caught the early reuse: %s", seed, m)
				return
			}
		}
		t.Fatal("an engine that reuses slots before their events complete passed the output check")
	})
	// When slots grow, the early reuse also frees buffers that queued copies still need:
	// the CPU device reports that as a fault.
	t.Run("growing", func(t *testing.T) {
		err, m := runBroken(t, batches, want, gpu.Sizes{}, 0)
		if err == nil && m == "" {
			t.Fatal("an engine that reuses slots before their events complete passed the check")
		}
		t.Logf("caught: error %v; output check: %q", err, m)
	})
}

func runBroken(t *testing.T, batches []batch, want [][]byte, reserve gpu.Sizes, seed int64) (error, string) {
	dev := shaky(t, 100+seed)
	eng, err := engine.New[batch](dev, newChain(t, dev), engine.Options{Slots: 2, Reserve: reserve})
	must(t, err)
	engine.BreakSlotReuse(eng)
	results, err := drive(context.Background(), eng, batches, seed)
	must(t, eng.Close())
	if err != nil {
		return err, ""
	}
	return nil, mismatch(results, want)
}
