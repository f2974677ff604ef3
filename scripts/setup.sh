#!/usr/bin/env bash
# Prepares a fresh Debian or Ubuntu machine that has Go 1.26 for building and testing gpupipe:
#   - libturbojpeg0: libjpeg-turbo, loaded at run time for fast JPEG decoding (optional for
#     users, required by the tests, which check that it is used where it is installed);
#   - the CUDA toolkit (nvcc, ptxas, cuda.h, libcuda), to compile the cuda build and check the
#     kernels' PTX; no GPU is needed (scripts/install-cuda-toolkit.sh);
#   - python3-numpy, with which the tests also read the .npy shards back;
#   - liblcms2-2: Little CMS, loaded at run time for LUT-based colour profiles, and
#     libvips-tools, whose colour conversions the colour-management tests compare with;
#   - libheif1: HEIC and AVIF decoding, loaded at run time (optional for users, required by
#     the tests); python3-pil: Pillow, the reference decoder the image tests compare with;
#   - the Go modules of go.sum.
# Packages already there are left alone. Needs root, or sudo, for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		say "need root to run: $*" >&2
		exit 1
	fi
}

missing=()
for pkg in libturbojpeg0 python3-numpy liblcms2-2 libvips-tools libheif1 python3-pil; do
	dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
as_root scripts/install-cuda-toolkit.sh
say "downloading Go modules"
go mod download
say "ok: $(go version), $(nvcc --version | tail -1)"
