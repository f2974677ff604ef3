package pipeline

import "context"

// KeyValue is a key and the value computed for it, as KeyedScan and KeyedFold emit them.
type KeyValue[K comparable, V any] struct {
	Key   K
	Value V
}

// KeyedScan keeps one accumulator per key and emits, for each item, its key and the key's
// accumulator after fn has added the item: a Scan for each key, as go-streams' Keyed runs a
// Fold for each sub-stream. A key's accumulator starts as init(key). Items are handled one at
// a time in input order, so the values of one key come out in order.
//
//	in:  -a1--b5--a2--b1-|     key: the letter; fn: acc + x; init 0
//	out: -a1--b5--a3--b6-|
//
// Memory grows with the number of distinct keys, which the stage never forgets. To spread the
// keys over several goroutines, PartitionByKey into n branches, KeyedScan each, and Merge.
// Errors are handled as in Scan, and, as in Scan, the stage releases no accumulator value.
func KeyedScan[T any, K comparable, A any](in *Stream[T], key func(x T) K, init func(k K) A, fn func(acc A, x T) (A, error), opts ...Option) *Stream[KeyValue[K, A]] {
	return keyed(in, "keyed-scan", key, init, fn, true, opts)
}

// KeyedFold keeps one accumulator per key, as KeyedScan does, and emits each key with its
// final accumulator once the input has ended, in the order the keys first appeared. Nothing
// is emitted when the run is cancelled or fails. Results that cannot be handed on because the
// run is ending are released.
//
//	in:  -a1--b5--a2--b1-|
//	out: ----------------a3-b6-|
func KeyedFold[T any, K comparable, A any](in *Stream[T], key func(x T) K, init func(k K) A, fn func(acc A, x T) (A, error), opts ...Option) *Stream[KeyValue[K, A]] {
	return keyed(in, "keyed-fold", key, init, fn, false, opts)
}

func keyed[T any, K comparable, A any](in *Stream[T], kind string, key func(T) K, init func(K) A, fn func(A, T) (A, error), each bool, opts []Option) *Stream[KeyValue[K, A]] {
	s, inq := consume(in, kind, single(opts), 1)
	out := newStream[KeyValue[K, A]](s)
	accs := map[K]A{}
	var order []K // KeyedFold: the keys in order of appearance
	step := withRetry(s, func(_ context.Context, x T) (KeyValue[K, A], error) {
		k := key(x)
		acc, seen := accs[k]
		if !seen {
			acc = init(k)
		}
		acc, err := fn(acc, x)
		if err != nil {
			return KeyValue[K, A]{}, err
		}
		if !seen && !each {
			order = append(order, k)
		}
		accs[k] = acc
		return KeyValue[K, A]{k, acc}, nil
	})
	drop, dropAcc, count := dropper[T](s), dropper[A](s), unitCounter[T](s)
	s.runWorkers(func(ctx context.Context, c *counters) error {
		o := out.out()
		for {
			x, ok := recv(ctx, inq, c, false)
			if !ok {
				break
			}
			kv, err := call1(step, ctx, x)
			if err != nil {
				if err := failed(ctx, s, c, x, count, drop, err); err != nil {
					return err
				}
				continue
			}
			countDone(c, count, x)
			if each && !send(ctx, o, kv, c, false) {
				return nil
			}
		}
		if each || ctx.Err() != nil {
			return nil
		}
		for i, k := range order {
			if !send(ctx, o, KeyValue[K, A]{k, accs[k]}, c, false) {
				if dropAcc != nil {
					for _, k := range order[i:] {
						dropAcc(accs[k])
					}
				}
				return nil
			}
		}
		return nil
	}, func() { close(out.ch) })
	return out
}
