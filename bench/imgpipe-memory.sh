#!/usr/bin/env bash
# imgpipe's peak memory (the process's maximum resident set size) on inputs that are small
# on disk and large in memory, and for N and 6N photos, measured for this tree ("after") and
# for a base revision ("before") in one run. Prints one JSON object per case and binary.
#
#   bench/imgpipe-memory.sh          (BASE=main: the revision to compare with; BASE= skips it)
#
# Cases, all with --size 256 --device cpu and default flags unless named:
#   zero          one 10000x9900 PNG of black pixels (400 KB on disk, 297 MB of pixels)
#   zero-x8       eight of them
#   zero16        one 10000x9900 16-bit RGBA PNG of zeros
#   png-w8        24 photo-like 4000x3000 PNGs with --workers 8
#   junk          two sparse 1000 MB files of zeros named .png
#   photos        21 photo-like JPEGs of 1.3 to 18 megapixels (3 each of 7 sizes, both ways up)
#   photos-x6     the same photos copied 6 times (126 files): within 1.1x of photos is flat
#   zero-x8-600MB and png-w8-600MB: the same with --max-memory 600MB
# A case whose files are refused exits 1 and says why on stderr (kept in $WORK/CASE.err).
# Real photos can replace the generated ones: PHOTOS=folder.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${BASE-main}
work=${WORK:-build/bench-memory}
mkdir -p "$work"

go build -o "$work/imgpipe-after" ./cmd/imgpipe
bins=(after)
if [ -n "$BASE" ]; then
	rm -rf "$work/base-src" && mkdir -p "$work/base-src"
	git archive "$BASE" | tar -x -C "$work/base-src"
	(cd "$work/base-src" && go build -o ../imgpipe-before ./cmd/imgpipe)
	bins=(before after)
fi

go run ./bench/memfiles -out "$work/in/zero" -kind zero -n 1
go run ./bench/memfiles -out "$work/in/zero-x8" -kind zero -n 8
go run ./bench/memfiles -out "$work/in/zero16" -kind zero16 -n 1
go run ./bench/memfiles -out "$work/in/png-w8" -kind photo-png -n 24 -size 4000x3000
go run ./bench/memfiles -out "$work/in/junk" -kind junk -n 2
photos=${PHOTOS:-$work/in/photos}
if [ -z "${PHOTOS:-}" ]; then
	i=0
	for s in 1400x933 2000x1500 3000x2000 2000x3000 4000x3000 3000x4000 5184x3456; do
		i=$((i + 1))
		go run ./bench/photos -out "$photos/s$i" -n 3 -size "$s" -seed "$i" >/dev/null
	done
fi
rm -rf "$work/in/photos-x6" && mkdir -p "$work/in/photos-x6"
for k in 1 2 3 4 5 6; do cp -r "$photos" "$work/in/photos-x6/c$k"; done
cat "$photos"/*/* "$work/in/photos-x6"/*/*/* >/dev/null 2>&1 || true # into the page cache

run() { # case binary input [flags...]
	local name=$1 bin=$2 in=$3
	shift 3
	rm -rf "$work/out"
	local start code=0
	start=$(date +%s.%N)
	/usr/bin/time -f '%M' -o "$work/rss" "$work/imgpipe-$bin" --in "$in" --out "$work/out" --size 256 \
		--device cpu --progress none --quiet "$@" 2>"$work/$name-$bin.err" || code=$?
	local secs done
	secs=$(echo "$(date +%s.%N) - $start" | bc -l)
	done=$(find "$work/out" -type f 2>/dev/null | wc -l)
	printf '{"case":"%s","binary":"%s","files_done":%d,"exit":%d,"seconds":%.2f,"peak_rss_mb":%.1f}\n' \
		"$name" "$bin" "$done" "$code" "$secs" "$(echo "$(tail -1 "$work/rss") / 1024" | bc -l)"
}

for bin in "${bins[@]}"; do
	run zero "$bin" "$work/in/zero"
	run zero-x8 "$bin" "$work/in/zero-x8"
	run zero16 "$bin" "$work/in/zero16"
	run png-w8 "$bin" "$work/in/png-w8" --workers 8
	run junk "$bin" "$work/in/junk"
	run photos "$bin" "$photos"
	run photos-x6 "$bin" "$work/in/photos-x6"
done
# The budget flag exists only after.
run zero-x8-600MB after "$work/in/zero-x8" --max-memory 600MB
run png-w8-600MB after "$work/in/png-w8" --workers 8 --max-memory 600MB
