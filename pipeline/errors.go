package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
)

// Labeler is implemented by items that can say what they are, such as a file path. Errors
// about an item use its label; items without one are named by fmt.Stringer if they implement
// it, and otherwise not at all.
type Labeler interface {
	Label() string
}

// StageError is the failure of one stage, usually on one item.
type StageError struct {
	Stage string // the stage's name
	// Item is the input item that failed; nil for failures not tied to an item. The pipeline
	// releases it (see "Dropped items" in the package documentation) once the SkipErrors
	// handler has returned, or before Run returns the error.
	Item any
	Err  error // what went wrong; a *PanicError when the user function panicked
}

func (e *StageError) Error() string {
	// Errors that already start with the item's name (as file errors start with the path)
	// are not prefixed with it again.
	if label := itemLabel(e.Item); label != "" && !strings.HasPrefix(e.Err.Error(), label) {
		return fmt.Sprintf("stage %q: item %q: %v", e.Stage, label, e.Err)
	}
	return fmt.Sprintf("stage %q: %v", e.Stage, e.Err)
}

func (e *StageError) Unwrap() error { return e.Err }

// ItemLabel is the item's label (see Labeler), or "" when the item has none.
func (e *StageError) ItemLabel() string { return itemLabel(e.Item) }

func itemLabel(item any) string {
	switch v := item.(type) {
	case nil:
		return ""
	case Labeler:
		return v.Label()
	case fmt.Stringer:
		return v.String()
	}
	return ""
}

// PanicError is a panic in a user function, recovered so that the process does not crash.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the goroutine's stack where the panic happened
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("panic: %v\n\n%s", e.Value, e.Stack)
}

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Fatal marks err as fatal: it stops the run even in a stage with SkipErrors. Use it for a
// failure that later items cannot avoid either, such as a full disk. The run returns a
// *StageError wrapping err itself.
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	return &fatalError{err}
}

type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// ErrAlreadyRun is returned by a second call to Run.
var ErrAlreadyRun = errors.New("pipeline: Run called twice")

// recovered turns a recovered panic value into an error.
func recovered(v any) error {
	return &PanicError{Value: v, Stack: debug.Stack()}
}

// call1 runs fn(ctx, x), turning a panic into a *PanicError.
func call1[T, R any](fn func(context.Context, T) (R, error), ctx context.Context, x T) (r R, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = recovered(v)
		}
	}()
	return fn(ctx, x)
}

// isCancel reports whether err is the context's own cancellation rather than a failure.
func isCancel(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}
