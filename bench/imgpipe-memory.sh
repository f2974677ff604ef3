#!/usr/bin/env bash
# imgpipe's peak memory for N and for 6N files: bounded queues and reused buffers mean it
# must not grow with the number of files. Prints one JSON object per run and the ratio.
#
#   bench/imgpipe-memory.sh            (N=500 photos of 800x600; set N and SIZE to change)
#
# Peak memory is the process's maximum resident set size, as the run report records it. It
# includes the collector's slack: the live heap stays flat whatever the number of files, but a
# longer run meets more collections, each of which lets the heap reach 1.5× the live size
# first (GODEBUG=gctrace=1 shows the live heap after each collection).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-500}
SIZE=${SIZE:-800x600}
work=${WORK:-build/bench-memory}
mkdir -p "$work"

go build -o "$work/imgpipe" ./cmd/imgpipe
# The same seed gives the same first N photos in both folders.
go run ./bench/photos -out "$work/n" -n "$N" -size "$SIZE" >/dev/null
go run ./bench/photos -out "$work/6n" -n $((6 * N)) -size "$SIZE" >/dev/null

rss() { sed -n 's/.*"max_rss_bytes": *\([0-9]*\).*/\1/p' "$1"; }
for set in n 6n; do
	rm -rf "$work/out-$set"
	"$work/imgpipe" --in "$work/$set" --out "$work/out-$set" --size 256 --device cpu \
		--progress none --quiet --report "$work/report-$set.json"
	files=$(sed -n 's/.*"done": *\([0-9]*\).*/\1/p' "$work/report-$set.json")
	printf '{"files":%d,"max_rss_mb":%.1f}\n' "$files" "$(echo "$(rss "$work/report-$set.json") / 1048576" | bc -l)"
done
printf '{"ratio_6n_over_n":%.2f}\n' "$(echo "$(rss "$work/report-6n.json") / $(rss "$work/report-n.json")" | bc -l)"
