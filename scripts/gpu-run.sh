#!/bin/sh
# Runs the GPU bundle that scripts/gpu-bundle.sh builds (it is copied there as run.sh), on a
# machine with an NVIDIA GPU and its driver; nothing else is needed. For each test binary it
# runs the tests, the fault test (in a process of its own: a fault breaks the CUDA context
# for the rest of the process) and the benchmarks, then writes to $OUT:
#   results.md, results.json   the summary and every measurement, as tables and as JSON
#   <binary>/cuda-results.*    the measurements of one binary
#   <binary>.*.txt             the full output of each run
#   machine.txt, nvidia-smi.txt
# Exit status 0 when every run passed.
#
# Usage: OUT=<folder> build/gpu/run.sh     (OUT defaults to build/gpu/results)
# BENCHTIME (default 1s) is passed to -test.benchtime; GPUPIPE_CUDA_DEVICE picks the GPU.
set -u
here=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$here/results}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
benchtime=${BENCHTIME:-1s}
status=0
rows=""

log() { printf '%s\n' "$*" | tee -a "$OUT/run.log"; }

# outcome FILE RC: PASS or FAIL with the count of top-level tests passed, failed and skipped,
# or the first line of output when no test ran (a binary that cannot start the driver
# prints why and exits at once).
outcome() {
	p=$(grep -c '^--- PASS' "$1")
	f=$(grep -c '^--- FAIL' "$1")
	s=$(grep -c '^--- SKIP' "$1")
	if [ "$2" -eq 0 ]; then r=PASS; else r=FAIL; fi
	if [ $((p + f + s)) -eq 0 ] && [ "$2" -ne 0 ]; then
		echo "$r (no test ran: $(head -c 160 "$1" | head -1 | tr -d '|"\134'))"
		return
	fi
	echo "$r ($p passed, $f failed, $s skipped)"
}

{
	cat "$here/MANIFEST"
	echo "ran:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	uname -a
} >"$OUT/machine.txt" 2>&1
gpu="unknown GPU"
if command -v nvidia-smi >/dev/null 2>&1; then
	nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
	gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
fi
log "GPU: $gpu"

for dir in "$here"/tests/*/; do
	name=$(basename "$dir")
	bin="$dir$name.test"
	[ -x "$bin" ] || continue
	log "== $name: tests"
	(cd "$dir" && "$bin" -test.v -test.count=1 -test.timeout=4m) >"$OUT/$name.tests.txt" 2>&1
	rc=$?
	tests=$(outcome "$OUT/$name.tests.txt" $rc)
	[ $rc -eq 0 ] || status=1
	log "   $tests"

	faults="none"
	if "$bin" -test.list 'Faults$' 2>/dev/null | grep -q '^Test'; then
		log "== $name: fault test"
		(cd "$dir" && GPUPIPE_CUDA_FAULTS=1 "$bin" -test.v -test.count=1 -test.run 'Faults$' -test.timeout=2m) \
			>"$OUT/$name.faults.txt" 2>&1
		rc=$?
		faults=$(outcome "$OUT/$name.faults.txt" $rc)
		[ $rc -eq 0 ] || status=1
		log "   $faults"
	fi

	bench="none"
	if "$bin" -test.list '^Benchmark' 2>/dev/null | grep -q '^Benchmark'; then
		log "== $name: benchmarks"
		(cd "$dir" && OUT="$OUT/$name" "$bin" -test.run '^$' -test.bench . -test.benchtime="$benchtime" \
			-test.timeout=6m) >"$OUT/$name.bench.txt" 2>&1
		rc=$?
		if [ $rc -eq 0 ]; then bench=PASS; else bench=FAIL; status=1; fi
		log "   $bench"
	fi
	rows="$rows| $name | $tests | $faults | $bench |
"
	jrows="${jrows:+$jrows,}{\"binary\":\"$name\",\"tests\":\"$tests\",\"faults\":\"$faults\",\"benchmarks\":\"$bench\"}"
done

# field FILE NAME: a number from a run report (JSON written by imgpipe --report).
field() { sed -n "s/.*\"$2\": *\([0-9.e+-]*\).*/\1/p" "$1" | head -1; }
summary() {
	printf '%s images in %ss (%s images/s), slowest stage %s' "$(field "$1" done)" \
		"$(field "$1" seconds)" "$(field "$1" files_per_second)" \
		"$(sed -n 's/.*"bottleneck": *"\([^"]*\)".*/\1/p' "$1" | head -1)"
}

imgpipe="not in the bundle"
if [ -x "$here/imgpipe" ]; then
	log "== imgpipe"
	"$here/imgpipe" -h >"$OUT/imgpipe.txt" 2>&1
	# -h exits 0; an exit at start (no driver) is 1.
	case $? in 0) imgpipe="starts" ;; *) imgpipe="FAILS to start"; status=1 ;; esac
	log "   $imgpipe"
	# End to end: the same generated photos made into PNG thumbnails on the CPU device and on
	# the GPU must give the same bytes (the kernels compute identical results), then JPEG
	# thumbnails with bigger batches for speed.
	demo="$OUT/imgpipe-demo"
	for dev in cpu cuda; do
		"$here/imgpipe" --demo "$demo" --device "$dev" --out "$demo/$dev-png" --format png \
			--progress plain --report "$demo/$dev-png.json" >"$OUT/imgpipe.$dev-png.txt" 2>&1 || status=1
	done
	if [ -f "$demo/cuda-png.json" ] && diff -r "$demo/cpu-png" "$demo/cuda-png" >"$OUT/imgpipe.diff.txt" 2>&1; then
		same="identical"
	else
		same="DIFFERENT (imgpipe.diff.txt)"
		status=1
	fi
	"$here/imgpipe" --demo "$demo" --device cuda --out "$demo/cuda-jpeg" --batch 64 \
		--progress plain --report "$demo/cuda-jpeg.json" >"$OUT/imgpipe.cuda-jpeg.txt" 2>&1 || status=1
	"$here/imgpipe" --demo "$demo" --device cuda --out "$demo/tensors" --tensor imagenet --batch 64 \
		--progress plain --report "$demo/tensors.json" >"$OUT/imgpipe.tensors.txt" 2>&1 || status=1
	imgpipe="$imgpipe; PNG thumbnails on cpu and cuda: $same"
	imgpipe_runs="- cpu, PNG: $(summary "$demo/cpu-png.json")
- cuda, PNG: $(summary "$demo/cuda-png.json")
- cuda, JPEG, batch 64: $(summary "$demo/cuda-jpeg.json")
- cuda, --tensor imagenet, batch 64: $(summary "$demo/tensors.json")"
	log "   $imgpipe"
	log "$imgpipe_runs"
fi

date=$(date -u +%Y-%m-%d)
{
	echo "# gpupipe on $gpu, $date"
	echo
	echo '```'
	cat "$OUT/machine.txt"
	echo '```'
	echo
	echo "| binary | tests | fault test | benchmarks |"
	echo "|---|---|---|---|"
	printf '%s' "$rows"
	echo
	echo "imgpipe (-tags cuda): $imgpipe"
	[ -z "${imgpipe_runs:-}" ] || { echo; echo "$imgpipe_runs"; }
	for f in "$OUT"/*/cuda-results.md; do
		[ -f "$f" ] || continue
		echo
		echo "## $(basename "$(dirname "$f")")"
		echo
		cat "$f"
	done
} >"$OUT/results.md"

{
	printf '{"date":"%s","gpu":"%s","status":%d,"imgpipe":"%s","binaries":[%s],"results":[' \
		"$date" "$gpu" "$status" "$imgpipe" "${jrows:-}"
	first=1
	for f in "$OUT"/*/cuda-results.json; do
		[ -f "$f" ] || continue
		[ $first -eq 1 ] || printf ','
		first=0
		cat "$f"
	done
	echo ']}'
} >"$OUT/results.json"

log "results: $OUT/results.md"
exit $status
