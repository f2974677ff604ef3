#!/bin/sh
# Generates ptx/<name>.ptx from every csrc/<name>.cu with nvcc. Run by `go generate` in this
# directory; the output is committed and embedded.
#
# compute_75 (Turing) is the oldest architecture that current CUDA toolkits and drivers still
# support, and the kernels use nothing newer, so one PTX module runs on every GPU a current
# driver knows: the driver compiles it for the actual chip (sm_90 on an H100) when it is loaded.
#
# -fmad=false keeps a*b+c as a multiply and an add, each rounded, as the Go implementation
# and the CPU emulation compute it; fused multiply-adds would change results in the last bit.
# The kernels should be limited by memory traffic rather than arithmetic, so the separate
# multiplies and adds are expected to cost little; gpu/cuda's BenchmarkImageKernels measures
# the bandwidth they reach.
set -eu
cd "$(dirname "$0")"
NVCC=${NVCC:-nvcc}
OUT=${1:-ptx}
mkdir -p "$OUT"
for cu in csrc/*.cu; do
	name=$(basename "$cu" .cu)
	"$NVCC" -ptx -arch=compute_75 -fmad=false -prec-div=true -prec-sqrt=true -ftz=false \
		-o "$OUT/$name.ptx" "$cu"
done
# The sources the PTX was made from, so that a Go test can tell stale PTX without nvcc.
sha256sum csrc/*.cu csrc/*.cuh >"$OUT/sources.sha256"
