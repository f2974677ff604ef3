package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/pipeline"
)

// Stage adds a pipeline stage that runs every batch from in through work on the devices
// devs, opts.Slots batches in flight on each, and emits each batch's typed result, in input
// order. For each finished batch the stage calls work.Result with the batch's output, still
// in the slot's pinned host buffer, then gives the slot back itself: the consumer never
// releases anything.
//
// With several devices the stage runs one Engine per device and a feeder per engine, which
// takes the next input batch as soon as its engine has accepted the previous one, so a
// faster device takes more batches. Results come out in input order all the same; a finished
// batch holds its slot until its turn, so a device runs at most its slots' worth of batches
// ahead of the slowest. The one work serves every device at once (see Enqueuer).
//
// Errors of one batch (its work's Sizes, Pack, Enqueue or Result failing, or a slot that
// cannot grow to fit it) are *BatchError values that go through the stage's error policy,
// so pipeline.SkipErrors skips and reports them; a device fault on any device stops the run
// with a *BatchError that names the batch (numbered across devices) and the failed
// operation, and so does a *HeldError. A batch the stage received and drops (the run stopped,
// or its device faulted) is released, once, as the pipeline releases dropped items. On every
// end (success, error, cancellation) the stage waits for every device's work in flight, then
// frees its slots, streams and events.
//
// The stage is named "gpu" unless popts name it; pipeline.Workers is ignored. Its
// statistics carry the engines' figures in StageStats.Extra (Stats.Extra; prefixed dev0.,
// dev1., ... when there are several devices, with "devices" their number), and its busy
// time is the time at least one batch was in flight on its busiest engine.
func Stage[B, R any](in *pipeline.Stream[B], devs []gpu.Device, work Work[B, R], opts Options, popts ...pipeline.Option) *pipeline.Stream[R] {
	var enq Enqueuer[B]
	if work != nil {
		enq = work
	}
	return stage(in, devs, enq, opts, popts, func(sio *pipeline.IO[B, R], v *View[B]) error {
		r, err := protect(func() (R, error) { return work.Result(v.Batch, v.Out) })
		v.Release()
		if err != nil {
			return sio.Fail(v.Batch, &BatchError{Seq: v.Seq, Label: labelOf(v.Batch), Op: "result", Err: err})
		}
		return sio.Send(r)
	})
}

// Views adds a pipeline stage that runs batches as Stage does but emits each finished batch
// as a *View of its output in place: the zero-copy path, for a consumer that reads the output
// where it lies (to encode or write it, say) rather than have a Result copy it out first.
//
// The consumer must call Release on every View it receives, once done with its Out: the
// engine reuses a slot only after its release, and waits for one when all are out. A
// consumer that holds every slot stops the run with a *HeldError after opts.HoldLimit
// rather than hanging. A View still out when the stage ends (held by the consumer, or left
// in a queue by a stopped run) keeps its slot's host output buffer, and only that, until its
// Release or until the device closes.
//
// The batch inside a View is the consumer's too: Release gives back the slot only.
//
// Errors, devices, statistics and the stage's name are as for Stage.
func Views[B any](in *pipeline.Stream[B], devs []gpu.Device, work Enqueuer[B], opts Options, popts ...pipeline.Option) *pipeline.Stream[*View[B]] {
	return stage(in, devs, work, opts, popts, func(sio *pipeline.IO[B, *View[B]], v *View[B]) error {
		if err := sio.Send(v); err != nil {
			v.Release()
			return err
		}
		return nil
	})
}

// deliverFunc hands a finished batch downstream; it owns v.
type deliverFunc[B, T any] func(sio *pipeline.IO[B, T], v *View[B]) error

func stage[B, T any](in *pipeline.Stream[B], devs []gpu.Device, work Enqueuer[B], opts Options,
	popts []pipeline.Option, deliver deliverFunc[B, T]) *pipeline.Stream[T] {
	popts = append(append([]pipeline.Option{pipeline.Name("gpu")}, popts...), pipeline.Workers(1))
	return pipeline.Custom(in, func(ctx context.Context, sio *pipeline.IO[B, T]) error {
		engines, err := newEngines(devs, work, opts)
		if err != nil {
			return err
		}
		for _, e := range engines {
			e.drop = func(b B) { pipeline.Release(b) }
			// A View released on any device is the consumer making progress: with
			// several devices, a View waits behind the others' in the queue.
			e.released = engines[0].released
		}
		sp := &spread[B, T]{
			engines: engines,
			sio:     sio,
			deliver: deliver,
			order:   make(chan *dealt, len(engines)*(max(opts.Slots, 2)+1)),
		}
		sio.SetExtra(sp.extra)
		return sp.run(ctx)
	}, popts...)
}

// newEngines makes one engine per device, or none and an error.
func newEngines[B any](devs []gpu.Device, work Enqueuer[B], opts Options) ([]*Engine[B], error) {
	if len(devs) == 0 || work == nil {
		return nil, errors.New("engine: a stage needs at least one device and a work")
	}
	engines := make([]*Engine[B], 0, len(devs))
	for i, d := range devs {
		e, err := New(d, work, opts)
		if err != nil {
			for _, e := range engines {
				err = errors.Join(err, e.Close())
			}
			return nil, fmt.Errorf("engine: device %d (%s): %w", i, nameOf(d), err)
		}
		engines = append(engines, e)
	}
	return engines, nil
}

func nameOf(d gpu.Device) string {
	if d == nil {
		return "nil"
	}
	return d.Name()
}

// spread runs the engines: one feeder goroutine per engine takes input batches and submits
// them; the stage's own goroutine hands them downstream in input order.
type spread[B, T any] struct {
	engines []*Engine[B]
	sio     *pipeline.IO[B, T]
	deliver deliverFunc[B, T]

	// mu makes taking a batch from the input and its place in order one step, so that
	// order receives the batches in input order.
	mu    sync.Mutex
	next  int64
	order chan *dealt // the batches dealt, in input order
}

// dealt is a batch given to an engine. submitted receives the outcome of its Submit: nil
// when the engine has it, errSkipped when it failed alone and was skipped, or the error that
// stops the run.
type dealt struct {
	seq       int64
	engine    int
	submitted chan error
}

var errSkipped = errors.New("batch skipped")

func (sp *spread[B, T]) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var feeders sync.WaitGroup
	errs := make([]error, len(sp.engines)+1)
	for k := range sp.engines {
		feeders.Go(func() {
			if errs[k] = sp.feed(ctx, k); errs[k] != nil {
				cancel() // stop the other feeders and the completer
			}
		})
	}
	go func() {
		feeders.Wait()
		close(sp.order)
	}()
	if errs[len(sp.engines)] = sp.complete(ctx); errs[len(sp.engines)] != nil {
		cancel() // stop the feeders, which may be waiting for a slot
	}
	feeders.Wait()
	var closeErrs []error
	for _, e := range sp.engines {
		closeErrs = append(closeErrs, e.Close())
	}
	return firstError(append(errs, errors.Join(closeErrs...))...)
}

// feed deals batches to engine k until the input ends or the run stops. Errors of one
// batch go to the stage's error policy.
func (sp *spread[B, T]) feed(ctx context.Context, k int) error {
	for {
		d, b, ok := sp.deal(ctx, k)
		if !ok {
			return nil
		}
		err := sp.engines[k].Submit(ctx, b)
		var be *BatchError
		if errors.As(err, &be) && !errors.Is(err, gpu.ErrDevice) {
			be.Seq = d.seq // the engine numbers its own batches; the stage numbers them all
			if ferr := sp.sio.Fail(b, err); ferr != nil {
				d.submitted <- ferr
				return ferr
			}
			d.submitted <- errSkipped
			continue
		}
		d.submitted <- err
		if err != nil {
			// The batch is not in flight: a stopped run, a held ring or a device fault
			// dropped it, and it is the stage's to release.
			pipeline.Release(b)
			return err
		}
	}
}

// deal takes the next input batch for engine k and queues its place in the output order.
func (sp *spread[B, T]) deal(ctx context.Context, k int) (*dealt, B, bool) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	// ctx, not only the stage's: when the completer stops on a device fault, a feeder
	// waiting for a batch that will not come (a queue that holds nothing more) must end.
	b, ok := sp.sio.RecvContext(ctx)
	if !ok {
		return nil, b, false
	}
	d := &dealt{seq: sp.next, engine: k, submitted: make(chan error, 1)}
	sp.next++
	select {
	case sp.order <- d:
		return d, b, true
	case <-ctx.Done():
		pipeline.Release(b) // received, and now dropped
		return nil, b, false
	}
}

// complete hands the finished batches downstream in the order they were dealt, adding to
// the stage's busy time as the busiest engine's grows.
func (sp *spread[B, T]) complete(ctx context.Context) error {
	var busy time.Duration
	for d := range sp.order {
		var err error
		select {
		case err = <-d.submitted:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err == errSkipped {
			continue
		}
		if err != nil {
			return err
		}
		v, err := sp.engines[d.engine].Next(ctx)
		if err != nil {
			var be *BatchError
			if errors.As(err, &be) {
				be.Seq = d.seq
			}
			return err
		}
		v.Seq = d.seq
		now := sp.busiest()
		sp.sio.AddBusy(now - busy)
		busy = now
		if err := sp.deliver(sp.sio, v); err != nil {
			return err
		}
	}
	return nil
}

// busiest is the busy time of the busiest engine: the time at least one batch was in flight
// on it, from its slot's acquisition to its hand-over.
func (sp *spread[B, T]) busiest() time.Duration {
	var most time.Duration
	for _, e := range sp.engines {
		most = max(most, e.stats.busyTime())
	}
	return most
}

// extra is the engines' statistics: one engine's plain, several prefixed dev0., dev1., ...
func (sp *spread[B, T]) extra() map[string]float64 {
	if len(sp.engines) == 1 {
		m := sp.engines[0].Stats().Extra()
		m["devices"] = 1
		return m
	}
	m := map[string]float64{"devices": float64(len(sp.engines))}
	for k, e := range sp.engines {
		for key, v := range e.Stats().Extra() {
			m[fmt.Sprintf("dev%d.%s", k, key)] = v
		}
	}
	return m
}

// firstError picks the error that explains the end of the run: a failure rather than the
// cancellation it caused elsewhere.
func firstError(errs ...error) error {
	var cancelled error
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrClosed):
			if cancelled == nil {
				cancelled = err
			}
		default:
			return err
		}
	}
	return cancelled
}
