package pipeline

import (
	"context"
	"reflect"
)

// The dropped-item rule: an item the pipeline holds and will not deliver downstream is
// released, once, by the pipeline. Which items that covers is described in the package
// documentation ("Dropped items"); this file holds the machinery.

type (
	releaser    interface{ Release() }
	errCloser   interface{ Close() error }
	plainCloser interface{ Close() }
)

var (
	releaserType    = reflect.TypeFor[releaser]()
	errCloserType   = reflect.TypeFor[errCloser]()
	plainCloserType = reflect.TypeFor[plainCloser]()
)

// Release frees an item that will not be delivered, as the pipeline does with the items it
// drops: it calls the item's Release method, or else its Close method (an error from Close
// is ignored), or else, when the item is a slice or an array, does the same for each
// element. Nil items and nil pointers are left alone; other items are left alone too.
//
// Custom stages and adapters call it for the items they take from the pipeline and then
// drop; user functions of the other stages never need to.
func Release(item any) {
	switch x := item.(type) {
	case nil:
	case releaser:
		if !isNilPointer(x) {
			x.Release()
		}
	case errCloser:
		if !isNilPointer(x) {
			_ = x.Close()
		}
	case plainCloser:
		if !isNilPointer(x) {
			x.Close()
		}
	default:
		v := reflect.ValueOf(item)
		if k := v.Kind(); (k == reflect.Slice || k == reflect.Array) && holdsReleasable(v.Type().Elem(), nil) {
			for i := range v.Len() {
				Release(v.Index(i).Interface())
			}
		}
	}
}

func isNilPointer(x any) bool {
	v := reflect.ValueOf(x)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// holdsReleasable reports whether a value of type t may need releasing: t has a Release or
// Close method, is an interface (whose dynamic values may), or is a slice or array of such.
func holdsReleasable(t reflect.Type, seen map[reflect.Type]bool) bool {
	switch {
	case t.Kind() == reflect.Interface,
		t.Implements(releaserType), t.Implements(errCloserType), t.Implements(plainCloserType):
		return true
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		if seen[t] { // a recursive type such as type s []s
			return false
		}
		if seen == nil {
			seen = map[reflect.Type]bool{}
		}
		seen[t] = true
		return holdsReleasable(t.Elem(), seen)
	}
	return false
}

// failed applies the stage's error policy to item x, whose function returned err, then
// releases x: a failed item is the pipeline's, whatever the policy decides. It returns the
// error that stops the stage, or nil when x was skipped.
func failed[T any](ctx context.Context, s *stage, c *counters, x T, count func(T) int, drop func(T), err error) error {
	err = s.itemError(ctx, c, x, unitsOf(count, x), err)
	if drop != nil {
		drop(x)
	}
	return err
}

// dropper returns the function that releases a dropped T for stage s, or nil when no T can
// hold anything to release. The type is examined once, when the stage is built, so stages
// whose items have nothing to release pay nothing per item. A panic in a Release or Close
// method fails the run.
func dropper[T any](s *stage) func(T) {
	if !holdsReleasable(reflect.TypeFor[T](), nil) {
		return nil
	}
	return func(x T) { s.release(x) }
}

// release releases an item of any type for stage s, as dropper's functions do.
func (s *stage) release(item any) {
	defer func() {
		if v := recover(); v != nil {
			s.p.fail(s, context.Background(), recovered(v))
		}
	}()
	Release(item)
}

// dropAll releases the items of xs with drop, which may be nil.
func dropAll[T any](drop func(T), xs []T) {
	if drop == nil {
		return
	}
	for _, x := range xs {
		drop(x)
	}
}

// drainInput makes the stage release, once it has ended, the items left in its input queue
// (in each of them, for a stage with several). The queue's producer closes it once its own
// workers have returned, which they do promptly once the run is cancelled or once the stage
// has stopped reading (see "Stages that stop early" in the package documentation), and a
// stage ends with items still queued only then.
func drainInput[T any](s *stage, ch <-chan T) {
	drop := dropper[T](s)
	if drop == nil {
		return
	}
	prev := s.drain // a stage with several inputs drains each
	s.drain = func() {
		if prev != nil {
			prev()
		}
		for x := range ch {
			drop(x)
		}
	}
}
