#!/usr/bin/env bash
# Thumbnails (256 px, JPEG quality 85, Lanczos) of a folder of photos, made by imgpipe, by
# vipsthumbnail (libvips) and by Pillow with a process pool and JPEG draft mode, on the same
# cores, in one run. Each tool gets the photos in the same state (read once beforehand, so
# all read from the page cache) and an empty output folder; the tools take turns within each
# round. Prints one JSON object per tool and round (wall and CPU seconds), then the medians
# over the rounds and imgpipe's wall time as a fraction of the fastest peer's (below 1:
# imgpipe is faster), and the same for CPU time, which a machine shared with other work
# disturbs less.
#
#   bench/imgpipe.sh        (SIZE=camera N=3, JOBS=cores, ROUNDS=5; set them to change)
#   SIZE=4000x3000 N=40 bench/imgpipe.sh
#   PHOTOS=~/Pictures/trip bench/imgpipe.sh      (a folder of your own JPEGs instead)
#
# SIZE=camera makes N photo-like JPEGs (package internal/samples, 4:2:0, quality 90) of each
# of eight camera and phone sizes from 1.3 to 18 megapixels, landscape and portrait; SIZE=WxH
# makes N of one size (see bench/photos).
#
# vipsthumbnail and Pillow are installed from Debian's archive when missing (libvips-tools,
# python3-pil; needs root or sudo). They are not test dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/timing.sh
N=${N:-3}
SIZE=${SIZE:-camera}
JOBS=${JOBS:-$(nproc)}
ROUNDS=${ROUNDS:-5}
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
photos=${PHOTOS:-$work/photos-$SIZE}
[ -n "${PHOTOS:-}" ] || go run ./bench/photos -out "$photos" -n "$N" -size "$SIZE" >&2
count=$(find "$photos" -maxdepth 1 -name '*.jpg' | wc -l)
cat "$photos"/*.jpg >/dev/null

run_imgpipe() {
	"$work/imgpipe" --in "$photos" --out "$1" --size 256 --quality 85 --device cpu \
		--workers "$JOBS" --progress none --quiet --report "$work/report.json"
}
# One libvips thread per process and one process per core, each with an equal share of the
# files: its best throughput for many files. A single process with a thread pool per image
# scales worse on small thumbnails, and each process start (loading libvips and its modules)
# costs about 0.1 s of CPU, so more, smaller groups are slower (4 files a process took 1.4-1.6x
# the CPU time of 12).
run_vips() {
	mkdir -p "$1"
	find "$photos" -maxdepth 1 -name '*.jpg' -print0 | VIPS_CONCURRENCY=1 xargs -0 -P "$JOBS" -n "$(((count + JOBS - 1) / JOBS))" \
		vipsthumbnail --size 256 -o "$(realpath "$1")/%s.jpg[Q=85]"
}
# Pillow twice: drafting to at least twice the box (as Image.thumbnail does) and to at least
# the box itself (faster, less sharp); the faster of the two is the peer.
run_pillow() { "$py" bench/pillow_thumbs.py "$photos" "$1" 256 "$JOBS" 85 2 >/dev/null; }
run_pillow1x() { "$py" bench/pillow_thumbs.py "$photos" "$1" 256 "$JOBS" 85 1 >/dev/null; }

declare -A times cpus
for round in $(seq "$ROUNDS"); do
	for tool in imgpipe vips pillow pillow1x; do
		out="$work/out-$tool"
		rm -rf "$out"
		timed "run_$tool" "$out"
		made=$(find "$out" -name '*.jpg' | wc -l)
		[ "$made" -eq "$count" ] || { echo "bench: $tool made $made thumbnails of $count" >&2; exit 1; }
		printf '{"tool":"%s","round":%d,"images":%d,"seconds":%.3f,"cpu_seconds":%.3f,"images_per_s":%.1f,"jobs":%d}\n' \
			"$tool" "$round" "$count" "$secs" "$cpu" "$(echo "$count / $secs" | bc -l)" "$JOBS"
		times[$tool]="${times[$tool]:-} $secs"
		cpus[$tool]="${cpus[$tool]:-} $cpu"
	done
done
mi=$(median "${times[imgpipe]}") mv=$(median "${times[vips]}")
mp=$(median "${times[pillow]}") mp1=$(median "${times[pillow1x]}")
best=$(printf '%s\n' "$mv" "$mp" "$mp1" | sort -g | head -1)
ci=$(median "${cpus[imgpipe]}") cv=$(median "${cpus[vips]}")
cp=$(median "${cpus[pillow]}") cp1=$(median "${cpus[pillow1x]}")
cbest=$(printf '%s\n' "$cv" "$cp" "$cp1" | sort -g | head -1)
printf '{"median_seconds":{"imgpipe":%.3f,"vipsthumbnail":%.3f,"pillow":%.3f,"pillow_draft1x":%.3f},"median_cpu_seconds":{"imgpipe":%.3f,"vipsthumbnail":%.3f,"pillow":%.3f,"pillow_draft1x":%.3f},"imgpipe_vs_best_peer":%.2f,"imgpipe_vs_best_peer_cpu":%.2f,"photos":"%s","images":%d,"jobs":%d}\n' \
	"$mi" "$mv" "$mp" "$mp1" "$ci" "$cv" "$cp" "$cp1" "$(echo "$mi / $best" | bc -l)" "$(echo "$ci / $cbest" | bc -l)" "$photos" "$count" "$JOBS"
