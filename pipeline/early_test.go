package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
)

// runWithin runs p and fails the test when Run has not returned within d; it then cancels
// the run so that the test ends either way.
func runWithin(t *testing.T, p *pipeline.Pipeline, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Errorf("Run has not returned after %v", d)
		cancel()
		return <-done
	}
}

// A Custom stage that returns while its input is still open must not hang the run: its
// producers are told to stop (their context is cancelled), and Run returns nil (issue 10).
func TestCustomReturningEarlyDoesNotHang(t *testing.T) {
	p := pipeline.New()
	var srcErr error
	src := pipeline.Generate(p, func(ctx context.Context, emit func(int) error) error {
		for i := 0; ; i++ { // endless: only a cancellation stops it
			if err := emit(i); err != nil {
				srcErr = err
				return err
			}
		}
	}, pipeline.Name("src"))
	doubled := pipeline.Map(src, double, pipeline.Workers(2), pipeline.Name("double"))
	first := pipeline.Custom(doubled, func(ctx context.Context, io *pipeline.IO[int, int]) error {
		for range 3 {
			x, ok := io.Recv()
			if !ok {
				return nil
			}
			if err := io.Send(x); err != nil {
				return err
			}
		}
		return nil // stops reading while "double" still sends
	}, pipeline.Name("first3"), pipeline.Buffer(1))
	out := pipeline.Collect(first)
	if err := runWithin(t, p, 5*time.Second); err != nil {
		t.Fatalf("Run returned %v, want nil", err)
	}
	if got := out.Value(); len(got) != 3 {
		t.Errorf("collected %v, want 3 items", got)
	}
	if srcErr == nil {
		t.Errorf("the source was not told to stop")
	}
	for _, st := range p.Stats() {
		if !st.Done {
			t.Errorf("stage %s has not finished", st.Name)
		}
	}
}
