#!/usr/bin/env bash
# Real photographs for the benchmarks: the JPEG wallpapers of Debian's KDE Plasma, MATE and
# UKUI wallpaper packages (photos of nature, animals and objects, with a few renders, from
# 1.1 to 17.9 megapixels, 4:4:4, 4:2:2 and 4:2:0 subsampling, as cameras and editors wrote
# them). Generated photos decode differently: their entropy, subsampling and sizes are ours.
#
#   bench/real-photos.sh [DIR]          (default build/real-photos; prints DIR)
#   PHOTOS=$(bench/real-photos.sh) bench/imgpipe.sh
#
# The packages are fetched with `apt-get download` (no root needed) and unpacked with
# dpkg-deb; nothing is installed. Files that are byte-identical are kept once; each is named
# after its package and path so the set is the same on every machine.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/real-photos}
if [ -n "$(find "$dir" -maxdepth 1 -name '*.jpg' 2>/dev/null | head -1)" ]; then
	echo "$dir"
	exit 0
fi
pkgs=(plasma-workspace-wallpapers mate-backgrounds ukui-wallpapers)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download "${pkgs[@]}" >/dev/null 2>&1) || {
	echo "real-photos: apt-get download ${pkgs[*]} failed (is Debian's archive reachable?)" >&2
	exit 1
}
mkdir -p "$dir"
for deb in "$tmp"/*.deb; do
	dpkg-deb -x "$deb" "$tmp/root"
done
declare -A seen
while IFS= read -r -d '' f; do
	sum=$(sha256sum "$f" | cut -c1-16)
	[ -z "${seen[$sum]:-}" ] || continue
	seen[$sum]=1
	name=$(echo "${f#"$tmp"/root/usr/share/}" | sed 's#/contents/images##; s#[/ ]#-#g')
	cp "$f" "$dir/${name%.*}.jpg"
done < <(find "$tmp/root" -type f \( -iname '*.jpg' -o -iname '*.jpeg' \) -size +100k -print0 | sort -z)
echo "$dir"
