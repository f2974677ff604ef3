#!/usr/bin/env bash
# The JetStream work queue on this machine, against an embedded server: messages per second
# through the queue alone, the queue's overhead per image (tiny images, a trivial operation,
# a worker against a local run), and photos per second with one and with two worker
# processes against a local run. Prints one JSON object per measurement (bench/queue/main.go
# says what each is).
#
#   bench/queue.sh      (MESSAGES=5000 TINY=1000 PHOTOS=120 WORKERS=1; set them to change)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${WORK:-build/bench-queue}
mkdir -p build
go build -o build/imgpipe ./cmd/imgpipe
go run ./bench/queue -imgpipe build/imgpipe -work "$work" -messages "${MESSAGES:-5000}" \
	-tiny "${TINY:-1000}" -photos "${PHOTOS:-120}" -workers "${WORKERS:-1}"
