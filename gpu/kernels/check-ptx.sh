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
for cu in csrc/*.cu; do
	name=$(basename "$cu" .cu)
	if [ ! -f "ptx/$name.ptx" ]; then
		echo "check-ptx: ptx/$name.ptx is missing; run go generate ./gpu/kernels" >&2
		fail=1
	elif ! cmp -s "$tmp/$name.ptx" "ptx/$name.ptx"; then
		echo "check-ptx: ptx/$name.ptx differs from what $cu produces; run go generate ./gpu/kernels" >&2
		diff -u "ptx/$name.ptx" "$tmp/$name.ptx" | head -40 >&2 || true
		fail=1
	fi
done
for ptx in ptx/*.ptx; do
	name=$(basename "$ptx" .ptx)
	if [ ! -f "csrc/$name.cu" ]; then
		echo "check-ptx: $ptx has no source csrc/$name.cu" >&2
		fail=1
	fi
done
[ "$fail" = 0 ] && echo "check-ptx: ok"
exit "$fail"
