#!/bin/sh
# Generates the PTX of the test kernels with nvcc, the way gpu/kernels/gen-ptx.sh makes the
# image kernels' PTX: compute_75 (the oldest architecture current toolkits and drivers still
# support; the driver compiles it for the GPU it finds, sm_90 on an H100 or H200) and
# arithmetic rounded as written (no fused multiply-adds), so that the Go implementations and
# the mock driver compute the same bits.
#
#   gpu/cuda/testdata/cudatest.cu -> gpu/cuda/testdata/cudatest.ptx   (the tests of gpu/cuda)
#   gpu/gputest/saxpy.cu          -> gpu/gputest/saxpy.ptx            (the conformance suite)
#
# The output is committed and embedded. Run by `go generate ./gpu/cuda ./gpu/gputest`.
#
# Usage: scripts/gen-test-ptx.sh           regenerate the committed files
#        scripts/gen-test-ptx.sh --check   check them: each assembles for sm_90 with ptxas,
#                                          and regenerating gives the committed bytes (the
#                                          committed PTX was made by nvcc 11.8; another
#                                          version may print different text)
set -eu
cd "$(dirname "$0")/.."
NVCC=${NVCC:-nvcc}
PTXAS=${PTXAS:-ptxas}

# source output pairs
pairs="gpu/cuda/testdata/cudatest.cu gpu/cuda/testdata/cudatest.ptx
gpu/gputest/saxpy.cu gpu/gputest/saxpy.ptx"

gen() { # gen SRC OUT
	"$NVCC" -ptx -arch=compute_75 -fmad=false -prec-div=true -prec-sqrt=true -ftz=false -o "$2" "$1"
}

if [ "${1:-}" != "--check" ]; then
	echo "$pairs" | while read -r src out; do
		gen "$src" "$out"
	done
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
# A pipe would run the loop in a subshell, losing fail: read from a file instead.
echo "$pairs" >"$tmp/pairs"
while read -r src out; do
	if ! "$PTXAS" -arch=sm_90 -o /dev/null "$out"; then
		echo "gen-test-ptx: $out does not assemble for sm_90" >&2
		fail=1
	fi
	gen "$src" "$tmp/new.ptx"
	if ! cmp -s "$tmp/new.ptx" "$out"; then
		echo "gen-test-ptx: $out differs from what $src produces; run scripts/gen-test-ptx.sh" >&2
		diff -u "$out" "$tmp/new.ptx" | head -40 >&2 || true
		fail=1
	fi
done <"$tmp/pairs"
[ "$fail" = 0 ] && echo "gen-test-ptx: ok (test PTX at compute_75, assembles for sm_90, matches its source)"
exit "$fail"
