package pipeline_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/gpupipe/gpupipe/pipeline"
)

func add(acc, x int) (int, error) { return acc + x, nil }

func TestScanEmitsEveryStepAndFoldTheEnd(t *testing.T) {
	p := pipeline.New()
	a, b := pipeline.Tee(pipeline.FromSlice(p, []int{1, 2, 3, 4}))
	scan := pipeline.Collect(pipeline.Scan(a, 0, add, pipeline.Name("scan")))
	fold := pipeline.Collect(pipeline.Fold(b, 100, add))
	empty := pipeline.Collect(pipeline.Fold(pipeline.FromSlice(p, ints(0)), 7, add))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(scan.Value(), []int{1, 3, 6, 10}) || !slices.Equal(fold.Value(), []int{110}) || !slices.Equal(empty.Value(), []int{7}) {
		t.Errorf("scan %v fold %v empty %v", scan.Value(), fold.Value(), empty.Value())
	}
	if st := statsOf(t, p, "scan"); st.In != 4 || st.Out != 4 {
		t.Errorf("stats %+v", st)
	}
}

// A failed step leaves the accumulator as it was under SkipErrors, and stops the run
// otherwise, in which case Fold emits nothing.
func TestScanFoldErrors(t *testing.T) {
	bad := errors.New("bad")
	fn := func(acc, x int) (int, error) {
		if x == 2 {
			return 0, bad
		}
		return acc + x, nil
	}
	p := pipeline.New()
	out := pipeline.Collect(pipeline.Scan(pipeline.FromSlice(p, []int{1, 2, 3}), 0, fn, pipeline.SkipErrors(nil)))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Value(), []int{1, 4}) {
		t.Errorf("scan with a skipped item: %v", out.Value())
	}
	p = pipeline.New()
	out = pipeline.Collect(pipeline.Fold(pipeline.FromSlice(p, []int{1, 2, 3}), 0, fn))
	if err := p.Run(context.Background()); !errors.Is(err, bad) || len(out.Value()) != 0 {
		t.Errorf("fold that fails: %v, emitted %v", err, out.Value())
	}
}

func TestFlatten(t *testing.T) {
	p := pipeline.New()
	out := pipeline.Collect(pipeline.Flatten(pipeline.FromSlice(p, [][]int{{1, 2}, {3}, nil, {4, 5}})))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Value(), []int{1, 2, 3, 4, 5}) {
		t.Errorf("got %v", out.Value())
	}
}
