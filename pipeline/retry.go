package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// RetryPolicy says how a stage retries an item whose function failed (see Retry).
type RetryPolicy struct {
	// Attempts is how many times the function may be called for one item, the first call
	// included. 0 and 1 mean no retry.
	Attempts int
	// Base is the delay before the first retry; each later retry waits twice as long as the
	// one before, up to Max. 0 retries at once.
	Base time.Duration
	// Max caps one delay; 0 means no cap.
	Max time.Duration
	// Jitter, from 0 to 1, shortens each delay by a random fraction of up to Jitter, so that
	// items that failed together are not retried together. 0 keeps the delays exact.
	Jitter float64
	// Transient reports whether a failure is worth retrying. Nil retries every error. Errors
	// marked Fatal, panics and the run's cancellation are never retried.
	Transient func(error) bool
}

// Retry makes the stage call its function again for an item that failed with a transient
// error, waiting between attempts with exponential backoff, before the error policy applies:
// only the last failure is counted as an error, passed to SkipErrors or stops the run, and it
// then reads "after N attempts: …" (errors.Is and errors.As see the function's error). The
// retries are counted in StageStats.Retries; the delays count as the stage's busy time, since
// the worker is held by the item.
//
// Retry applies to the per-item functions of Map, OrderedMap, Filter, FlatMap (for an item
// that has not emitted anything yet: parts already emitted cannot be taken back), ForEach,
// Reduce, Scan, Fold, ZipWith, KeyedScan and KeyedFold. Other stages ignore it.
func Retry(policy RetryPolicy) Option {
	return func(c *config) {
		if policy.Attempts > 1 {
			c.retry = &policy
		} else {
			c.retry = nil
		}
	}
}

// retriedError is the last failure of an item tried several times.
type retriedError struct {
	attempts int
	err      error
}

func (e *retriedError) Error() string { return fmt.Sprintf("after %d attempts: %v", e.attempts, e.err) }
func (e *retriedError) Unwrap() error { return e.err }

// withRetry wraps a stage's per-item function with the stage's retry policy, if it has one.
// Panics are not caught here: they leave at once, to the caller's guard.
func withRetry[T, R any](s *stage, fn func(context.Context, T) (R, error)) func(context.Context, T) (R, error) {
	if s.cfg.retry == nil {
		return fn
	}
	return func(ctx context.Context, x T) (R, error) {
		for attempt := 1; ; attempt++ {
			r, err := fn(ctx, x)
			if err == nil {
				return r, nil
			}
			if err = s.retryAfter(ctx, attempt, err, true); err != nil {
				return r, err
			}
		}
	}
}

// withRetryFlat is withRetry for FlatMap's function: an item that has emitted a result is
// not tried again.
func withRetryFlat[T, R any](s *stage, fn func(context.Context, T, func(R) error) error) func(context.Context, T, func(R) error) error {
	if s.cfg.retry == nil {
		return fn
	}
	return func(ctx context.Context, x T, emit func(R) error) error {
		emitted := false
		tracked := func(r R) error {
			emitted = true
			return emit(r)
		}
		for attempt := 1; ; attempt++ {
			err := fn(ctx, x, tracked)
			if err == nil {
				return nil
			}
			if err = s.retryAfter(ctx, attempt, err, !emitted); err != nil {
				return err
			}
		}
	}
}

// retryAfter decides what follows the attempt-th failed call, which failed with err: it
// waits and returns nil when the item is to be tried again, or returns the error to report.
func (s *stage) retryAfter(ctx context.Context, attempt int, err error, may bool) error {
	p := s.cfg.retry
	var fatal *fatalError
	if !may || attempt >= p.Attempts || ctx.Err() != nil || errors.As(err, &fatal) ||
		(p.Transient != nil && !p.Transient(err)) {
		if attempt > 1 && !isCancel(ctx, err) {
			return &retriedError{attempts: attempt, err: err}
		}
		return err
	}
	s.retries.Add(1)
	if d := p.delay(attempt); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	return nil
}

// delay is the wait after the attempt-th failure: Base × 2^(attempt−1), at most Max,
// shortened by up to Jitter of itself.
func (p *RetryPolicy) delay(attempt int) time.Duration {
	d := p.Base
	for i := 1; i < attempt && (p.Max <= 0 || d < p.Max) && d < time.Hour; i++ {
		d *= 2
	}
	if p.Max > 0 {
		d = min(d, p.Max)
	}
	if j := min(max(p.Jitter, 0), 1); j > 0 {
		d -= time.Duration(j * rand.Float64() * float64(d))
	}
	return d
}
