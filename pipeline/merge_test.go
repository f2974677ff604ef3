package pipeline_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gpupipe/gpupipe/pipeline"
)

func TestMergeKeepsEveryItemAndEachInputsOrder(t *testing.T) {
	p := pipeline.New()
	a := pipeline.FromSlice(p, ints(1000))
	b := pipeline.Map(pipeline.FromSlice(p, ints(500)), func(_ context.Context, x int) (int, error) { return 10000 + x, nil })
	c := pipeline.Generate(p, func(ctx context.Context, emit func(int) error) error {
		for i := range 50 {
			time.Sleep(20 * time.Microsecond)
			if err := emit(20000 + i); err != nil {
				return err
			}
		}
		return nil
	})
	out := pipeline.Collect(pipeline.Merge([]*pipeline.Stream[int]{a, b, c}, pipeline.Name("merge")))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var fromA, fromB, fromC []int
	for _, x := range out.Value() {
		switch {
		case x >= 20000:
			fromC = append(fromC, x-20000)
		case x >= 10000:
			fromB = append(fromB, x-10000)
		default:
			fromA = append(fromA, x)
		}
	}
	if !slices.Equal(fromA, ints(1000)) || !slices.Equal(fromB, ints(500)) || !slices.Equal(fromC, ints(50)) {
		t.Errorf("an input lost items or their order: %d %d %d items", len(fromA), len(fromB), len(fromC))
	}
	if st := statsOf(t, p, "merge"); st.In != 1550 || st.Out != 1550 || st.Workers != 3 || st.QueueCap != 6 {
		t.Errorf("merge stats %+v", st)
	}
}

func TestMergeOfOneAndOfEmptyInputs(t *testing.T) {
	p := pipeline.New()
	one := pipeline.Collect(pipeline.Merge([]*pipeline.Stream[int]{pipeline.FromSlice(p, ints(5))}))
	empty := pipeline.Collect(pipeline.Merge([]*pipeline.Stream[int]{pipeline.FromSlice(p, ints(0)), pipeline.FromSlice(p, ints(0))}))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(one.Value(), ints(5)) || len(empty.Value()) != 0 {
		t.Errorf("one %v, empty %v", one.Value(), empty.Value())
	}
}

// When the run fails, Merge releases the items it took and could not hand on, and its queues
// are drained: every item is released once, by the consumer or by the pipeline.
func TestMergeReleasesWhatItDrops(t *testing.T) {
	var subs []*tally
	p := pipeline.New()
	var ins []*pipeline.Stream[token]
	for k := range 3 {
		sub := newTally(2000)
		subs = append(subs, sub)
		ins = append(ins, endless(p, sub, "src"+string(rune('a'+k))))
	}
	takeThenFail(pipeline.Merge(ins, pipeline.Buffer(4)), 100, "sink")
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "enough") {
		t.Fatalf("Run returned %v", err)
	}
	for _, sub := range subs {
		sub.checkAll(t)
	}
}
