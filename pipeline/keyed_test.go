package pipeline_test

import (
	"context"
	"slices"
	"testing"

	"github.com/gpupipe/gpupipe/pipeline"
)

type reading struct {
	sensor string
	v      int
}

func TestKeyedScanAndFold(t *testing.T) {
	in := []reading{{"a", 1}, {"b", 5}, {"a", 2}, {"b", 1}, {"c", 7}, {"a", 3}}
	p := pipeline.New()
	x, y := pipeline.Tee(pipeline.FromSlice(p, in))
	key := func(r reading) string { return r.sensor }
	zero := func(string) int { return 0 }
	sum := func(acc int, r reading) (int, error) { return acc + r.v, nil }
	scan := pipeline.Collect(pipeline.KeyedScan(x, key, zero, sum, pipeline.Name("scan")))
	fold := pipeline.Collect(pipeline.KeyedFold(y, key, func(k string) int { return len(k) * 100 }, sum))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	type kv = pipeline.KeyValue[string, int]
	if want := []kv{{"a", 1}, {"b", 5}, {"a", 3}, {"b", 6}, {"c", 7}, {"a", 6}}; !slices.Equal(scan.Value(), want) {
		t.Errorf("scan %v, want %v", scan.Value(), want)
	}
	if want := []kv{{"a", 106}, {"b", 106}, {"c", 107}}; !slices.Equal(fold.Value(), want) {
		t.Errorf("fold %v, want %v", fold.Value(), want)
	}
	if st := statsOf(t, p, "scan"); st.In != 6 || st.Out != 6 {
		t.Errorf("stats %+v", st)
	}
}
