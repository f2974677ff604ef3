#!/usr/bin/env bash
# Thumbnails (256 px, JPEG quality 85) of a folder of large photos, made by imgpipe, by
# vipsthumbnail (libvips) and by Pillow with a process pool and JPEG draft mode, on the same
# cores, in one run. Each tool gets the photos in the same state (read once beforehand, so
# all read from the page cache) and an empty output folder. Prints one JSON object per tool
# and round, then the ratios of the best rounds.
#
#   bench/imgpipe.sh        (N=40 photos of 4000x3000, JOBS=cores, ROUNDS=3; set them to change)
#
# vipsthumbnail and Pillow are installed from Debian's archive when missing (libvips-tools,
# python3-pil; needs root or sudo). They are not test dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-40}
SIZE=${SIZE:-4000x3000}
JOBS=${JOBS:-$(nproc)}
ROUNDS=${ROUNDS:-3}
work=${WORK:-build/bench-imgpipe}
py=/usr/bin/python3 # Debian's Python, where python3-pil installs

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
command -v vipsthumbnail >/dev/null || need+=(libvips-tools)
"$py" -c 'import PIL' 2>/dev/null || need+=(python3-pil)
if [ ${#need[@]} -gt 0 ]; then
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$work"
go build -o "$work/imgpipe" ./cmd/imgpipe
go run ./bench/photos -out "$work/photos" -n "$N" -size "$SIZE" >&2
cat "$work/photos"/*.jpg >/dev/null

run_imgpipe() {
	"$work/imgpipe" --in "$work/photos" --out "$1" --size 256 --quality 85 --device cpu \
		--workers "$JOBS" --progress none --quiet --report "$work/report.json"
}
# One libvips thread per process and one process per core: its best throughput for many
# files (a single process with a thread pool per image scales worse on small thumbnails).
run_vips() {
	mkdir -p "$1"
	find "$work/photos" -name '*.jpg' -print0 | VIPS_CONCURRENCY=1 xargs -0 -P "$JOBS" -n 4 \
		vipsthumbnail --size 256 -o "$(realpath "$1")/%s.jpg[Q=85]"
}
run_pillow() { "$py" bench/pillow_thumbs.py "$work/photos" "$1" 256 "$JOBS" 85 >/dev/null; }

declare -A best
for round in $(seq "$ROUNDS"); do
	for tool in imgpipe vips pillow; do
		out="$work/out-$tool"
		rm -rf "$out"
		start=$(date +%s.%N)
		"run_$tool" "$out"
		secs=$(echo "$(date +%s.%N) - $start" | bc -l)
		made=$(find "$out" -name '*.jpg' | wc -l)
		[ "$made" -eq "$N" ] || { echo "bench: $tool made $made thumbnails of $N" >&2; exit 1; }
		printf '{"tool":"%s","round":%d,"images":%d,"seconds":%.3f,"images_per_s":%.1f,"jobs":%d}\n' \
			"$tool" "$round" "$N" "$secs" "$(echo "$N / $secs" | bc -l)" "$JOBS"
		if [ -z "${best[$tool]:-}" ] || [ "$(echo "$secs < ${best[$tool]}" | bc -l)" -eq 1 ]; then
			best[$tool]=$secs
		fi
	done
done
printf '{"imgpipe_vs_vipsthumbnail":%.2f,"imgpipe_vs_pillow":%.2f}\n' \
	"$(echo "${best[vips]} / ${best[imgpipe]}" | bc -l)" "$(echo "${best[pillow]} / ${best[imgpipe]}" | bc -l)"
