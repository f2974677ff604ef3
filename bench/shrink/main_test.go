package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gpupipe/gpupipe/internal/samples"
	"github.com/gpupipe/gpupipe/stages/imageio"
)

// A larger decode margin must choose a smaller shrink factor and give a thumbnail closer to
// the full-size reference: the measurement the decoder's margin rests on.
func TestMarginsOrderQualityAndScale(t *testing.T) {
	if err := imageio.TurboJPEG(); err != nil {
		t.Skip("libjpeg-turbo is not loaded:", err)
	}
	dir := t.TempDir()
	for i, wh := range [][2]int{{1600, 1200}, {1200, 1600}} {
		if _, err := samples.Write(dir, samples.Options{Count: 1, Width: wh[0], Height: wh[1], Seed: int64(i), Prefix: "p" + string(rune('a'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	sums, err := run(&out, dir, 128, []float64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 2 || sums[0].Photos != 2 {
		t.Fatalf("summaries %+v, want two over two photos", sums)
	}
	if !(sums[1].MeanPSNR > sums[0].MeanPSNR+1) || sums[1].MeanPSNR < 40 {
		t.Errorf("margin 2: %.2f dB, margin 1: %.2f dB; want margin 2 above 40 dB and clearly better", sums[1].MeanPSNR, sums[0].MeanPSNR)
	}
	// 1600×1200 to 128×96: margin 1 leaves 1/8 (200×150), margin 2 needs 256×192: 1/4.
	scales := map[string]int{}
	dec := json.NewDecoder(&out)
	for dec.More() {
		var l struct {
			Margin any `json:"margin"` // a string on photo lines, a number on summaries
			Scale  int `json:"scale"`
		}
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		if m, ok := l.Margin.(string); ok && l.Scale != 0 {
			scales[m] = max(scales[m], l.Scale)
		}
	}
	if scales["1"] != 8 || scales["2"] != 4 {
		t.Errorf("shrink factors %v, want 8 for margin 1 and 4 for margin 2", scales)
	}
}
