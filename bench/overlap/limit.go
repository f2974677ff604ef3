package main

import "time"

// phases are the per-batch times of the three phases of a batch.
type phases struct{ up, kernel, down time.Duration }

// limit is the pipelining bound: the makespan of the ideal schedule of n batches on a
// device with the given number of copy engines and an engine with the given number of slots,
// where nothing costs anything but the three phases.
//
// The ideal schedule follows the rules the engine and the device obey, with zero overhead:
//   - batch i takes slot i mod slots, free once batch i−slots has downloaded;
//   - a batch's phases run in order: upload, kernel, download;
//   - each engine runs one phase at a time, in the order phases become ready, and never idles
//     while one is ready (uploads on the host→device engine, kernels on compute, downloads
//     on the device→host engine; with one copy engine uploads and downloads share it, and a
//     tie goes to the download, which frees a slot sooner).
//
// With upload = kernel = download = T this gives, for n ≥ slots:
//   - 1 slot: 3nT whatever the engines (nothing overlaps: the serial time);
//   - 2 slots, 2 copy engines: (3⌈n/2⌉ + 1)T for even n, the slot ring limits: a slot is
//     busy 3T per batch, and two slots give two batches per 3T;
//   - 3+ slots, 2 copy engines: (n + 2)T, the classic three-stage pipeline: one batch per T
//     after the first fills it;
//   - 2+ slots, 1 copy engine: about 2nT: the shared copy engine does 2T of work per batch.
func limit(slots, copyEngines, n int, p phases) time.Duration {
	if n == 0 {
		return 0
	}
	if copyEngines == 1 {
		return limitOneCopyEngine(slots, n, p)
	}
	var upFree, kFree, dFree time.Duration
	downEnd := make([]time.Duration, n)
	for i := range n {
		start := upFree
		if i >= slots {
			start = max(start, downEnd[i-slots])
		}
		upFree = start + p.up
		kFree = max(upFree, kFree) + p.kernel
		dFree = max(kFree, dFree) + p.down
		downEnd[i] = dFree
	}
	return downEnd[n-1]
}

// limitOneCopyEngine simulates the shared copy engine: at each step it runs whichever of the
// next upload and the next download can start first.
func limitOneCopyEngine(slots, n int, p phases) time.Duration {
	const never = time.Duration(1<<63 - 1)
	var copyFree, kFree time.Duration
	kEnd := make([]time.Duration, n)
	downEnd := make([]time.Duration, n)
	ups, downs := 0, 0 // phases scheduled so far
	for downs < n {
		upReady, downReady := never, never
		if ups < n && (ups < slots || ups-slots < downs) {
			upReady = 0
			if ups >= slots {
				upReady = downEnd[ups-slots]
			}
			upReady = max(upReady, copyFree)
		}
		if downs < ups {
			downReady = max(kEnd[downs], copyFree)
		}
		if downReady <= upReady {
			copyFree = downReady + p.down
			downEnd[downs] = copyFree
			downs++
			continue
		}
		copyFree = upReady + p.up
		kFree = max(copyFree, kFree) + p.kernel
		kEnd[ups] = kFree
		ups++
	}
	return downEnd[n-1]
}

// serial is the time with no overlap at all.
func serial(n int, p phases) time.Duration {
	return time.Duration(n) * (p.up + p.kernel + p.down)
}
