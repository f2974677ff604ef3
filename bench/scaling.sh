#!/usr/bin/env bash
# imgpipe's throughput against the number of cores: thumbnails (256 px, quality 85) and
# ImageNet tensors of the same photos with GOMAXPROCS, --workers and the CPUs the process may
# run on (taskset) all set to 1, 2, 4, 8 and 16, as far as the machine has cores. Runs of
# every core count take turns within each round. Prints one JSON object per run, then per core
# count the median images/s, the speedup over one core (linear scaling: speedup = cores) and
# the CPU time per image (flat when more cores cost no extra work: what wall-time scaling
# cannot show on a machine busy with other work).
#
#   bench/scaling.sh        (SIZE=camera N=3, ROUNDS=3, CORES="1 2 4 8 16"; see bench/imgpipe.sh)
#   PHOTOS=~/Pictures/trip DEVICE=cuda bench/scaling.sh
#
# Limiting GOMAXPROCS alone is not enough: libjpeg-turbo runs in cgo calls, which hand their P
# to another goroutine, so decodes could use more cores than GOMAXPROCS; taskset holds them to
# the cores counted.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/timing.sh
N=${N:-3}
SIZE=${SIZE:-camera}
ROUNDS=${ROUNDS:-3}
DEVICE=${DEVICE:-cpu}
work=${WORK:-build/bench-scaling}
have=$(nproc)
cores=()
for c in ${CORES:-1 2 4 8 16}; do [ "$c" -le "$have" ] && cores+=("$c"); done

mkdir -p "$work"
go build -o "$work/imgpipe" ./cmd/imgpipe
photos=${PHOTOS:-build/bench-imgpipe/photos-$SIZE}
[ -n "${PHOTOS:-}" ] || go run ./bench/photos -out "$photos" -n "$N" -size "$SIZE" >&2
count=$(find "$photos" -maxdepth 1 -name '*.jpg' | wc -l)
cat "$photos"/*.jpg >/dev/null

run() { # what cores out
	local what=$1 c=$2 out=$3 cpus
	cpus=$(seq -s, 0 $(("$c" - 1)))
	local args=(--size 256 --quality 85)
	[ "$what" = tensors ] && args=(--tensor imagenet)
	GOMAXPROCS=$c taskset -c "$cpus" "$work/imgpipe" --in "$photos" --out "$out" "${args[@]}" \
		--device "$DEVICE" --workers "$c" --progress none --quiet
}

declare -A times cpus
for round in $(seq "$ROUNDS"); do
	for what in thumbnails tensors; do
		for c in "${cores[@]}"; do
			out="$work/out"
			rm -rf "$out"
			timed run "$what" "$c" "$out"
			cpus[$what.$c]="${cpus[$what.$c]:-} $cpu"
			printf '{"work":"%s","cores":%d,"round":%d,"images":%d,"seconds":%.3f,"cpu_seconds":%.3f,"images_per_s":%.1f}\n' \
				"$what" "$c" "$round" "$count" "$secs" "$cpu" "$(echo "$count / $secs" | bc -l)"
			times[$what.$c]="${times[$what.$c]:-} $secs"
		done
	done
done
for what in thumbnails tensors; do
	one=$(median "${times[$what.1]}")
	for c in "${cores[@]}"; do
		m=$(median "${times[$what.$c]}") mc=$(median "${cpus[$what.$c]}")
		printf '{"work":"%s","cores":%d,"median_images_per_s":%.1f,"speedup":%.2f,"cpu_ms_per_image":%.1f,"device":"%s","photos":"%s"}\n' \
			"$what" "$c" "$(echo "$count / $m" | bc -l)" "$(echo "$one / $m" | bc -l)" "$(echo "1000 * $mc / $count" | bc -l)" "$DEVICE" "$photos"
	done
done
