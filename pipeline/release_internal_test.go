package pipeline

import (
	"io"
	"reflect"
	"testing"
)

type withRelease struct{}

func (*withRelease) Release() {}

// The type of a stage's items is examined once: stages whose items hold nothing to release
// get no release function, and so no work per item.
func TestDropperOnlyForReleasableTypes(t *testing.T) {
	s := &stage{p: New()}
	none := []bool{
		dropper[int](s) == nil,
		dropper[string](s) == nil,
		dropper[[]byte](s) == nil,
		dropper[[][]float32](s) == nil,
		dropper[struct{ r *withRelease }](s) == nil, // fields are not looked into
		dropper[withRelease](s) == nil,              // Release has a pointer receiver
	}
	some := []bool{
		dropper[*withRelease](s) != nil,
		dropper[[]*withRelease](s) != nil,
		dropper[[4][]*withRelease](s) != nil,
		dropper[io.ReadCloser](s) != nil,
		dropper[any](s) != nil,
	}
	for i, ok := range none {
		if !ok {
			t.Errorf("case %d of the plain types has a release function", i)
		}
	}
	for i, ok := range some {
		if !ok {
			t.Errorf("case %d of the releasable types has no release function", i)
		}
	}
}

type recursive []recursive

func TestRecursiveSliceTypeTerminates(t *testing.T) {
	if holdsReleasable(reflect.TypeFor[recursive](), nil) {
		t.Error("a recursive slice of nothing releasable holds something")
	}
	Release(recursive{{}, {{}}})
}
