package main

// The operator benchmarks: each graph operator built three ways (hand-written goroutines and
// channels, go-streams, gpupipe) on the same items, checked against the same result, timed
// once each. One JSON line per operator and implementation, with "op" set.

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/reugn/go-streams"
	"github.com/reugn/go-streams/extension"
	"github.com/reugn/go-streams/flow"

	"github.com/gpupipe/gpupipe/pipeline"
)

// benchOp is one operator: how many items a run of n handles, the checksum a correct run
// returns, and the three implementations.
type benchOp struct {
	name  string
	items func(n int) int            // items counted for items_per_s
	check func(n, got int) bool      // whether a run's checksum is right
	impls [3]func(n, buffer int) int // raw, gostreams, gpupipe; each returns a checksum
}

var implNames = [3]string{"raw", "gostreams", "gpupipe"}

func sumTo(n int) int { return n * (n - 1) / 2 }

func exactly(want func(n int) int) func(n, got int) bool {
	return func(n, got int) bool { return got == want(n) }
}

const (
	mergeInputs  = 4
	flattenWidth = 8
	keys         = 16
	windowSize   = 5 * time.Millisecond
	sessionGap   = 50 * time.Millisecond
)

func benchOps(throttleRate int) []benchOp {
	one := func(n int) int { return n }
	return []benchOp{
		{"merge", one, exactly(func(n int) int { return mergeInputs * sumTo(n/mergeInputs) }),
			[3]func(int, int) int{rawMerge, gsMerge, gpMerge}},
		{"broadcast", one, exactly(func(n int) int { return 2 * sumTo(n) }),
			[3]func(int, int) int{rawBroadcast, gsBroadcast, gpBroadcast}},
		{"roundrobin", one, exactly(sumTo), [3]func(int, int) int{rawRoundRobin, gsRoundRobin, gpRoundRobin}},
		{"split", one, exactly(sumTo), [3]func(int, int) int{rawSplit, gsSplit, gpSplit}},
		{"zip", one, exactly(func(n int) int { return 2 * sumTo(n) }), [3]func(int, int) int{rawZip, gsZip, gpZip}},
		{"flatten", one, exactly(func(n int) int { return sumTo(n / flattenWidth * flattenWidth) }),
			[3]func(int, int) int{rawFlatten, gsFlatten, gpFlatten}},
		{"fold", one, exactly(sumTo), [3]func(int, int) int{rawFold, gsFold, gpFold}},
		{"keyed", one, exactly(sumTo), [3]func(int, int) int{rawKeyed, gsKeyed, gpKeyed}},
		{"window", one, exactly(sumTo), [3]func(int, int) int{rawWindow, gsWindow, gpWindow}},
		// Each item is in one or two windows; the checksum counts the items of all windows.
		{"sliding", one, func(n, got int) bool { return got >= n && got <= 2*n },
			[3]func(int, int) int{rawSliding, gsSliding, gpSliding}},
		{"session", one, exactly(sumTo), [3]func(int, int) int{rawSession, gsSession, gpSession}},
		// Throttle runs half a second's worth of items at the target rate: items_per_s says
		// how close each implementation comes to it.
		{"throttle", func(int) int { return throttleRate / 2 }, func(_, got int) bool { return got == sumTo(throttleRate/2) },
			[3]func(int, int) int{
				func(_, b int) int { return rawThrottle(throttleRate, b) },
				func(_, b int) int { return gsThrottle(throttleRate, b) },
				func(_, b int) int { return gpThrottle(throttleRate, b) },
			}},
	}
}

// --- sources and sinks shared by the raw and go-streams versions

func produce(n, buffer int) <-chan int {
	ch := make(chan int, buffer)
	go func() {
		for i := range n {
			ch <- i
		}
		close(ch)
	}()
	return ch
}

func produceAny(n, buffer int) chan any {
	ch := make(chan any, buffer)
	go func() {
		for i := range n {
			ch <- i
		}
		close(ch)
	}()
	return ch
}

func sumChan(ch <-chan int) int {
	s := 0
	for x := range ch {
		s += x
	}
	return s
}

// gsSum returns a go-streams sink that sums ints, and a function that waits for the sum.
func gsSum(buffer int) (streams.Sink, func() int) {
	ch := make(chan any, buffer)
	done := make(chan int, 1)
	go func() {
		s := 0
		for x := range ch {
			s += x.(int)
		}
		done <- s
	}()
	return extension.NewChanSink(ch), func() int { return <-done }
}

// gsSumAll sends every flow to a summing sink and returns the total.
func gsSumAll(flows []streams.Flow, buffer int) int {
	var waits []func() int
	for _, f := range flows {
		sink, wait := gsSum(buffer)
		go f.To(sink)
		waits = append(waits, wait)
	}
	total := 0
	for _, w := range waits {
		total += w()
	}
	return total
}

func gpSource(p *pipeline.Pipeline, n int) *pipeline.Stream[int] {
	return pipeline.Generate(p, func(ctx context.Context, emit func(int) error) error {
		for i := range n {
			if err := emit(i); err != nil {
				return err
			}
		}
		return nil
	})
}

func gpSum(in *pipeline.Stream[int], buffer int) *pipeline.Result[int] {
	return pipeline.Reduce(in, 0, func(acc, x int) (int, error) { return acc + x, nil }, pipeline.Buffer(buffer))
}

func gpRun(p *pipeline.Pipeline) {
	if err := p.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "framework:", err)
		os.Exit(1)
	}
}

func gpTotal(p *pipeline.Pipeline, rs ...*pipeline.Result[int]) int {
	gpRun(p)
	total := 0
	for _, r := range rs {
		total += r.Value()
	}
	return total
}

// --- merge: four sources into one

func rawMerge(n, buffer int) int {
	out := make(chan int, buffer)
	var wg sync.WaitGroup
	for range mergeInputs {
		in := produce(n/mergeInputs, buffer)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for x := range in {
				out <- x
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()
	return sumChan(out)
}

func gsMerge(n, buffer int) int {
	var flows []streams.Flow
	for range mergeInputs {
		flows = append(flows, extension.NewChanSource(produceAny(n/mergeInputs, buffer)).Via(flow.NewPassThrough()))
	}
	sink, wait := gsSum(buffer)
	go flow.Merge(flows...).To(sink)
	return wait()
}

func gpMerge(n, buffer int) int {
	p := pipeline.New()
	var ins []*pipeline.Stream[int]
	for range mergeInputs {
		ins = append(ins, gpSource(p, n/mergeInputs))
	}
	return gpTotal(p, gpSum(pipeline.Merge(ins, pipeline.Buffer(buffer)), buffer))
}

// --- broadcast: every item to two summing branches

func rawBroadcast(n, buffer int) int {
	src := produce(n, buffer)
	a, b := make(chan int, buffer), make(chan int, buffer)
	go func() {
		for x := range src {
			a <- x
			b <- x
		}
		close(a)
		close(b)
	}()
	sb := make(chan int)
	go func() { sb <- sumChan(b) }()
	return sumChan(a) + <-sb
}

func gsBroadcast(n, buffer int) int {
	return gsSumAll(flow.FanOut(extension.NewChanSource(produceAny(n, buffer)), 2), buffer)
}

func gpBroadcast(n, buffer int) int {
	p := pipeline.New()
	a, b := pipeline.Tee(gpSource(p, n), pipeline.Buffer(buffer))
	return gpTotal(p, gpSum(a, buffer), gpSum(b, buffer))
}

// --- roundrobin: items dealt to two summing branches

func rawRoundRobin(n, buffer int) int {
	src := produce(n, buffer)
	outs := []chan int{make(chan int, buffer), make(chan int, buffer)}
	for _, o := range outs {
		go func() {
			for x := range src {
				o <- x
			}
			close(o)
		}()
	}
	sb := make(chan int)
	go func() { sb <- sumChan(outs[1]) }()
	return sumChan(outs[0]) + <-sb
}

func gsRoundRobin(n, buffer int) int {
	return gsSumAll(flow.RoundRobin(extension.NewChanSource(produceAny(n, buffer)), 2), buffer)
}

func gpRoundRobin(n, buffer int) int {
	p := pipeline.New()
	outs := pipeline.RoundRobin(gpSource(p, n), 2, pipeline.Buffer(buffer))
	return gpTotal(p, gpSum(outs[0], buffer), gpSum(outs[1], buffer))
}

// --- split: even and odd items to two summing branches

func even(x int) bool { return x%2 == 0 }

func rawSplit(n, buffer int) int {
	src := produce(n, buffer)
	a, b := make(chan int, buffer), make(chan int, buffer)
	go func() {
		for x := range src {
			if even(x) {
				a <- x
			} else {
				b <- x
			}
		}
		close(a)
		close(b)
	}()
	sb := make(chan int)
	go func() { sb <- sumChan(b) }()
	return sumChan(a) + <-sb
}

func gsSplit(n, buffer int) int {
	outs := flow.Split(extension.NewChanSource(produceAny(n, buffer)), even)
	return gsSumAll(outs[:], buffer)
}

func gpSplit(n, buffer int) int {
	p := pipeline.New()
	a, b := pipeline.Split(gpSource(p, n), even, pipeline.Buffer(buffer))
	return gpTotal(p, gpSum(a, buffer), gpSum(b, buffer))
}

// --- zip: two sources added pairwise

func rawZip(n, buffer int) int {
	a, b := produce(n, buffer), produce(n, buffer)
	out := make(chan int, buffer)
	go func() {
		for x := range a {
			out <- x + <-b
		}
		close(out)
	}()
	return sumChan(out)
}

func gsZip(n, buffer int) int {
	sink, wait := gsSum(buffer)
	a := extension.NewChanSource(produceAny(n, buffer))
	b := extension.NewChanSource(produceAny(n, buffer))
	go flow.ZipWith(func(xs []int) int { return xs[0] + xs[1] }, a, b).To(sink)
	return wait()
}

func gpZip(n, buffer int) int {
	p := pipeline.New()
	z := pipeline.ZipWith(gpSource(p, n), gpSource(p, n), func(_ context.Context, x, y int) (int, error) { return x + y, nil }, pipeline.Buffer(buffer))
	return gpTotal(p, gpSum(z, buffer))
}

// --- flatten: slices of eight items into items; items_per_s counts the items

func slicesOf(n int, emit func([]int)) {
	for i := 0; i+flattenWidth <= n; i += flattenWidth {
		s := make([]int, flattenWidth)
		for j := range s {
			s[j] = i + j
		}
		emit(s)
	}
}

func rawFlatten(n, buffer int) int {
	src := make(chan []int, buffer)
	go func() { slicesOf(n, func(s []int) { src <- s }); close(src) }()
	out := make(chan int, buffer)
	go func() {
		for s := range src {
			for _, x := range s {
				out <- x
			}
		}
		close(out)
	}()
	return sumChan(out)
}

func gsFlatten(n, buffer int) int {
	src := make(chan any, buffer)
	go func() { slicesOf(n, func(s []int) { src <- s }); close(src) }()
	sink, wait := gsSum(buffer)
	go extension.NewChanSource(src).Via(flow.Flatten[int](1)).To(sink)
	return wait()
}

func gpFlatten(n, buffer int) int {
	p := pipeline.New()
	src := pipeline.Generate(p, func(ctx context.Context, emit func([]int) error) error {
		var err error
		slicesOf(n, func(s []int) {
			if err == nil {
				err = emit(s)
			}
		})
		return err
	})
	return gpTotal(p, gpSum(pipeline.Flatten(src, pipeline.Buffer(buffer)), buffer))
}

// --- fold: the running sum of every item; the checksum is the last one

func lastOf(ch <-chan int) int {
	last := 0
	for x := range ch {
		last = x
	}
	return last
}

func rawFold(n, buffer int) int {
	src := produce(n, buffer)
	out := make(chan int, buffer)
	go func() {
		acc := 0
		for x := range src {
			acc += x
			out <- acc
		}
		close(out)
	}()
	return lastOf(out)
}

func gsFold(n, buffer int) int {
	out := make(chan any, buffer)
	go extension.NewChanSource(produceAny(n, buffer)).
		Via(flow.NewFold(0, func(x, acc int) int { return acc + x })).
		To(extension.NewChanSink(out))
	last := 0
	for x := range out {
		last = x.(int)
	}
	return last
}

func gpFold(n, buffer int) int {
	p := pipeline.New()
	scan := pipeline.Scan(gpSource(p, n), 0, func(acc, x int) (int, error) { return acc + x, nil }, pipeline.Buffer(buffer))
	last := pipeline.Reduce(scan, 0, func(_, x int) (int, error) { return x, nil }, pipeline.Buffer(buffer))
	return gpTotal(p, last)
}

// --- keyed: a running sum per key (x mod 16); the checksum adds each key's last sum

type keySum struct{ key, sum int }

func lastPerKey(next func() (keySum, bool)) int {
	last := map[int]int{}
	for kv, ok := next(); ok; kv, ok = next() {
		last[kv.key] = kv.sum
	}
	total := 0
	for _, s := range last {
		total += s
	}
	return total
}

func rawKeyed(n, buffer int) int {
	src := produce(n, buffer)
	out := make(chan keySum, buffer)
	go func() {
		sums := map[int]int{}
		for x := range src {
			k := x % keys
			sums[k] += x
			out <- keySum{k, sums[k]}
		}
		close(out)
	}()
	return lastPerKey(func() (keySum, bool) { kv, ok := <-out; return kv, ok })
}

func gsKeyed(n, buffer int) int {
	out := make(chan any, buffer)
	keyed := flow.NewKeyed(func(x int) int { return x % keys }, func() streams.Flow {
		return flow.NewFold(keySum{}, func(x int, acc keySum) keySum { return keySum{x % keys, acc.sum + x} })
	})
	go extension.NewChanSource(produceAny(n, buffer)).Via(keyed).To(extension.NewChanSink(out))
	return lastPerKey(func() (keySum, bool) {
		v, ok := <-out
		if !ok {
			return keySum{}, false
		}
		return v.(keySum), true
	})
}

func gpKeyed(n, buffer int) int {
	p := pipeline.New()
	scan := pipeline.KeyedScan(gpSource(p, n), func(x int) int { return x % keys }, func(int) int { return 0 },
		func(acc, x int) (int, error) { return acc + x, nil }, pipeline.Buffer(buffer))
	last := map[int]int{}
	pipeline.ForEach(scan, func(_ context.Context, kv pipeline.KeyValue[int, int]) error {
		last[kv.Key] = kv.Value
		return nil
	}, pipeline.Buffer(buffer))
	gpRun(p)
	total := 0
	for _, s := range last {
		total += s
	}
	return total
}

// --- window: tumbling windows of 5 ms; the checksum adds the items of every window

func sumWindows(ch <-chan []int) int {
	s := 0
	for w := range ch {
		for _, x := range w {
			s += x
		}
	}
	return s
}

func rawWindow(n, buffer int) int {
	src := produce(n, buffer)
	out := make(chan []int, buffer)
	go func() {
		t := time.NewTicker(windowSize)
		defer t.Stop()
		var win []int
		for {
			select {
			case x, ok := <-src:
				if !ok {
					if len(win) > 0 {
						out <- win
					}
					close(out)
					return
				}
				win = append(win, x)
			case <-t.C:
				if len(win) > 0 {
					out <- win
					win = nil
				}
			}
		}
	}()
	return sumWindows(out)
}

func gsWindows(op streams.Flow, n, buffer int) (count, sum int) {
	out := make(chan any, buffer)
	go extension.NewChanSource(produceAny(n, buffer)).Via(op).To(extension.NewChanSink(out))
	for w := range out {
		for _, x := range w.([]int) {
			count++
			sum += x
		}
	}
	return count, sum
}

func gsWindow(n, buffer int) int {
	_, sum := gsWindows(flow.NewTumblingWindow[int](windowSize), n, buffer)
	return sum
}

func gpWindows(win func(*pipeline.Stream[int]) *pipeline.Stream[[]int], n int) (count, sum int) {
	p := pipeline.New()
	pipeline.ForEach(win(gpSource(p, n)), func(_ context.Context, w []int) error {
		count += len(w)
		for _, x := range w {
			sum += x
		}
		return nil
	})
	gpRun(p)
	return count, sum
}

func gpWindow(n, buffer int) int {
	_, sum := gpWindows(func(in *pipeline.Stream[int]) *pipeline.Stream[[]int] {
		return pipeline.TumblingWindowTime(in, windowSize, pipeline.Buffer(buffer))
	}, n)
	return sum
}

// --- sliding: windows of 10 ms every 5 ms; the checksum counts the items of every window

func rawSliding(n, buffer int) int {
	src := produce(n, buffer)
	type timed struct {
		x  int
		at time.Time
	}
	out := make(chan int, buffer)
	go func() {
		t := time.NewTicker(windowSize)
		defer t.Stop()
		var buf []timed
		count := 0
		// Windows end on a fixed schedule, every windowSize from the start, each holding
		// the items of the 2*windowSize before its end, however late the ticker wakes: a
		// late tick emits every window that ended since the last one.
		end := time.Now().Add(windowSize)
		emitUpTo := func(now time.Time) {
			for ; !end.After(now); end = end.Add(windowSize) {
				lo := end.Add(-2 * windowSize)
				i := 0
				for i < len(buf) && buf[i].at.Before(lo) {
					i++
				}
				buf = buf[i:]
				for j := 0; j < len(buf) && buf[j].at.Before(end); j++ {
					count++
				}
			}
		}
		for {
			select {
			case x, ok := <-src:
				if !ok {
					if len(buf) > 0 {
						emitUpTo(buf[len(buf)-1].at.Add(2 * windowSize))
					}
					out <- count
					close(out)
					return
				}
				buf = append(buf, timed{x, time.Now()})
			case now := <-t.C:
				emitUpTo(now)
			}
		}
	}()
	return sumChan(out)
}

func gsSliding(n, buffer int) int {
	count, _ := gsWindows(flow.NewSlidingWindow[int](2*windowSize, windowSize), n, buffer)
	return count
}

func gpSliding(n, buffer int) int {
	count, _ := gpWindows(func(in *pipeline.Stream[int]) *pipeline.Stream[[]int] {
		return pipeline.SlidingWindowTime(in, 2*windowSize, windowSize, pipeline.Buffer(buffer))
	}, n)
	return count
}

// --- session: a gap of 50 ms, which a steady input never leaves: one window at the end

func rawSession(n, buffer int) int {
	src := produce(n, buffer)
	out := make(chan []int, buffer)
	go func() {
		timer := time.NewTimer(sessionGap)
		defer timer.Stop()
		var win []int
		for {
			select {
			case x, ok := <-src:
				if !ok {
					if len(win) > 0 {
						out <- win
					}
					close(out)
					return
				}
				win = append(win, x)
				timer.Reset(sessionGap)
			case <-timer.C:
				if len(win) > 0 {
					out <- win
					win = nil
				}
			}
		}
	}()
	return sumWindows(out)
}

func gsSession(n, buffer int) int {
	_, sum := gsWindows(flow.NewSessionWindow[int](sessionGap), n, buffer)
	return sum
}

func gpSession(n, buffer int) int {
	_, sum := gpWindows(func(in *pipeline.Stream[int]) *pipeline.Stream[[]int] {
		return pipeline.SessionWindow(in, sessionGap, pipeline.Buffer(buffer))
	}, n)
	return sum
}

// --- throttle: rate items per second, as a quota per 10 ms, for half a second

const throttlePeriod = 10 * time.Millisecond

func rawThrottle(rate, buffer int) int {
	n := rate / 2
	src := produce(n, buffer)
	out := make(chan int, buffer)
	go func() {
		interval := time.Second / time.Duration(rate)
		next := time.Now()
		for x := range src {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			next = next.Add(interval)
			out <- x
		}
		close(out)
	}()
	return sumChan(out)
}

func gsThrottle(rate, buffer int) int {
	n := rate / 2
	perPeriod := rate * int(throttlePeriod) / int(time.Second)
	sink, wait := gsSum(buffer)
	go extension.NewChanSource(produceAny(n, buffer)).
		Via(flow.NewThrottler(perPeriod, throttlePeriod, buffer, flow.Backpressure)).
		To(sink)
	return wait()
}

func gpThrottle(rate, buffer int) int {
	n := rate / 2
	perPeriod := rate * int(throttlePeriod) / int(time.Second)
	p := pipeline.New()
	th := pipeline.Throttle(gpSource(p, n), perPeriod, throttlePeriod, perPeriod, pipeline.Buffer(buffer))
	return gpTotal(p, gpSum(th, buffer))
}
