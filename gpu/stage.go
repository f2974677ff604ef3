package gpu

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
)

// Stage adds a pipeline stage that runs every batch from in through work on dev with an
// Engine, opts.Slots batches in flight, and hands the finished batches downstream in input
// order.
//
// Consumers must call Release on every *Done they receive once they are done with its Out
// bytes: the stage reuses a slot only after its release, and waits for one when all slots
// are out. A consumer that keeps outputs must copy them.
//
// Errors of one batch (its Work's Sizes, Pack or Enqueue failing, or a slot that cannot grow
// to fit it) go through the stage's error policy, so pipeline.SkipErrors skips and reports
// them; a device fault stops the run with a *BatchError that names the batch and the failed
// operation. On every end (success, error, cancellation) the stage waits for the device work
// in flight, then frees its slots, streams and events.
//
// The stage runs one submitting and one completing goroutine; pipeline.Workers is ignored.
// Its statistics carry the engine's figures (EngineStats.Extra) in StageStats.Extra, and its
// busy time is the time at least one batch was in flight.
func Stage[B any](in *pipeline.Stream[B], dev Device, work Work[B], opts EngineOptions, popts ...pipeline.Option) *pipeline.Stream[*Done[B]] {
	popts = append(popts[:len(popts):len(popts)], pipeline.Workers(1))
	return pipeline.Custom(in, func(ctx context.Context, sio *pipeline.IO[B, *Done[B]]) error {
		eng, err := NewEngine(dev, work, opts)
		if err != nil {
			return err
		}
		sio.SetExtra(func() map[string]float64 { return eng.Stats().Extra() })
		return runStage(ctx, eng, sio)
	}, popts...)
}

func runStage[B any](ctx context.Context, eng *Engine[B], sio *pipeline.IO[B, *Done[B]]) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	completed := make(chan error, 1)
	go func() {
		err := complete(ctx, eng, sio)
		if err != nil {
			cancel() // stop the producer, which may be waiting for a slot
		}
		completed <- err
	}()
	perr := produce(ctx, eng, sio)
	if perr != nil {
		cancel()
	}
	eng.Finish()
	cerr := <-completed
	closeErr := eng.Close()
	return firstError(ctx, perr, cerr, closeErr)
}

// produce submits every input batch. Errors of one batch go to the stage's error policy.
func produce[B any](ctx context.Context, eng *Engine[B], sio *pipeline.IO[B, *Done[B]]) error {
	for {
		b, ok := sio.Recv()
		if !ok {
			return nil
		}
		err := eng.Submit(ctx, b)
		var be *BatchError
		switch {
		case err == nil:
		case errors.As(err, &be) && !errors.Is(err, ErrDevice):
			if ferr := sio.Fail(b, err); ferr != nil {
				return ferr
			}
		default:
			return err
		}
	}
}

// complete hands finished batches downstream in order until the engine runs dry.
func complete[B any](ctx context.Context, eng *Engine[B], sio *pipeline.IO[B, *Done[B]]) error {
	var busy time.Duration
	for {
		d, err := eng.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		now := eng.stats.busyTime()
		sio.AddBusy(now - busy)
		busy = now
		if err := sio.Send(d); err != nil {
			d.Release()
			return err
		}
	}
}

// firstError picks the error that explains the stage's end: a real failure rather than the
// cancellation that it caused in the other goroutine.
func firstError(ctx context.Context, errs ...error) error {
	var cancelled error
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrEngineClosed):
			if cancelled == nil {
				cancelled = err
			}
		default:
			return err
		}
	}
	return cancelled
}
