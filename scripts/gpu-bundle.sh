#!/usr/bin/env bash
# Builds everything a GPU machine needs to prove the cuda build, into build/gpu/ (ignored by
# git): one test binary per package that has cuda tests (go test -c -tags cuda) with the list
# of its tests and benchmarks (tests.txt), the imgpipe command built with -tags cuda when
# cmd/imgpipe exists, run.sh (scripts/gpu-run.sh), which runs them all there and writes the
# summary to $OUT, and a MANIFEST. The GPU machine needs the NVIDIA driver and nothing else:
# no Go, no network, no source tree.
#
# Usage: scripts/gpu-bundle.sh    (from anywhere inside the repository)
# Then, on the GPU machine, in a copy of the repository root holding build/gpu:
#        OUT=<folder> bash build/gpu/run.sh    (see docs/GPU.md; OUT defaults to build/gpu-results)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dest=build/gpu

say() { printf 'gpu-bundle: %s\n' "$*"; }

[ -f /usr/include/cuda.h ] || [ -f /usr/local/cuda/include/cuda.h ] || [ -f /opt/cuda/include/cuda.h ] ||
	[ -n "${CGO_CFLAGS:-}" ] || { say "cuda.h not found: install the CUDA toolkit (see scripts/gpu-ci.sh)" >&2; exit 1; }

rm -rf "$dest"
mkdir -p "$dest/tests"

# A package has cuda tests when one of its test files carries a build constraint naming cuda.
cuda_test_packages() {
	go list -tags cuda -f '{{.ImportPath}} {{.Dir}}{{range .TestGoFiles}} {{.}}{{end}}{{range .XTestGoFiles}} {{.}}{{end}}' ./... |
		while read -r pkg dir files; do
			for f in $files; do
				if grep -qE '^//go:build .*\bcuda\b' "$dir/$f"; then
					echo "$pkg $dir"
					break
				fi
			done
		done
}

module=$(go list -m)
count=0
while read -r pkg dir; do
	rel=${pkg#"$module"/}
	name=${rel//\//-}
	say "test binary $name ($pkg)"
	mkdir -p "$dest/tests/$name"
	go test -c -tags cuda -o "$dest/tests/$name/$name.test" "$pkg"
	# Tests run in their package's folder; give them its testdata.
	[ -d "$dir/testdata" ] && cp -r "$dir/testdata" "$dest/tests/$name/"
	# The tests and benchmarks of the cuda build, for run.sh to plan its steps: listing them
	# with the binary (-test.list) would start the driver.
	go list -tags cuda -f '{{range .TestGoFiles}}{{$.Dir}}/{{.}} {{end}}{{range .XTestGoFiles}}{{$.Dir}}/{{.}} {{end}}' "$pkg" |
		xargs grep -ohE '^func (Test|Benchmark)[A-Za-z0-9_]*\(' | sed 's/^func //; s/($//' | grep -vx TestMain |
		sort >"$dest/tests/$name/tests.txt"
	count=$((count + 1))
done < <(cuda_test_packages)

if [ -d cmd/imgpipe ]; then
	say "imgpipe (-tags cuda)"
	go build -tags cuda -o "$dest/imgpipe" ./cmd/imgpipe
fi

# imgpipe loads libjpeg-turbo at run time when it finds it; the GPU machine may have none,
# and the Go decoder would then make the JPEG numbers the decoder's. The library needs only
# libc.
turbo=$(ldconfig -p 2>/dev/null | awk '!found && /libturbojpeg\.so\.0 .*x86-64/ {print $NF; found = 1}')
if [ -f "$dest/imgpipe" ] && [ -n "$turbo" ]; then
	mkdir -p "$dest/lib"
	cp -L "$turbo" "$dest/lib/libturbojpeg.so.0"
fi

cp scripts/gpu-run.sh "$dest/run.sh"
chmod +x "$dest/run.sh"
{
	echo "commit:  $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with local changes)')"
	echo "built:   $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m)"
	echo "go:      $(go version | cut -d' ' -f3-)"
	echo "cuda.h:  $(grep -m1 '#define CUDA_VERSION' /usr/include/cuda.h /usr/local/cuda/include/cuda.h 2>/dev/null | awk 'NR == 1 {print $NF}')"
	echo "glibc:   needs $(objdump -T "$dest"/tests/*/*.test "$dest"/imgpipe "$dest"/lib/*.so* 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1) or newer"
	echo "tests:   $(cd "$dest/tests" && for d in */; do printf '%s (%s tests, %s benchmarks) ' "${d%/}" \
		"$(grep -c '^Test' "$d/tests.txt")" "$(grep -c '^Benchmark' "$d/tests.txt")"; done)"
} >"$dest/MANIFEST"

size=$(du -sm "$dest" | cut -f1)
say "$count test binaries$([ -f "$dest/imgpipe" ] && echo ' and imgpipe') in $root/$dest (${size} MiB)"
# The device tool carries at most 64 MiB with the working tree.
[ "$size" -le 48 ] || say "warning: ${size} MiB is a lot to carry to a GPU machine (64 MiB with the working tree)" >&2
say "on the GPU machine, from the repository root (the device tool: carry [\"$dest\"], timeout_s 600):"
echo
echo "    OUT=\$OUT bash $dest/run.sh                             # every phase, at most $(env -u PHASES -u BENCHTIME bash "$dest/run.sh" --budget) s"
echo "    OUT=\$OUT PHASES=bench BENCHTIME=1s bash $dest/run.sh   # a second call, at most $(env PHASES=bench BENCHTIME=1s bash "$dest/run.sh" --budget) s"
echo
