package progress

import (
	"fmt"
	"io"
	"time"
)

// lines prints one plain line per update: for logs and pipes, where a redrawn bar would be
// a mess of escape codes.
type lines struct {
	w    io.Writer
	unit string
}

func (l *lines) update(s snapshot) {
	fmt.Fprintf(l.w, "[%s] %s | %s\n", clock(s.elapsed), l.counts(s), s.stagesText())
}

func (l *lines) finish(s snapshot, status string) {
	fmt.Fprintf(l.w, "[%s] %s: %s | %s\n", clock(s.elapsed), status, l.counts(s), s.stagesText())
}

func (l *lines) write(p []byte) { l.w.Write(p) }

// counts is "1234/5000 images (24.7%) 350.2/s ETA 0:11".
func (l *lines) counts(s snapshot) string {
	rate := 0.0
	if secs := s.elapsed.Seconds(); secs > 0 {
		rate = float64(s.done) / secs
	}
	if s.total <= 0 {
		return fmt.Sprintf("%d %s %.1f/s", s.done, l.unit, rate)
	}
	text := fmt.Sprintf("%d/%d %s (%.1f%%) %.1f/s", s.done, s.total, l.unit, 100*float64(s.done)/float64(s.total), rate)
	if left := s.total - s.done; left > 0 && rate > 0 {
		text += " ETA " + clock(time.Duration(float64(left)/rate*float64(time.Second)))
	}
	return text
}

// clock formats a duration as h:mm:ss or m:ss.
func clock(d time.Duration) string {
	secs := int64(d.Round(time.Second) / time.Second)
	if secs >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	}
	return fmt.Sprintf("%d:%02d", secs/60, secs%60)
}
