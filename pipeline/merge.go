package pipeline

import "context"

// Merge emits the items of every input stream as they arrive, one goroutine per input.
// Items of one input keep their order; items of different inputs interleave as they come.
// The output ends when every input has ended.
//
//	a:   -1---2-------3-|
//	b:   ---x----y-|
//	out: -1-x-2--y----3-|
//
// Each input has its own queue of capacity Buffer (default 2), so a fast input cannot crowd
// out a slow one; the stage's statistics count one worker per input. All inputs must belong
// to one pipeline (Run reports a build error otherwise), and Merge panics without any. An
// item taken from an input that cannot be handed on because the run is ending is released
// (see "Dropped items" in the package documentation).
//
// Cost: one queue hand-over per item, as a Map.
func Merge[T any](ins []*Stream[T], opts ...Option) *Stream[T] {
	oneStage("Merge", ins)
	cfg := newConfig(opts)
	cfg.workers = len(ins)
	s, first := consume(ins[0], "merge", cfg, len(ins))
	queues := []chan T{first}
	for _, in := range ins[1:] {
		queues = append(queues, attach(in, s))
	}
	out := newStream[T](s)
	drop := dropper[T](s)
	count := unitCounter[T](s)
	s.runEach(len(ins), func(ctx context.Context, i int, c *counters) error {
		q, o := queues[i], out.out()
		for {
			x, ok := recv(ctx, q, c, false)
			if !ok {
				return nil
			}
			countDone(c, count, x)
			if !send(ctx, o, x, c, false) {
				if drop != nil {
					drop(x)
				}
				return nil
			}
		}
	}, func() { close(out.ch) })
	return out
}
