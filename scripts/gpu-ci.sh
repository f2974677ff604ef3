#!/usr/bin/env bash
# Checks the cuda build of gpupipe on a machine without a GPU: vets and builds every package
# with -tags cuda, compiles and links every test binary of that build without running it
# (a cuda binary exits at start where there is no GPU), assembles every committed PTX file
# for sm_90, runs the cuda tests with the race detector against the mock CUDA driver
# (scripts/gpu-mock.sh), then builds the GPU bundle (scripts/gpu-bundle.sh) and runs all of
# it, run.sh with every phase, against the mock: the benchmarks once each on small data, and
# imgpipe on a few small photos. Fails on the first error. Installs nothing: it needs the CUDA
# toolkit's cuda.h, libcuda and ptxas, and g++, and says so when they are missing.
#
# Usage: scripts/gpu-ci.sh    (from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'gpu-ci: %s\n' "$*"; }
fail() { say "$*" >&2; exit 1; }

# cgo finds cuda.h in the default include path or in the places gorgonia.org/cu adds;
# CGO_CFLAGS may name another.
find_header() {
	local d
	for d in /usr/include /usr/local/cuda/include /opt/cuda/include; do
		[ -f "$d/cuda.h" ] && { echo "$d/cuda.h"; return 0; }
	done
	case "${CGO_CFLAGS:-}" in *-I*) echo "(CGO_CFLAGS: $CGO_CFLAGS)"; return 0 ;; esac
	return 1
}

header=$(find_header) || fail "cuda.h not found in /usr/include, /usr/local/cuda/include or /opt/cuda/include.
  Install the CUDA toolkit first (Debian: apt-get install nvidia-cuda-toolkit, from the
  contrib and non-free components), or point CGO_CFLAGS=-I<dir> and CGO_LDFLAGS=-L<dir> at it."
say "cuda.h: $header"
if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so' &&
	! ls /usr/local/cuda/lib64/stubs/libcuda.so /usr/lib/x86_64-linux-gnu/libcuda.so >/dev/null 2>&1; then
	say "warning: libcuda.so not found by ldconfig; linking may fail (install the toolkit or set CGO_LDFLAGS)"
fi

say "go vet -tags cuda ./..."
go vet -tags cuda ./...
say "go build -tags cuda ./..."
go build -tags cuda ./...
say "compiling every test binary of the cuda build (not running them)"
# -exec /bin/true links each test binary and runs /bin/true in its place; the "ok" lines it
# prints would read as passed tests, so only failures are shown.
go test -tags cuda -count=1 -run '^$' -exec /bin/true ./... | { grep -v -e '^ok' -e 'no test files' || true; }

mapfile -t ptx < <(git ls-files '*.ptx')
if [ "${#ptx[@]}" -gt 0 ]; then
	command -v ptxas >/dev/null || fail "ptxas not found: install the CUDA toolkit to check ${#ptx[@]} PTX file(s)"
	for f in "${ptx[@]}"; do
		ptxas -arch=sm_90 -o /dev/null "$f" || fail "$f does not assemble for sm_90"
	done
	say "${#ptx[@]} PTX file(s) assemble for sm_90"
fi

say "running the cuda tests against the mock driver"
scripts/gpu-mock.sh -race

# The bundle as a GPU machine runs it, against the mock: every step must end PASS (or WARN:
# the mock lacks most driver entry points, which the LD_BIND_NOW check reports), and $OUT
# must hold no more than the device tool brings back.
say "the GPU bundle's run.sh against the mock driver"
bundle_start=$SECONDS
scripts/gpu-bundle.sh | grep -v '^ *$'
smoke=build/gpu-smoke
rm -rf "$smoke/out" "$smoke/results"
go run ./bench/photos -out "$smoke/photos" -n 8 -size 160x120 -quality 80
if ! LD_LIBRARY_PATH="$PWD/build/mockcuda${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" MOCKCUDA_PTXAS="$(command -v ptxas)" \
	GPUPIPE_BENCH_SMALL=1 BENCHTIME=1x IMGPIPE_IN="$PWD/$smoke/photos" OUT="$smoke/out" RESULTS="$smoke/results" \
	NUMA=off bash build/gpu/run.sh >"$smoke/run.txt" 2>&1; then
	cat "$smoke/run.txt" >&2
	fail "run.sh failed against the mock driver (summary: $smoke/out/results.md)"
fi
grep -q '"state":"done: ' "$smoke/out/results.json" || fail "run.sh left no finished summary in $smoke/out/results.json"
files=$(find "$smoke/out" -type f | wc -l)
[ "$files" -le 8 ] || fail "run.sh wrote $files files to \$OUT; the device tool brings back 8"
say "run.sh: $(grep -o 'done: [^;]*' "$smoke/out/results.json") (bundle and run: $((SECONDS - bundle_start)) s)"
say "ok"
