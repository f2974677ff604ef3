#!/usr/bin/env bash
# ImageNet training tensors (shorter side 256, centre crop 224, float32 normalised, .npy
# shards) of a folder of photos, made by `imgpipe --tensor imagenet` and by Pillow + numpy
# (bench/pillow_tensors.py: draft, Lanczos resize, crop, normalise) in as many processes as
# cores, in one run. Each tool gets the photos from the page cache and an empty output
# folder; the tools take turns within each round. Prints one JSON object per tool and round,
# then the medians and imgpipe's images/s as a multiple of Pillow's (by wall time, and by CPU
# time, which a machine shared with other work disturbs less).
#
#   bench/tensors.sh        (SIZE=camera N=3, JOBS=cores, ROUNDS=5; see bench/imgpipe.sh)
#   PHOTOS=~/datasets/val bench/tensors.sh
#
# Pillow and numpy are installed from Debian's archive when missing (python3-pil,
# python3-numpy; needs root or sudo). They are not test dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/timing.sh
N=${N:-3}
SIZE=${SIZE:-camera}
JOBS=${JOBS:-$(nproc)}
ROUNDS=${ROUNDS:-5}
DEVICE=${DEVICE:-cpu}
work=${WORK:-build/bench-tensors}
py=/usr/bin/python3 # Debian's Python, where python3-pil installs

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
"$py" -c 'import PIL' 2>/dev/null || need+=(python3-pil)
"$py" -c 'import numpy' 2>/dev/null || need+=(python3-numpy)
if [ ${#need[@]} -gt 0 ]; then
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$work"
go build -o "$work/imgpipe" ./cmd/imgpipe
photos=${PHOTOS:-build/bench-imgpipe/photos-$SIZE}
[ -n "${PHOTOS:-}" ] || go run ./bench/photos -out "$photos" -n "$N" -size "$SIZE" >&2
count=$(find "$photos" -maxdepth 1 -name '*.jpg' | wc -l)
cat "$photos"/*.jpg >/dev/null

run_imgpipe() {
	"$work/imgpipe" --in "$photos" --out "$1" --tensor imagenet --device "$DEVICE" \
		--workers "$JOBS" --progress none --quiet
}
run_pillow() { "$py" bench/pillow_tensors.py "$photos" "$1" "$JOBS" >/dev/null; }

# rows counts the rows of every shard in a folder, from the .npy headers.
rows() {
	"$py" -c 'import sys, glob, numpy
print(sum(numpy.load(f, mmap_mode="r").shape[0] for f in glob.glob(sys.argv[1] + "/*.npy")))' "$1"
}

declare -A times cpus
for round in $(seq "$ROUNDS"); do
	for tool in imgpipe pillow; do
		out="$work/out-$tool"
		rm -rf "$out"
		timed "run_$tool" "$out"
		made=$(rows "$out")
		[ "$made" -eq "$count" ] || { echo "bench: $tool made $made rows of $count" >&2; exit 1; }
		printf '{"tool":"%s","round":%d,"images":%d,"seconds":%.3f,"cpu_seconds":%.3f,"images_per_s":%.1f,"jobs":%d}\n' \
			"$tool" "$round" "$count" "$secs" "$cpu" "$(echo "$count / $secs" | bc -l)" "$JOBS"
		times[$tool]="${times[$tool]:-} $secs"
		cpus[$tool]="${cpus[$tool]:-} $cpu"
	done
done
mi=$(median "${times[imgpipe]}") mp=$(median "${times[pillow]}")
ci=$(median "${cpus[imgpipe]}") cp=$(median "${cpus[pillow]}")
printf '{"median_images_per_s":{"imgpipe":%.1f,"pillow_numpy":%.1f},"median_cpu_seconds":{"imgpipe":%.3f,"pillow_numpy":%.3f},"imgpipe_vs_pillow_numpy":%.2f,"imgpipe_vs_pillow_numpy_cpu":%.2f,"photos":"%s","images":%d,"jobs":%d,"device":"%s"}\n' \
	"$(echo "$count / $mi" | bc -l)" "$(echo "$count / $mp" | bc -l)" "$ci" "$cp" "$(echo "$mp / $mi" | bc -l)" "$(echo "$cp / $ci" | bc -l)" "$photos" "$count" "$JOBS" "$DEVICE"
