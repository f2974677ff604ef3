package engine

import (
	"errors"
	"fmt"
	"time"
)

// ErrClosed is returned by an Engine that no longer takes batches.
var ErrClosed = errors.New("engine: closed")

// BatchError is the failure of one batch: which batch, and at which step.
type BatchError struct {
	Seq   int64  // the batch's number, from 0, in the order batches were offered
	Label string // the batch's Label(), when it has one
	// Op is the step that failed: "sizes", "allocate", "pack", "enqueue" (the work's
	// methods, or a slot that cannot grow), "result" (Work.Result, in a Stage) or "device"
	// (a fault while the batch ran, which wraps gpu.ErrDevice and stops the engine).
	Op  string
	Err error
}

func (e *BatchError) Error() string {
	name := fmt.Sprintf("batch %d", e.Seq)
	if e.Label != "" {
		name += " (" + e.Label + ")"
	}
	return fmt.Sprintf("engine: %s: %s: %v", name, e.Op, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }

// HeldError reports an engine that cannot take its next batch because the consumer holds
// every slot: each slot's output was handed over as a View that has not been released, and
// the submitter waited longer than Options.HoldLimit for one to come back. It is the error
// of a consumer that forgets View.Release, or keeps Views to read later instead of copying
// what it needs. A slot whose batch is still on the device never counts: device work ends.
type HeldError struct {
	Device string        // the name of the engine's device
	Slots  int           // the engine's slots, all held
	Waited time.Duration // how long the submitter waited for a free slot
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("engine: every one of the %d slots on %s holds an output whose consumer has not called View.Release: "+
		"the next batch waited %v for a free slot to upload into (release each View once done with its Out, "+
		"copying what must be kept; Options.HoldLimit sets this limit)",
		e.Slots, e.Device, e.Waited.Round(time.Millisecond))
}
