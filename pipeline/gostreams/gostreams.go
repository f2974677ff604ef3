// Package gostreams connects typed gpupipe pipelines with github.com/reugn/go-streams.
//
// go-streams passes untyped values over unbuffered channels and has no errors or contexts;
// gpupipe stages are typed, bounded, cancellable and fail with errors. The adapters here
// translate at the boundary:
//
//   - From feeds a pipeline from a go-streams Source or Flow.
//   - To feeds a go-streams Sink from a pipeline, and ends only when the sink has finished.
//   - NewFlow wraps a typed pipeline segment as a go-streams Flow, so it can sit between
//     go-streams operators.
//
// A value of the wrong type is an error that stops the pipeline, never a panic. When a
// pipeline stops early (an error or a cancellation), the adapters keep draining their
// go-streams input until it is closed, because go-streams goroutines upstream block forever
// on unbuffered sends that nobody receives. The values they drop are released as the
// pipeline releases its dropped items (pipeline.Release).
package gostreams

import (
	"context"
	"fmt"

	"github.com/reugn/go-streams"

	"github.com/gpupipe/gpupipe/pipeline"
)

// From is a source stage that emits the values of src, each of which must be a T. When the
// run ends before src does, a goroutine goes on receiving src's values, releasing them
// (pipeline.Release), until src closes its output, so that go-streams goroutines upstream
// can finish.
func From[T any](p *pipeline.Pipeline, src streams.Outlet, opts ...pipeline.Option) *pipeline.Stream[T] {
	return pipeline.Generate(p, func(ctx context.Context, emit func(T) error) error {
		out := src.Out()
		for {
			select {
			case v, ok := <-out:
				if !ok {
					return nil
				}
				x, isT := v.(T)
				if !isT {
					pipeline.Release(v)
					go drain(out)
					return fmt.Errorf("gostreams: received a %T where a %T was expected", v, x)
				}
				if err := emit(x); err != nil {
					go drain(out)
					return err
				}
			case <-ctx.Done():
				go drain(out)
				return ctx.Err()
			}
		}
	}, opts...)
}

func drain(ch <-chan any) {
	for v := range ch {
		pipeline.Release(v)
	}
}

// To is a sink stage that sends every item to sink and then closes the sink's input. The
// stage, and so the pipeline's Run, ends only after sink.AwaitCompletion has returned. When
// the run stops early the sink's input is closed all the same, so the sink can finish, and
// the item it could not send is released.
func To[T any](in *pipeline.Stream[T], sink streams.Sink, opts ...pipeline.Option) {
	done := pipeline.Custom(in, func(ctx context.Context, io *pipeline.IO[T, struct{}]) error {
		defer sink.AwaitCompletion()
		defer close(sink.In())
		for {
			x, ok := io.Recv()
			if !ok {
				return nil
			}
			select {
			case sink.In() <- x:
			case <-ctx.Done():
				pipeline.Release(x)
				return ctx.Err()
			}
		}
	}, append(opts, pipeline.Workers(1))...) // one goroutine: it closes the sink's input
	pipeline.Discard(done, pipeline.Name(done.Stage()+"/done"))
}

// Flow is a typed pipeline segment that acts as a go-streams Flow: values sent to In are
// checked to be T and processed by the segment, and its results come out of Out. It runs in
// its own goroutines from the moment it is made until In is closed and the segment has
// drained, or until its context is cancelled.
type Flow[T, R any] struct {
	in   chan any
	out  chan any
	done chan struct{}
	p    *pipeline.Pipeline
	err  error
}

var _ streams.Flow = (*Flow[any, any])(nil)

// NewFlow builds a Flow around the segment that build makes from the input stream. opts apply
// to the input stage. The segment runs until In is closed or ctx is cancelled; Wait returns
// its error.
func NewFlow[T, R any](ctx context.Context, build func(in *pipeline.Stream[T]) *pipeline.Stream[R], opts ...pipeline.Option) *Flow[T, R] {
	f := &Flow[T, R]{in: make(chan any), out: make(chan any), done: make(chan struct{}), p: pipeline.New()}
	src := From[T](f.p, inlet(f.in), opts...)
	pipeline.ForEach(build(src), func(ctx context.Context, r R) error {
		select {
		case f.out <- r:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, pipeline.Name("gostreams-out"))
	go func() {
		f.err = f.p.Run(ctx)
		close(f.out)
		close(f.done)
	}()
	return f
}

// inlet presents a channel as a go-streams Outlet.
type inlet chan any

func (c inlet) Out() <-chan any { return c }

// In returns the channel to send the flow's input to; close it when done.
func (f *Flow[T, R]) In() chan<- any { return f.in }

// Out returns the channel of results; it is closed when the flow has finished.
func (f *Flow[T, R]) Out() <-chan any { return f.out }

// Via streams the flow's results into next and returns next.
func (f *Flow[T, R]) Via(next streams.Flow) streams.Flow {
	go f.transmit(next)
	return next
}

// To streams the flow's results into sink and blocks until the sink has finished.
func (f *Flow[T, R]) To(sink streams.Sink) {
	f.transmit(sink)
	sink.AwaitCompletion()
}

func (f *Flow[T, R]) transmit(next streams.Inlet) {
	for v := range f.out {
		next.In() <- v
	}
	close(next.In())
}

// Wait blocks until the flow has finished and returns its error: nil, the first stage
// error, or the context's error.
func (f *Flow[T, R]) Wait() error {
	<-f.done
	return f.err
}

// Pipeline returns the flow's pipeline, for its statistics.
func (f *Flow[T, R]) Pipeline() *pipeline.Pipeline { return f.p }
