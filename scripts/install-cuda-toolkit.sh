#!/usr/bin/env bash
# Installs the CUDA toolkit (nvcc, ptxas, cuda.h, libcuda) from Debian's archive on a Debian 12
# machine, with or without a GPU, so that the cuda build can be compiled and its PTX checked.
# Debian ships CUDA 11.8 as nvidia-cuda-toolkit in the non-free component; this enables the
# contrib and non-free components of the archive the machine already uses (read from its own
# apt sources), then installs the package. It does nothing when nvcc and cuda.h are present.
# About 80 s and 3 GB of disk on a new machine.
set -euo pipefail

if command -v nvcc >/dev/null 2>&1 && [ -f /usr/include/cuda.h ]; then
	echo "install-cuda-toolkit: already installed: $(nvcc --version | tail -1)"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-cuda-toolkit: needs root (apt-get); run it with sudo" >&2
	exit 1
fi

src=/etc/apt/sources.list.d/debian.sources
dst=/etc/apt/sources.list.d/debian-nonfree.sources
if [ ! -f "$dst" ] && ! grep -rqs 'non-free' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	[ -f "$src" ] || { echo "install-cuda-toolkit: no $src to derive the archive from" >&2; exit 1; }
	# Keep the first stanza's URIs and Signed-By; take only the release suite; add contrib non-free.
	awk '
		/^URIs:/ && !uri { uri=$0 }
		/^Suites:/ && !suite { suite=$2 }
		/^Signed-By:/ && !key { key=$0 }
		END {
			if (!uri || !suite) exit 1
			print "Types: deb"; print uri; print "Suites: " suite
			print "Components: contrib non-free"; if (key) print key
		}' "$src" >"$dst"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends nvidia-cuda-toolkit >/dev/null
echo "install-cuda-toolkit: $(nvcc --version | tail -1)"
