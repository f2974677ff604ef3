#!/usr/bin/env bash
# Runs the tests of the cuda build on a machine without a GPU, against a mock CUDA driver:
# gpu/cuda/testdata/mockdriver/mockcuda.c, a libcuda.so.1 that runs streams as CPU threads and
# kernels as C code (the image kernels through their CPU emulator in gpu/kernels/csrc). It
# checks what the Go code does with the driver (contexts made current on every thread that
# calls it, kernel parameters at their C sizes, asynchronous streams and events, sticky
# faults, the JIT log); what the GPU itself does is checked by the bundle (gpu-bundle.sh).
#
# Usage: scripts/gpu-mock.sh [go test flags]     e.g. scripts/gpu-mock.sh -race -v
# Needs gcc, g++, cuda.h and ptxas (the CUDA toolkit); builds into build/mockcuda/.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build/mockcuda

say() { printf 'gpu-mock: %s\n' "$*"; }

inc=""
for d in /usr/include /usr/local/cuda/include /opt/cuda/include; do
	[ -f "$d/cuda.h" ] && { inc="-I$d"; break; }
done
[ -n "$inc" ] || [ -n "${CGO_CFLAGS:-}" ] || { say "cuda.h not found: install the CUDA toolkit" >&2; exit 1; }
ptxas=${MOCKCUDA_PTXAS:-$(command -v ptxas || true)}
[ -n "$ptxas" ] || { say "ptxas not found: install the CUDA toolkit (the mock compiles PTX with it)" >&2; exit 1; }

mkdir -p "$dir"
# shellcheck disable=SC2086 # $inc and CGO_CFLAGS are lists of flags
gcc -std=gnu11 -O1 -g -fPIC -Wall -Wextra -Werror $inc ${CGO_CFLAGS:-} \
	-c gpu/cuda/testdata/mockdriver/mockcuda.c -o "$dir/mockcuda.o"
objs=("$dir/mockcuda.o")
if [ -f gpu/kernels/csrc/emu.cpp ]; then
	g++ -std=c++17 -O2 -fPIC -c gpu/kernels/csrc/emu.cpp -o "$dir/emu.o"
	objs+=("$dir/emu.o")
fi
g++ -shared -Wl,-soname,libcuda.so.1 -o "$dir/libcuda.so.1" "${objs[@]}" -lpthread

# Packages with cuda tests: a test file whose build constraint names cuda.
mapfile -t pkgs < <(go list -tags cuda -f '{{.Dir}}{{range .TestGoFiles}} {{.}}{{end}}{{range .XTestGoFiles}} {{.}}{{end}}' ./... |
	while read -r pkgdir files; do
		for f in $files; do
			if grep -qE '^//go:build .*\bcuda\b' "$pkgdir/$f"; then
				echo "./${pkgdir#"$PWD"/}"
				break
			fi
		done
	done)
say "mock driver built; testing ${pkgs[*]}"

export LD_LIBRARY_PATH="$PWD/$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export MOCKCUDA_PTXAS="$ptxas"
export MOCKCUDA_JITTER_US="${MOCKCUDA_JITTER_US:-50}"
export MOCKCUDA_DEVICES="${MOCKCUDA_DEVICES:-2}"
# After a trap, the last device's context cannot even be made current (TestLostContext).
if [ "$MOCKCUDA_DEVICES" -ge 2 ]; then
	export MOCKCUDA_LOSE_CONTEXT="${MOCKCUDA_LOSE_CONTEXT:-$((MOCKCUDA_DEVICES - 1))}"
fi
go test -tags cuda -count=1 "$@" "${pkgs[@]}"
# A fault breaks the context for the rest of the process: that test runs on its own.
GPUPIPE_CUDA_FAULTS=1 go test -tags cuda -count=1 -run 'Faults$' "$@" ./gpu/cuda
say "ok"
