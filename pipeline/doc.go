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
// Sources: FromSlice, FromChan, FromSeq, Generate, FromQueue (see "Queues and
// acknowledgements"). Transforms: Map (unordered, parallel),
// OrderedMap (parallel, input order, bounded reorder window), Filter, FlatMap, Batch (size and
// time limits), Unbatch (or Flatten), Scan, Fold, KeyedScan, KeyedFold, Throttle,
// ThrottleDrop, Prioritize (a bounded priority queue). Sinks: ForEach, Collect, Reduce,
// Discard, Items. Custom builds stages that manage their own input and output, such as the
// GPU engine in package gpu.
//
// # Graphs
//
// A pipeline is a graph, not only a chain. Fan-in: Merge (N streams into one), Zip, ZipWith
// and ZipN (the i-th items together). Fan-out: Broadcast and Tee (every item to each branch,
// at the pace of the slowest), RoundRobin (each item to the next branch with room), Partition,
// Split and PartitionByKey (each item to the branch a function, a predicate or a key's hash
// chooses). Every one of them is a stage, with its own queues and statistics, so Stats and
// Bottleneck cover every branch. Each stream still has exactly one consumer, and Run refuses
// a graph with a loose end; a stage consumes only streams made before it, so a graph cannot
// have a cycle. docs/OPERATORS.md sets every go-streams operator beside its counterpart here.
//
// # Windows
//
// TumblingWindowCount and TumblingWindowTime group items into windows that do not overlap;
// SlidingWindowCount and SlidingWindowTime into windows that do; SessionWindow into windows
// that close after a pause. Time is processing time, windows are new slices the consumer
// owns, and MaxWindow bounds the windows that time alone would not.
//
// # Retries
//
// The Retry option makes Map, OrderedMap, Filter, FlatMap, ForEach and the folds call their
// function again for an item that failed with a transient error, with exponential backoff
// and jitter, before the error policy applies. StageStats.Retries counts the extra calls.
//
// # Results as they come
//
// Items ends a pipeline with a sink that the caller ranges over: the range runs the
// pipeline, yields each item as it arrives and Run's error last, in the caller's goroutine.
// Breaking out of the loop cancels the run, which has ended when the loop statement is done.
//
// # Queues and backpressure
//
// Each stage has an input queue of capacity Buffer (default twice its workers). A stage whose
// downstream is slow blocks on a full queue, so a producer runs at most Buffer + Workers items
// ahead of a slow consumer, and memory depends on the queue sizes, never on the number of
// items. Where items differ in size by orders of magnitude, a Budget admits them by bytes
// (acquired in input order, released when an item is done) and BatchWeighted bounds a batch
// by their weight as well as their count.
//
// # Errors and cancellation
//
// User functions return errors. By default the first error cancels the run and Run returns
// it as a *StageError that names the stage and, when the item has a Label or String method,
// the item. With SkipErrors the failing item is passed to a handler, counted and dropped
// (released, see below), and the run goes on. A panic in a user function becomes a *PanicError with its stack. When the
// context given to Run is cancelled, every stage stops promptly and Run returns ctx.Err().
//
// # Dropped items
//
// An item that will not be delivered downstream is dropped, and the pipeline releases it:
// when it has a Release() method, the pipeline calls it; otherwise a Close() error or
// Close() method; a slice (such as a batch made by Batch) has each of its elements released
// that way. Release is called exactly once per dropped item, never on an item that was
// delivered, and nil pointers are left alone. A panic in it fails the run. Items with none
// of these methods cost nothing: each stage examines its item type once, when it is built.
//
// The pipeline drops and releases:
//   - an item whose stage function returned an error (or panicked), whether SkipErrors
//     skipped it or it stopped the run; the SkipErrors handler sees it first, and a
//     *StageError returned by Run holds it already released, so Label and String methods
//     should not need what Release frees;
//   - when the run ends early (cancellation, an error in any stage), the items left in
//     stage queues, an item a worker or a source could not hand on, the items a Batch stage
//     had gathered, the results an OrderedMap holds in its reorder window and the items its
//     workers had not started, the rest of a slice Unbatch was emitting;
//   - the items Filter filters out, and every item Discard receives.
//
// Who owns what: a stage function owns its input once it returns without error (it hands
// it on inside its result, or releases it). When it returns an error the item is still the
// pipeline's: the function must not release it on that path (or its Release must be safe
// to call twice, as a sync.Once makes it). A FlatMap function owns its input once it has
// called emit. Items passed to Generate's emit or a Custom stage's Send are the pipeline's
// from the call on. A Custom function owns the items it received until it sends them or
// gives them back with Fail; FromSlice never releases the caller's items; Collect and
// Reduce results are never released.
//
// # Queues and acknowledgements
//
// FromQueue reads a message queue's consumer (a Queue: pipeline/jsqueue is one for NATS
// JetStream) into Acked items, each with an Ack that the pipeline resolves once: AckEach
// acknowledges an item when its function has gone through, so that the message leaves the
// queue only once its work is committed; a failure in AckMap or AckEach terminates the
// message (a permanent failure, recorded with its reason) or, for an error marked
// Transient, has the queue deliver it again later; and an Acked item the pipeline drops
// when the run ends early is released like any dropped item, which hands its message back.
// Delivery is at least once: make the last stage idempotent.
//
// # Stages that stop early
//
// A stage may stop reading before its input has ended, as a Custom stage that takes the first
// items only, or a Zip whose other input ended first. Once all of a stage's goroutines have
// returned, it tells its producers so: a producer whose outputs are all no longer read has
// its context cancelled (the context its user functions receive), stops, and tells its own
// producers in turn, like the writers of a Unix pipe whose reader has exited. A producer with
// several outputs (Broadcast, Partition, RoundRobin) stops sending to the branches that are
// no longer read and goes on with the others. The run ends normally: Run returns nil unless
// something failed, and the failures of a stage after its consumers stopped (other than
// panics) are consequences that are dropped. What was queued for the stage that stopped, and
// what its producers held, is dropped and released. Draining the input instead would keep an
// endless source running forever.
//
// # Statistics
//
// Stats returns, for every stage and at any time, the items in and out, the errors, the time
// spent in the user function (busy), blocked on input, blocked on a full downstream queue,
// and, for OrderedMap, waiting for the oldest item of its reorder window; and the input
// queue's length and capacity. A stage with the option CountUnits also counts the units of
// work its items stand for (the images of a batch). Bottleneck compares two snapshots and
// names the stage whose workers were busiest: the one that limits throughput. WriteStats
// prints them as a table.
package pipeline
