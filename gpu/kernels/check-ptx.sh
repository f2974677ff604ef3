#!/bin/sh
# Checks the committed PTX: every module assembles for sm_90 (Hopper) with ptxas, and
# regenerating it from csrc/*.cu with nvcc gives the committed bytes. Needs the CUDA toolkit
# (the committed PTX was made by nvcc 11.8; another version may print different text).
set -eu
cd "$(dirname "$0")"
PTXAS=${PTXAS:-ptxas}
fail=0
for ptx in ptx/*.ptx; do
	if ! "$PTXAS" -arch=sm_90 -o /dev/null "$ptx"; then
		echo "check-ptx: $ptx does not assemble for sm_90" >&2
		fail=1
	fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sh gen-ptx.sh "$tmp"
for f in "$tmp"/*; do
	name=$(basename "$f")
	if [ ! -f "ptx/$name" ]; then
		echo "check-ptx: ptx/$name is missing; run go generate ./gpu/kernels" >&2
		fail=1
	elif ! cmp -s "$f" "ptx/$name"; then
		echo "check-ptx: ptx/$name differs from what csrc/ produces; run go generate ./gpu/kernels" >&2
		diff -u "ptx/$name" "$f" | head -40 >&2 || true
		fail=1
	fi
done
for f in ptx/*; do
	if [ ! -f "$tmp/$(basename "$f")" ]; then
		echo "check-ptx: $f is not generated from any source" >&2
		fail=1
	fi
done
[ "$fail" = 0 ] && echo "check-ptx: ok"
exit "$fail"
