#!/usr/bin/env bash
# Speed and size of imgpipe's WebP and AVIF encoders and decoders against the reference
# tools, on one generated 1600×1200 photo-like picture:
#   cwebp -q 75 -m 4, cwebp -lossless, avifenc -s 8 (its quantizers set to match quality 50),
#   dwebp, avifdec, heif-convert; and imgpipe's encoders and decoders through the Go
#   benchmarks BenchmarkEncodeFormats and BenchmarkDecodeFormats (JPEG the baseline), given
#   the same picture. Sizes are in bytes; PSNR is against the picture, in dB (Pillow + numpy).
#
#   bench/codecs.sh [workdir]      # needs: webp, libavif-bin, libheif-examples, vips
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/codecs}
mkdir -p "$dir"
go run ./bench/photos -out "$dir" -n 1 -size 1600x1200 >/dev/null
vips copy "$dir/sample-0000.jpg" "$dir/src.png"
src=$(cd "$dir" && pwd)/src.png

py=python3
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import numpy, PIL' 2>/dev/null; then py=$p; break; fi
done

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
psnr() {
	"$py" - "$src" "$1" <<'PY'
import sys, numpy as np
from PIL import Image
a = np.asarray(Image.open(sys.argv[1]).convert("RGB"), float)
b = np.asarray(Image.open(sys.argv[2]).convert("RGB"), float)
print(f"{10 * np.log10(255**2 / np.mean((a - b) ** 2)):.1f}")
PY
}

echo "reference tools (seconds, bytes, PSNR)"
t=$(secs cwebp -quiet -q 75 -m 4 "$src" -o "$dir/c.webp"); echo "cwebp -q 75      $t s $(stat -c %s "$dir/c.webp") B $(dwebp -quiet "$dir/c.webp" -o "$dir/c.webp.png"; psnr "$dir/c.webp.png") dB"
t=$(secs cwebp -quiet -lossless "$src" -o "$dir/l.webp"); echo "cwebp -lossless  $t s $(stat -c %s "$dir/l.webp") B"
t=$(secs avifenc -s 8 --min 0 --max 63 -a end-usage=q -a cq-level=32 "$src" "$dir/a.avif"); echo "avifenc -s 8     $t s $(stat -c %s "$dir/a.avif") B $(avifdec "$dir/a.avif" "$dir/a.avif.png" >/dev/null; psnr "$dir/a.avif.png") dB"
t=$(secs dwebp "$dir/c.webp" -o "$dir/d.png"); echo "dwebp            $t s"
t=$(secs avifdec "$dir/a.avif" "$dir/d.png"); echo "avifdec          $t s"
t=$(secs heif-convert "$dir/a.avif" "$dir/d.png"); echo "heif-convert     $t s"

echo
echo "imgpipe (go test -bench; same picture)"
GPUPIPE_BENCH_IMAGE=$src go test ./stages/imageio -run '^$' -bench 'BenchmarkEncodeFormats|BenchmarkDecodeFormats' -benchtime 2x | grep -E '^(Benchmark|ok|FAIL|---)'
