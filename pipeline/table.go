package pipeline

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WriteStats writes stats, as returned by Pipeline.Stats, to w as an aligned text table with
// one row per stage: its workers, items in and out, errors (skipped items and the one that
// stopped the run), retries (Retry) when a stage made any, busy share (Utilization), the times its workers waited for input, for
// room downstream and for order (summed over workers, so they compare with Busy), its input
// queue's fill, the units of work it counted (CountUnits) when a stage counts them, and its
// Extra figures when there are at most four. The bottleneck over the run so far
// (Bottleneck(nil, stats)) is marked with a * and named below the table.
func WriteStats(w io.Writer, stats []StageStats) error {
	units := slices.ContainsFunc(stats, func(s StageStats) bool { return s.Units })
	retries := slices.ContainsFunc(stats, func(s StageStats) bool { return s.Retries > 0 })
	header := []string{"stage", "workers", "in", "out", "errors"}
	if retries {
		header = append(header, "retries")
	}
	header = append(header, "busy", "wait in", "wait out", "wait order", "queue")
	if units {
		header = append(header, "units")
	}
	header = append(header, "extra")
	rows := [][]string{header}
	b, bu, found := Bottleneck(nil, stats)
	for _, s := range stats {
		name := s.Name
		if found && s.Name == b.Name {
			name += " *"
		}
		queue := "-"
		if s.QueueCap > 0 {
			queue = fmt.Sprintf("%d/%d", s.QueueLen, s.QueueCap)
		}
		row := []string{name, strconv.Itoa(s.Workers), intText(s.In), intText(s.Out), intText(s.Errors)}
		if retries {
			row = append(row, intText(s.Retries))
		}
		row = append(row, fmt.Sprintf("%.0f%%", 100*s.Utilization()),
			duration(s.WaitIn), duration(s.WaitOut), duration(s.WaitOrder), queue)
		if units {
			u := "-"
			if s.Units {
				u = intText(s.DoneUnits)
				if s.ErrorUnits > 0 {
					u += fmt.Sprintf(" (%d failed)", s.ErrorUnits)
				}
			}
			row = append(row, u)
		}
		rows = append(rows, append(row, extraFigures(s.Extra)))
	}

	widths := make([]int, len(header))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], len([]rune(cell)))
		}
	}
	var t strings.Builder
	for _, row := range rows {
		var line strings.Builder
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-len([]rune(cell)))
			switch {
			case i == 0 || i == len(row)-1: // names and extra figures: left-aligned
				line.WriteString(cell + pad)
			default:
				line.WriteString(pad + cell)
			}
			if i < len(row)-1 {
				line.WriteString("  ")
			}
		}
		t.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	if found {
		fmt.Fprintf(&t, "* bottleneck: %s, %.0f%% busy\n", b.Name, 100*bu)
	}
	_, err := io.WriteString(w, t.String())
	return err
}

func intText(n int64) string { return strconv.FormatInt(n, 10) }

// duration is short and keeps three significant digits: 0, 850µs, 12.3ms, 4.56s, 2m3s.
func duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', decimals(float64(d)/float64(time.Millisecond)), 64) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', decimals(d.Seconds()), 64) + "s"
	}
	return d.Round(time.Second).String()
}

func decimals(v float64) int {
	switch {
	case v < 10:
		return 2
	case v < 100:
		return 1
	}
	return 0
}

// extraFigures lists a few Extra figures as "name=value", sorted by name, or says how many
// there are.
func extraFigures(extra map[string]float64) string {
	if len(extra) == 0 {
		return ""
	}
	if len(extra) > 4 {
		return fmt.Sprintf("(%d figures)", len(extra))
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		v, format, prec := extra[k], byte('g'), 4
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			format, prec = 'f', 0
		}
		parts = append(parts, k+"="+strconv.FormatFloat(v, format, prec, 64))
	}
	return strings.Join(parts, " ")
}
