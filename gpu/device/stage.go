package device

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gpupipe/gpupipe/gpu"
	"github.com/gpupipe/gpupipe/pipeline"
)

// Stage adds a pipeline stage that spreads batches over several devices: one gpu.Engine per
// device, each keeping opts.Slots batches in flight. Each device has a feeder goroutine that
// takes the next input batch as soon as its device has accepted the previous one, so a
// device that finishes sooner takes more batches. Finished batches go downstream in input
// order, and their Done.Seq numbers them across all devices.
//
// Order bounds how far a fast device can run ahead of a slow one: a finished batch keeps its
// slot (its output is the slot's pinned buffer) until it has been handed downstream and
// released, so a device finishes at most its slots' worth of batches past the oldest
// unfinished one. With equal GPUs, the usual case, this costs nothing; a much slower device
// slows the others down to a few times its own pace.
//
// newWork is called once per device before any batch runs: a Work usually holds kernels
// resolved on its device. The Works of different devices run concurrently.
//
// It behaves as gpu.Stage otherwise: consumers must Release every *gpu.Done; a batch whose
// Work fails (sizes, pack, enqueue, a slot that cannot grow) goes through the stage's error
// policy; a device fault on any device stops the run with a *gpu.BatchError. On every end
// the stage waits for all devices' work in flight and frees the engines. Its statistics
// carry each engine's figures, prefixed dev0., dev1., ..., in StageStats.Extra; its busy
// time is its busiest engine's.
func Stage[B any](in *pipeline.Stream[B], devs []gpu.Device, newWork func(gpu.Device) (gpu.Work[B], error),
	opts gpu.EngineOptions, popts ...pipeline.Option) *pipeline.Stream[*gpu.Done[B]] {
	popts = append(popts[:len(popts):len(popts)], pipeline.Workers(1))
	return pipeline.Custom(in, func(ctx context.Context, sio *pipeline.IO[B, *gpu.Done[B]]) error {
		engines, err := newEngines(devs, newWork, opts)
		if err != nil {
			return err
		}
		sp := &spread[B]{engines: engines, sio: sio, order: make(chan *dealt, len(engines)*(max(opts.Slots, 2)+1))}
		sio.SetExtra(sp.extra)
		return sp.run(ctx)
	}, popts...)
}

// newEngines makes one engine per device, or none and an error.
func newEngines[B any](devs []gpu.Device, newWork func(gpu.Device) (gpu.Work[B], error), opts gpu.EngineOptions) ([]*gpu.Engine[B], error) {
	if len(devs) == 0 || newWork == nil {
		return nil, errors.New("device: Stage needs at least one device and a Work constructor")
	}
	engines := make([]*gpu.Engine[B], 0, len(devs))
	fail := func(err error) ([]*gpu.Engine[B], error) {
		for _, e := range engines {
			err = errors.Join(err, e.Close())
		}
		return nil, err
	}
	for i, d := range devs {
		w, err := newWork(d)
		if err != nil {
			return fail(fmt.Errorf("device: Work for device %d (%s): %w", i, d.Name(), err))
		}
		e, err := gpu.NewEngine(d, w, opts)
		if err != nil {
			return fail(fmt.Errorf("device: engine for device %d (%s): %w", i, d.Name(), err))
		}
		engines = append(engines, e)
	}
	return engines, nil
}

// spread runs the engines: one feeder goroutine per engine takes input batches and submits
// them; the stage's own goroutine hands them downstream in input order.
type spread[B any] struct {
	engines []*gpu.Engine[B]
	sio     *pipeline.IO[B, *gpu.Done[B]]

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

func (sp *spread[B]) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var feeders sync.WaitGroup
	errs := make([]error, len(sp.engines)+1)
	for k := range sp.engines {
		feeders.Add(1)
		go func() {
			defer feeders.Done()
			if errs[k] = sp.feed(ctx, k); errs[k] != nil {
				cancel()
			}
		}()
	}
	go func() {
		feeders.Wait()
		close(sp.order)
	}()
	if errs[len(sp.engines)] = sp.complete(ctx); errs[len(sp.engines)] != nil {
		cancel()
	}
	feeders.Wait()
	var closeErrs []error
	for _, e := range sp.engines {
		closeErrs = append(closeErrs, e.Close())
	}
	return firstError(append(errs, errors.Join(closeErrs...))...)
}

// feed deals batches to engine k until the input ends or the run stops.
func (sp *spread[B]) feed(ctx context.Context, k int) error {
	for {
		d, b, ok := sp.deal(ctx, k)
		if !ok {
			return nil
		}
		err := sp.engines[k].Submit(ctx, b)
		var be *gpu.BatchError
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
			return err
		}
	}
}

// deal takes the next input batch for engine k and queues its place in the output order.
func (sp *spread[B]) deal(ctx context.Context, k int) (*dealt, B, bool) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	b, ok := sp.sio.Recv()
	if !ok {
		return nil, b, false
	}
	d := &dealt{seq: sp.next, engine: k, submitted: make(chan error, 1)}
	sp.next++
	select {
	case sp.order <- d:
		return d, b, true
	case <-ctx.Done():
		return nil, b, false
	}
}

// complete hands the finished batches downstream in the order they were dealt.
func (sp *spread[B]) complete(ctx context.Context) error {
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
		done, err := sp.engines[d.engine].Next(ctx)
		if err != nil {
			var be *gpu.BatchError
			if errors.As(err, &be) {
				be.Seq = d.seq
			}
			return err
		}
		done.Seq = d.seq
		now := sp.busiest()
		sp.sio.AddBusy(now - busy)
		busy = now
		if err := sp.sio.Send(done); err != nil {
			done.Release()
			return err
		}
	}
	return nil
}

func (sp *spread[B]) busiest() time.Duration {
	var most time.Duration
	for _, e := range sp.engines {
		most = max(most, e.Stats().Busy)
	}
	return most
}

// extra merges the engines' statistics.
func (sp *spread[B]) extra() map[string]float64 {
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
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, gpu.ErrEngineClosed):
			if cancelled == nil {
				cancelled = err
			}
		default:
			return err
		}
	}
	return cancelled
}
