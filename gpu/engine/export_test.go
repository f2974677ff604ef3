package engine

// BreakSlotReuse makes e recycle every slot as soon as its batch is enqueued, before its
// event completes and before its consumer releases it: the bug the engine's correctness
// test must catch. More batches than slots can then be in flight, so the queue of batches
// in flight gets room for them (call it before the first Submit).
func BreakSlotReuse[B any](e *Engine[B]) {
	e.reuseEarly = true
	e.inflight = make(chan flight[B], 1<<12)
}
