// Package pipeline runs typed, concurrent stages joined by bounded queues.
//
// # Building and running
//
// A pipeline is built first and run once:
//
//	p := pipeline.New()
//	paths := pipeline.FromSlice(p, files)
//	images := pipeline.Map(paths, decode, pipeline.Workers(4), pipeline.Name("decode"))
//	pipeline.ForEach(images, save, pipeline.Workers(2))
//	err := p.Run(ctx)
//
// Every stage function takes the stream of the stage before it and returns its own. Each
// stream must be consumed by exactly one stage; Run refuses a graph with a loose end. Nothing
// runs until Run, and every goroutine has ended when Run returns.
//
// # Stages
//
// Sources: FromSlice, FromChan, FromSeq, Generate. Transforms: Map (unordered, parallel),
// OrderedMap (parallel, input order, bounded reorder window), Filter, FlatMap, Batch (size and
// time limits), Unbatch. Sinks: ForEach, Collect, Reduce, Discard. Custom builds stages that
// manage their own input and output, such as the GPU engine in package gpu.
//
// # Queues and backpressure
//
// Each stage has an input queue of capacity Buffer (default twice its workers). A stage whose
// downstream is slow blocks on a full queue, so a producer runs at most Buffer + Workers items
// ahead of a slow consumer, and memory depends on the queue sizes, never on the number of
// items.
//
// # Errors and cancellation
//
// User functions return errors. By default the first error cancels the run and Run returns
// it as a *StageError that names the stage and, when the item has a Label or String method,
// the item. With SkipErrors the failing item is dropped, passed to a handler and counted, and
// the run goes on. A panic in a user function becomes a *PanicError with its stack. When the
// context given to Run is cancelled, every stage stops promptly and Run returns ctx.Err().
//
// # Statistics
//
// Stats returns, for every stage and at any time, the items in and out, the errors, the time
// spent in the user function (busy), blocked on input, and blocked on a full downstream
// queue, and the input queue's length and capacity. Bottleneck compares two snapshots and
// names the stage whose workers were busiest: the one that limits throughput.
package pipeline
