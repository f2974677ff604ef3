package progress

import (
	"fmt"

	"github.com/cheggaaa/pb/v3"
)

// bars draws two live lines on a terminal: the items bar and the per-stage line.
type bars struct {
	pool   *pb.Pool
	main   *pb.ProgressBar
	stages *pb.ProgressBar
}

const (
	mainTemplate   = `{{string . "unit"}} {{counters . }} {{bar . }} {{percent . }} {{speed . "%s/s" "?/s"}} {{rtime . "ETA %s" "in %s" "ETA ?"}}`
	stagesTemplate = `{{string . "stages"}}`
)

func newBars(opts Options) (*bars, error) {
	b := &bars{
		main:   pb.New64(opts.Total).SetTemplateString(mainTemplate).Set("unit", opts.Unit),
		stages: pb.New64(0).SetTemplateString(stagesTemplate),
	}
	b.main.SetWriter(opts.Output)
	b.stages.SetWriter(opts.Output)
	b.pool = pb.NewPool(b.main, b.stages)
	b.pool.Output = opts.Output
	if err := b.pool.Start(); err != nil {
		return nil, fmt.Errorf("progress bars: %w", err)
	}
	return b, nil
}

func (b *bars) update(s snapshot) {
	if s.total > 0 {
		b.main.SetTotal(s.total)
	}
	b.main.SetCurrent(s.done)
	b.stages.Set("stages", s.stagesText())
}

func (b *bars) finish(s snapshot) {
	b.update(s)
	b.main.Finish()
	b.stages.Finish()
	b.pool.Stop()
}
