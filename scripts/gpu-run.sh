#!/usr/bin/env bash
# Runs the GPU bundle that scripts/gpu-bundle.sh builds (copied there as run.sh) on a machine
# with an NVIDIA GPU and its driver; it needs nothing else (no Go, no network, no sources).
# It is made for a GPU lent for minutes: every step runs under its own timeout, the whole
# run under a budget, and the summary is rewritten after every step, so that a hang, a time
# limit or a kill still leaves a summary of what ran.
#
# Phases (PHASES, comma-separated; default preflight,tests,bench,imgpipe):
#   preflight  the machine, glibc against what the binaries need, libcuda.so.1, the driver,
#              an LD_BIND_NOW=1 symbol check of each binary (a warning only), nvidia-smi,
#              persistence mode, MIG, CUDA_VISIBLE_DEVICES, nvidia-smi topo -m and the GPU's
#              NUMA node, and the first driver call (TestInfo), timed: process start + cuInit
#   tests      each test binary's tests; each fault test (Test*Faults) in a process of its own
#              (a fault breaks the CUDA context for the rest of its process)
#   bench      each benchmark in a process of its own, at -test.benchtime=$BENCHTIME
#   imgpipe    imgpipe (-tags cuda) end to end on generated photos: PNG thumbnails on the CPU
#              device and on the GPU must be byte-identical; JPEG thumbnails and ImageNet
#              tensors on the GPU, with images/s and the slowest stage
#
# Output. $OUT (default: the results folder) receives four files, and only these, rewritten
# after every step:
#   results.md, results.json   the summary: every step with its status, time and timeout,
#                              then every measurement; "in progress" names the running step
#   logs.tar.gz                the results folder's logs and data (each step's full output,
#                              nvidia-smi, topology, benchmark results, imgpipe reports)
#   run.log                    progress, one line per step
# The results folder (RESULTS, default build/gpu-results, beside the bundle) holds everything,
# including the driver's JIT cache (CUDA_CACHE_PATH) and the imgpipe photos.
#
# Settings (environment):
#   PHASES=tests,bench     which phases run (preflight is cheap and checks what the others need)
#   BENCHTIME=200ms        -test.benchtime of the benchmarks (1s for steadier numbers, 1x once)
#   BUDGET=530             seconds for the whole run; a step never runs past it
#   GPUPIPE_CUDA_DEVICE=0  the GPU the tests use
#   IMGPIPE_IN=folder      photos for the imgpipe phase instead of generating 200 (CI)
#   NUMA=off               do not pin to the GPU's NUMA node
# Exit status: 0 when every step passed (warnings allowed).
#
# Usage: OUT=<folder> bash build/gpu/run.sh
#        bash build/gpu/run.sh --plan      the steps, their timeouts and the budget; runs nothing
set -u
here=$(cd "$(dirname "$0")" && pwd)
self="$here/$(basename "$0")"

# Beside the bundle, not in it: build/gpu travels to the GPU machine, its results must not.
RESULTS=$(realpath -m "${RESULTS:-$(dirname "$here")/gpu-results}")
OUT=$(realpath -m "${OUT:-$RESULTS}")
export RESULTS OUT
export PHASES=${PHASES:-preflight,tests,bench,imgpipe}
export BENCHTIME=${BENCHTIME:-200ms}
export BUDGET=${BUDGET:-530}
export GPUPIPE_CUDA_DEVICE=${GPUPIPE_CUDA_DEVICE:-0}
# The driver's JIT cache: each PTX module is compiled for the GPU once and reused by every
# later process of the run (and by a later run on the same machine).
export CUDA_CACHE_PATH=${CUDA_CACHE_PATH:-$RESULTS/cuda-cache}
export CUDA_CACHE_MAXSIZE=${CUDA_CACHE_MAXSIZE:-1073741824}

# ms: milliseconds since the epoch (bash's clock where it has one: forks are slow on a busy
# machine, and the summary is rewritten often).
ms() {
	if [ -n "${EPOCHREALTIME:-}" ]; then
		local t=${EPOCHREALTIME//[.,]/}
		echo "${t:0:${#t}-3}"
	else
		date +%s%3N
	fi
}
# secs A B: the seconds from A to B (milliseconds), with two decimals.
secs() {
	local d=$(($2 - $1))
	printf '%d.%02d' $((d / 1000)) $((d % 1000 / 10))
}
# one_line TEXT: a summary cell: one line, no table or JSON breakers, at most 300 bytes (and
# no character cut in two).
one_line() {
	printf '%s' "$*" | tr '\n\t|"\\' '  /'"'"'/' | tr -d '\000-\037' | head -c 300 |
		{ iconv -c -f UTF-8 -t UTF-8 2>/dev/null || cat; }
}
# jstr TEXT: TEXT as a JSON string (one line already: summaries go through one_line).
jstr() {
	local v=${1//\\/\\\\}
	v=${v//\"/\\\"}
	v=${v//[$'\t\n\r']/ }
	printf '"%s"' "$v"
}

# The libjpeg-turbo the bundle carries, unless told otherwise.
if [ -z "${GPUPIPE_TURBOJPEG:-}" ] && [ -f "$here/lib/libturbojpeg.so.0" ]; then
	export GPUPIPE_TURBOJPEG="$here/lib/libturbojpeg.so.0"
fi
# The device tool may not keep the executable bits of what it carries.
chmod +x "$here"/tests/*/*.test "$here/imgpipe" 2>/dev/null

# ---- one step's body, run as `run.sh --step KIND ARGS...` under its own timeout -------------
# A body prints what it likes (the step's log) and writes its status (PASS, FAIL, WARN, INFO)
# to $STEP_DIR/status and a one-line summary to $STEP_DIR/summary.

result() { # result STATUS SUMMARY...
	echo "$1" >"$STEP_DIR/status"
	one_line "${*:2}" >"$STEP_DIR/summary"
}

# pinned CMD...: runs CMD on the GPU's NUMA node when the preflight found one and numactl.
pinned() {
	if [ -n "${PIN:-}" ]; then
		# shellcheck disable=SC2086 # PIN is a command and its options
		$PIN "$@"
	else
		"$@"
	fi
}

# t SECONDS CMD...: a command inside a step, under a timeout of its own.
t() { timeout -k 2 "$@"; }

binaries() { for d in "$here"/tests/*/; do [ -x "$d$(basename "$d").test" ] && echo "$d$(basename "$d").test"; done; }

# outcome FILE RC: PASS or FAIL with the top-level tests passed, failed and skipped, or the
# first line of output when no test ran (a binary that cannot start the driver says why).
outcome() {
	local p f s r=PASS
	p=$(grep -c '^--- PASS' "$1")
	f=$(grep -c '^--- FAIL' "$1")
	s=$(grep -c '^--- SKIP' "$1")
	[ "$2" -eq 0 ] || r=FAIL
	if [ $((p + f + s)) -eq 0 ] && [ "$2" -ne 0 ]; then
		result "$r" "no test ran: $(head -c 200 "$1" | head -1)"
		return
	fi
	local failed
	failed=$(grep '^--- FAIL' "$1" | awk '{print $3}' | head -5 | tr '\n' ' ')
	result "$r" "$p passed, $f failed, $s skipped${failed:+: $failed}"
}

# gotest DIR BIN LIMIT ARGS...: a test binary in its package's folder, with a Go timeout a
# little under the step's, so that a hang prints every goroutine's stack before the kill.
gotest() {
	local dir=$1 bin=$2 limit=$3
	shift 3
	(cd "$dir" && pinned "$bin" -test.count=1 -test.timeout="$((limit > 10 ? limit - 5 : limit))s" "$@")
}

# query_column NAME: "GPU: value;" for each GPU, from the nvidia-smi step's query.
query_column() {
	awk -F', *' -v col="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ "^" col) c = i; next }
		c { printf "GPU %s: %s; ", $1, $c }' "$RESULTS/steps/query.csv" 2>/dev/null
}

glibc_need() { grep -o 'GLIBC_[0-9.]*' "$here/MANIFEST" 2>/dev/null | head -1 | cut -d_ -f2; }
glibc_have() { getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}'; }

step_main() {
	local kind=$1 limit=$2
	shift 2
	case $kind in
	machine)
		{
			cat "$here/MANIFEST"
			echo "ran:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
			uname -a
			grep PRETTY_NAME /etc/os-release 2>/dev/null
			echo "cpus:    $(nproc)"
			grep -E 'MemTotal' /proc/meminfo
		} 2>&1
		result INFO "$(uname -r), $(grep PRETTY_NAME /etc/os-release 2>/dev/null | cut -d'"' -f2), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); bundle $(awk '/^commit:/ {print $2}' "$here/MANIFEST")"
		;;
	glibc)
		local need have
		need=$(glibc_need)
		have=$(glibc_have)
		echo "glibc here: ${have:-unknown}; the binaries need: ${need:-unknown}"
		if [ -z "$have" ] || [ -z "$need" ]; then
			result WARN "glibc ${have:-unknown}, binaries need ${need:-unknown}: cannot compare"
		elif [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" = "$need" ]; then
			result PASS "glibc $have; the binaries need $need"
		else
			result FAIL "glibc $have is older than the $need the binaries need: rebuild the bundle on an older system"
		fi
		;;
	libcuda)
		local bin line
		bin=$(binaries | head -1)
		t 10 ldd "$bin"
		ldconfig -p 2>/dev/null | grep libcuda
		line=$(t 10 ldd "$bin" 2>&1 | grep 'libcuda\.so')
		case $line in
		*"not found"*) result FAIL "libcuda.so.1 not found (LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-unset}): no driver library" ;;
		*"=>"*)
			local path
			path=$(echo "$line" | awk '{print $3}')
			result PASS "libcuda.so.1 => $path ($(basename "$(readlink -f "$path")"))"
			;;
		*) result FAIL "ldd does not show libcuda.so.1 for $(basename "$bin")" ;;
		esac
		;;
	driver)
		local proc smi
		proc=$(head -1 /proc/driver/nvidia/version 2>/dev/null)
		echo "/proc/driver/nvidia/version: ${proc:-absent}"
		smi=$(grep -o 'Driver Version: [0-9.]*.*CUDA Version: [0-9.]*' "$RESULTS/logs/nvidia-smi.txt" 2>/dev/null | head -1 | tr -s ' ')
		echo "nvidia-smi: ${smi:-no answer}"
		if [ -n "${smi:-}" ] || [ -n "$proc" ]; then
			result INFO "${smi:-$proc}"
		else
			result WARN "no NVIDIA kernel driver found (no /proc/driver/nvidia, no nvidia-smi): the driver library alone answers"
		fi
		;;
	driver-api)
		# The first driver call of a process: package init runs cuInit, TestInfo opens the GPU.
		local bin dir t0 t1 rc info
		bin=$(binaries | grep '/gpu-cuda.test$' || binaries | head -1)
		dir=$(dirname "$bin")
		t0=$(ms)
		gotest "$dir" "$bin" "$limit" -test.run '^TestInfo$' -test.v
		rc=$?
		t1=$(ms)
		info=$(grep -A1 '^=== RUN   TestInfo' "$RESULTS/logs/$STEP_NAME.txt" | grep -v '^===' | sed 's/^ *[a-z_]*\.go:[0-9]*: //' | head -1)
		if [ $rc -eq 0 ]; then
			result PASS "${info:-device opened}; process start + cuInit + context: $(secs "$t0" "$t1") s"
		else
			result FAIL "the first driver call failed (rc $rc): $(grep -m1 -i 'error\|fail' "$RESULTS/logs/$STEP_NAME.txt")"
		fi
		;;
	bindnow)
		# gorgonia.org/cu links every driver entry point it wraps; the binaries call few of
		# them, so lazy binding never resolves the rest. Under LD_BIND_NOW=1 a missing one
		# stops the process at start: say which, without failing the run.
		local bad="" syms="" most=0 b lib missing n
		lib=$(t 10 ldd "$(binaries | head -1)" 2>/dev/null | awk '/libcuda\.so/ {print $3}')
		for b in $(binaries) ${IMGPIPE:+"$IMGPIPE"}; do
			local args=(-test.list '^$')
			[ "$b" = "${IMGPIPE:-}" ] && args=(--version)
			echo "== LD_BIND_NOW=1 $(basename "$b") ${args[*]}"
			if (cd "$(dirname "$b")" && LD_BIND_NOW=1 t 10 "$b" "${args[@]}") >"$STEP_DIR/bindnow.txt" 2>&1; then
				echo "ok"
			else
				bad="$bad ${b##*/}"
				cat "$STEP_DIR/bindnow.txt"
				local why
				why=$(grep -o 'undefined symbol: [A-Za-z0-9_]*' "$STEP_DIR/bindnow.txt" | head -1 | cut -d' ' -f3)
				case " $syms " in *" ${why:-?} "*) ;; *) syms="$syms ${why:-$(head -1 "$STEP_DIR/bindnow.txt")}" ;; esac
			fi
			if command -v nm >/dev/null && [ -n "$lib" ] && [ -f "$lib" ]; then
				missing=$(comm -23 <(nm -D --undefined-only "$b" 2>/dev/null | awk '$NF ~ /^cu/ {print $NF}' | sort -u) \
					<(nm -D --defined-only "$lib" 2>/dev/null | awk '{print $NF}' | sed 's/@.*//' | sort -u))
				n=$(printf '%s' "$missing" | grep -c .)
				echo "driver entry points $(basename "$b") links that $lib lacks: $n"
				[ "$n" -eq 0 ] || echo "$missing" | head -200
				[ "$n" -le "$most" ] || most=$n
			fi
		done
		local counted=""
		[ "$most" -eq 0 ] || counted="; up to $most of the driver entry points they link are missing from ${lib##*/} (list in the log)"
		if [ -z "$bad" ]; then
			result PASS "every binary starts with LD_BIND_NOW=1: the driver has every entry point they link"
		else
			result WARN "LD_BIND_NOW=1 stops$bad at start (undefined symbol:$syms)$counted; lazy binding, the default, resolves only what is called"
		fi
		;;
	nvidia-smi)
		if ! command -v nvidia-smi >/dev/null; then
			result WARN "nvidia-smi not found"
			return
		fi
		t 10 nvidia-smi
		t 10 nvidia-smi -L
		t 10 nvidia-smi --query-gpu=index,name,pci.bus_id,driver_version,persistence_mode,mig.mode.current,compute_mode,memory.total,memory.used,temperature.gpu,power.draw,power.limit,clocks.sm,clocks.max.sm,clocks.mem --format=csv |
			tee "$RESULTS/steps/query.csv"
		local row
		row=$(sed -n 2p "$RESULTS/steps/query.csv")
		[ -n "$row" ] || { result WARN "nvidia-smi answered nothing"; return; }
		result INFO "$row"
		;;
	persistence)
		local p
		p=$(query_column persistence_mode)
		echo "persistence mode: ${p:-unknown}"
		case $p in
		*Disabled*) result INFO "persistence mode off ($p): the driver tears the GPU down when the last process ends, so each process pays cuInit and context creation again (see driver-api); left as found" ;;
		*Enabled*) result INFO "persistence mode on ($p)" ;;
		*) result WARN "persistence mode unknown (no nvidia-smi answer)" ;;
		esac
		;;
	mig)
		local m
		m=$(query_column mig.mode.current)
		echo "MIG: ${m:-unknown}"
		case $m in
		*Enabled*)
			case ${CUDA_VISIBLE_DEVICES:-} in
			MIG-*) result INFO "MIG on ($m); CUDA_VISIBLE_DEVICES names a MIG device" ;;
			*) result WARN "MIG on ($m): CUDA sees only MIG devices named in CUDA_VISIBLE_DEVICES (MIG-<uuid>); results describe a slice of the GPU" ;;
			esac
			;;
		*) result INFO "MIG ${m:-unknown (no nvidia-smi answer)}" ;;
		esac
		;;
	visible)
		echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-<unset>} GPUPIPE_CUDA_DEVICE=$GPUPIPE_CUDA_DEVICE CUDA_CACHE_PATH=$CUDA_CACHE_PATH"
		result INFO "CUDA_VISIBLE_DEVICES ${CUDA_VISIBLE_DEVICES-unset}; tests on GPU $GPUPIPE_CUDA_DEVICE of those; JIT cache $CUDA_CACHE_PATH"
		;;
	topo)
		if command -v nvidia-smi >/dev/null; then
			t 10 nvidia-smi topo -m
		fi
		echo "NUMA node of the GPU: ${GPU_NUMA:-unknown}; pinning: ${PIN:-none}"
		if command -v numactl >/dev/null; then t 5 numactl --hardware; fi
		result INFO "GPU on NUMA node ${GPU_NUMA:-unknown}; ${PIN_NOTE:-not pinned}"
		;;
	tests)
		local bin=$1 rc
		gotest "$(dirname "$bin")" "$bin" "$limit" -test.v
		rc=$?
		outcome "$RESULTS/logs/$STEP_NAME.txt" $rc
		;;
	fault)
		local bin=$1 name=$2 rc
		GPUPIPE_CUDA_FAULTS=1 gotest "$(dirname "$bin")" "$bin" "$limit" -test.v -test.run "^$name\$"
		rc=$?
		outcome "$RESULTS/logs/$STEP_NAME.txt" $rc
		;;
	bench)
		local bin=$1 name=$2 rc n
		OUT="$RESULTS/data/$STEP_NAME" gotest "$(dirname "$bin")" "$bin" "$limit" \
			-test.v -test.run '^$' -test.bench "^$name\$" -test.benchtime="$BENCHTIME" -test.benchmem=false
		rc=$?
		n=$(grep -c '^Benchmark.*ns/op' "$RESULTS/logs/$STEP_NAME.txt")
		if [ $rc -eq 0 ]; then
			result PASS "$n results at -test.benchtime=$BENCHTIME"
		else
			result FAIL "rc $rc after $n results: $(grep -m1 -E 'FAIL|panic|Error|error' "$RESULTS/logs/$STEP_NAME.txt")"
		fi
		;;
	imgpipe-version)
		pinned "$IMGPIPE" --version
		local rc=$?
		if [ $rc -eq 0 ]; then result PASS "$("$IMGPIPE" --version 2>&1 | head -1)"; else result FAIL "imgpipe does not start (rc $rc)"; fi
		;;
	imgpipe-samples)
		local t0 t1 n
		t0=$(ms)
		pinned "$IMGPIPE" --demo "$RESULTS/imgpipe" --dry-run --progress none >/dev/null
		local rc=$?
		t1=$(ms)
		n=$(find "$RESULTS/imgpipe/in" -type f 2>/dev/null | wc -l)
		if [ $rc -eq 0 ]; then result PASS "$n sample photos in $(secs "$t0" "$t1") s"; else result FAIL "imgpipe --demo failed (rc $rc)"; fi
		;;
	imgpipe-run)
		local dev=$1 name=$2 rc
		shift 2
		rm -rf "$RESULTS/imgpipe/out-$name"
		pinned "$IMGPIPE" --in "$IMGPIPE_SRC" --out "$RESULTS/imgpipe/out-$name" --device "$dev" \
			--progress plain --report "$RESULTS/imgpipe/$name.json" "$@"
		rc=$?
		if [ $rc -eq 0 ]; then result PASS "$(report_summary "$RESULTS/imgpipe/$name.json")"; else result FAIL "rc $rc: $(report_summary "$RESULTS/imgpipe/$name.json")"; fi
		;;
	imgpipe-compare)
		local a="$RESULTS/imgpipe/out-cpu-png" b="$RESULTS/imgpipe/out-cuda-png" n
		n=$(find "$a" -type f 2>/dev/null | wc -l)
		if [ "$n" -eq 0 ] || [ ! -d "$b" ]; then
			result FAIL "nothing to compare: the PNG runs made no thumbnails"
		elif diff -r "$a" "$b" >"$RESULTS/logs/imgpipe-diff.txt" 2>&1; then
			result PASS "$n PNG thumbnails byte-identical on the CPU device and the GPU"
		else
			result FAIL "PNG thumbnails DIFFER between the CPU device and the GPU: $(grep -c . "$RESULTS/logs/imgpipe-diff.txt") lines of diff (logs/imgpipe-diff.txt)"
		fi
		;;
	*)
		result FAIL "unknown step kind $kind"
		;;
	esac
}

# field FILE NAME: a number from an imgpipe run report.
field() { sed -n "s/.*\"$2\": *\([0-9.e+-]*\).*/\1/p" "$1" | head -1; }
report_summary() {
	[ -f "$1" ] || { echo "no report"; return; }
	local grows
	grows=$(grep -o '"dev[0-9]*\.grows": *[0-9]*' "$1" | awk -F: '{s += $2} END {print s + 0}')
	printf '%s of %s images in %.2f s, %.1f images/s, on %s; slowest stage %s; slot buffer growths %s (devN.grows, an up-front reservation included)' \
		"$(field "$1" done)" "$(field "$1" found)" "$(field "$1" seconds)" "$(field "$1" files_per_second)" \
		"$(sed -n 's/.*"device": *"\([^"]*\)".*/\1/p' "$1" | head -1)" \
		"$(sed -n 's/.*"bottleneck": *"\([^"]*\)".*/\1/p' "$1" | head -1)" "$grows"
}

if [ "${1:-}" = --step ]; then
	shift
	step_main "$@"
	exit 0
fi

# ---- the plan ---------------------------------------------------------------------------

IMGPIPE=""
[ -x "$here/imgpipe" ] && IMGPIPE="$here/imgpipe"
export IMGPIPE

has_phase() { case ",$PHASES," in *",$1,"*) return 0 ;; esac; return 1; }

# seconds of BENCHTIME, for the benchmarks' timeouts: 200ms → 0.2; Nx counts 0.02 s per run.
bench_seconds() {
	case $BENCHTIME in
	*ms) awk -v v="${BENCHTIME%ms}" 'BEGIN { print v / 1000 }' ;;
	*s) echo "${BENCHTIME%s}" ;;
	*x) awk -v v="${BENCHTIME%x}" 'BEGIN { print v * 0.02 }' ;;
	*) echo 1 ;;
	esac
}
# sub-benchmarks of each benchmark, for its timeout; a new one counts 5 until listed here.
bench_subs() {
	case $1 in
	BenchmarkCopy) echo 15 ;;
	BenchmarkPackUpload) echo 3 ;;
	BenchmarkDeviceCopy) echo 2 ;;
	BenchmarkOverlap | BenchmarkEngineOverlap) echo 3 ;;
	BenchmarkImageKernels) echo 8 ;;
	*) echo 5 ;;
	esac
}
# A benchmark's timeout: 15 s to start (cuInit, JIT, allocations) and, per sub-benchmark, one
# second plus four times the bench time (Go runs each a few times to reach the bench time).
bench_limit() { awk -v n="$(bench_subs "$1")" -v t="$(bench_seconds)" 'BEGIN { p = 4 * t; if (p > int(p)) p = int(p) + 1; print 15 + n * (1 + p) }'; }
tests_limit() { case $1 in gpu-cuda) echo 90 ;; gpu-device) echo 40 ;; *) echo 60 ;; esac; }

P_PHASE=() P_NAME=() P_LIMIT=() P_ARGS=()
plan() { # plan PHASE NAME LIMIT KIND ARGS...
	P_PHASE+=("$1") P_NAME+=("$2") P_LIMIT+=("$3")
	local a
	printf -v a '%q ' "${@:4}"
	P_ARGS+=("$a")
}

if has_phase preflight; then
	plan preflight machine 3 machine
	plan preflight glibc 3 glibc
	plan preflight libcuda 5 libcuda
	plan preflight nvidia-smi 12 nvidia-smi
	plan preflight driver 2 driver
	plan preflight persistence 2 persistence
	plan preflight mig 2 mig
	plan preflight visible 2 visible
	plan preflight topo 8 topo
	plan preflight driver-api 12 driver-api
	plan preflight bindnow 15 bindnow
fi
if has_phase tests; then
	for bin in $(binaries); do
		name=$(basename "$bin" .test)
		plan tests "$name.tests" "$(tests_limit "$name")" tests "$bin"
		for f in $(grep -E '^Test[A-Za-z0-9_]*Faults$' "$(dirname "$bin")/tests.txt" 2>/dev/null); do
			plan tests "$name.faults.$f" 30 fault "$bin" "$f"
		done
	done
fi
if has_phase bench; then
	for bin in $(binaries); do
		name=$(basename "$bin" .test)
		for b in $(grep -E '^Benchmark' "$(dirname "$bin")/tests.txt" 2>/dev/null); do
			plan bench "$name.bench.$b" "$(bench_limit "$b")" bench "$bin" "$b"
		done
	done
fi
if has_phase imgpipe && [ -n "$IMGPIPE" ]; then
	plan imgpipe imgpipe.version 10 imgpipe-version
	if [ -z "${IMGPIPE_IN:-}" ]; then
		plan imgpipe imgpipe.samples 30 imgpipe-samples
	fi
	plan imgpipe imgpipe.cpu-png 25 imgpipe-run cpu cpu-png --size 256 --format png
	plan imgpipe imgpipe.cuda-png 25 imgpipe-run cuda cuda-png --size 256 --format png
	plan imgpipe imgpipe.compare 5 imgpipe-compare
	plan imgpipe imgpipe.cuda-jpeg 20 imgpipe-run cuda cuda-jpeg --size 256 --batch 64
	plan imgpipe imgpipe.cuda-tensors 20 imgpipe-run cuda cuda-tensors --tensor imagenet --batch 64
fi
export IMGPIPE_SRC=${IMGPIPE_IN:-$RESULTS/imgpipe/in}

n=${#P_NAME[@]}
S_STATUS=() S_SECS=() S_SUMMARY=()
for ((i = 0; i < n; i++)); do S_STATUS+=(pending) S_SECS+=("") S_SUMMARY+=(""); done

# A phase's budget is the sum of its steps' timeouts; the run's, the sum of the phases', at
# most BUDGET. A step never runs past the run's budget.
declare -A CAP=()
for ((i = 0; i < n; i++)); do CAP[${P_PHASE[$i]}]=$((${CAP[${P_PHASE[$i]}]:-0} + P_LIMIT[i])); done
total=0
budget_line=""
for p in preflight tests bench imgpipe; do
	[ -n "${CAP[$p]:-}" ] || continue
	total=$((total + CAP[$p]))
	budget_line="$budget_line $p ≤${CAP[$p]}s,"
done
[ "$total" -le "$BUDGET" ] || total=$BUDGET

# run.sh --plan prints the steps and their timeouts; --budget, the seconds the run may take.
case ${1:-} in
--plan)
	for ((i = 0; i < n; i++)); do printf '%-10s %-45s %4ds\n' "${P_PHASE[$i]}" "${P_NAME[$i]}" "${P_LIMIT[$i]}"; done
	echo "budget:${budget_line} ${total}s in all (BUDGET=${BUDGET}s)"
	exit 0
	;;
--budget)
	echo "$total"
	exit 0
	;;
esac

# ---- the summary ------------------------------------------------------------------------

mkdir -p "$OUT" || exit 1
rm -rf "$RESULTS/logs" "$RESULTS/data" "$RESULTS/steps"
mkdir -p "$RESULTS/logs" "$RESULTS/data" "$RESULTS/steps" || exit 1
: >"$OUT/run.log"
log() { printf '%(%H:%M:%S)T %s\n' -1 "$*" | tee -a "$OUT/run.log"; }

started=$(ms)
date=$(date -u +%Y-%m-%d)
bundle="$(awk '/^commit:/ {$1 = ""; print}' "$here/MANIFEST" 2>/dev/null | sed 's/^ //'), built $(awk '/^built:/ {print $2}' "$here/MANIFEST" 2>/dev/null)"
gpu="GPU not identified yet"
running=""
state="in progress"

# write_summary [pack]: rewrites results.md and results.json in $OUT; with pack, logs.tar.gz
# too. It runs before and after every step, so it forks little.
write_summary() {
	local elapsed i f first=1
	elapsed=$(secs "$started" "$(ms)")
	{
		echo "# gpupipe GPU bundle on $gpu, $date"
		echo
		if [ -n "$running" ]; then
			echo "**$state**: step \`$running\` is running (if nothing follows, the run stopped there)."
		else
			echo "**$state**"
		fi
		echo
		echo "Bundle $bundle; phases $PHASES; BENCHTIME=$BENCHTIME; budget${budget_line} ${total}s in all; ${elapsed}s elapsed. Every step's full output is in logs.tar.gz."
		echo
		echo "| phase | step | status | seconds | timeout | summary |"
		echo "|---|---|---|---:|---:|---|"
		for ((i = 0; i < n; i++)); do
			echo "| ${P_PHASE[$i]} | ${P_NAME[$i]} | ${S_STATUS[$i]} | ${S_SECS[$i]} | ${P_LIMIT[$i]} | ${S_SUMMARY[$i]} |"
		done
		for ((i = 0; i < n; i++)); do
			f="$RESULTS/data/${P_NAME[$i]}/cuda-results.md"
			[ -f "$f" ] || continue
			echo
			echo "## ${P_NAME[$i]}"
			echo
			cat "$f"
		done
	} >"$OUT/results.md.tmp" && mv "$OUT/results.md.tmp" "$OUT/results.md"
	{
		printf '{"date":'; jstr "$date"
		printf ',"gpu":'; jstr "$gpu"
		printf ',"state":'; jstr "$state"
		printf ',"running":'; jstr "$running"
		printf ',"phases":'; jstr "$PHASES"
		printf ',"benchtime":'; jstr "$BENCHTIME"
		printf ',"budget_s":%d,"elapsed_s":%s,"bundle":' "$total" "$elapsed"; jstr "$bundle"
		printf ',"steps":['
		for ((i = 0; i < n; i++)); do
			[ "$i" -eq 0 ] || printf ','
			printf '{"phase":'; jstr "${P_PHASE[$i]}"
			printf ',"name":'; jstr "${P_NAME[$i]}"
			printf ',"status":'; jstr "${S_STATUS[$i]}"
			printf ',"seconds":%s,"timeout_s":%d,"summary":' "${S_SECS[$i]:-null}" "${P_LIMIT[$i]}"; jstr "${S_SUMMARY[$i]}"
			printf '}'
		done
		printf '],"measurements":['
		for ((i = 0; i < n; i++)); do
			f="$RESULTS/data/${P_NAME[$i]}/cuda-results.json"
			[ -f "$f" ] || continue
			[ $first -eq 1 ] || printf ','
			first=0
			printf '{"step":'; jstr "${P_NAME[$i]}"
			printf ',"results":'
			cat "$f"
			printf '}'
		done
		echo ']}'
	} >"$OUT/results.json.tmp" && mv "$OUT/results.json.tmp" "$OUT/results.json"
	[ "${1:-}" = pack ] || return 0
	# Everything but the JIT cache, the photos and the thumbnails, in one file (the device
	# tool brings back few files); each log cut to its last megabyte if that grows too large.
	local files=(logs data steps)
	[ -d "$RESULTS/imgpipe" ] && files+=(imgpipe)
	tar -czf "$OUT/logs.tar.gz.tmp" -C "$RESULTS" --exclude='imgpipe/in' --exclude='imgpipe/out-*' "${files[@]}" 2>/dev/null
	if [ "$(stat -c %s "$OUT/logs.tar.gz.tmp" 2>/dev/null || echo 0)" -gt $((15 << 20)) ]; then
		local cut="$RESULTS/.cut"
		rm -rf "$cut" && mkdir -p "$cut/logs"
		for f in "$RESULTS"/logs/*; do tail -c 1000000 "$f" >"$cut/logs/${f##*/}"; done
		tar -czf "$OUT/logs.tar.gz.tmp" -C "$cut" logs -C "$RESULTS" data 2>/dev/null
		rm -rf "$cut"
	fi
	mv "$OUT/logs.tar.gz.tmp" "$OUT/logs.tar.gz" 2>/dev/null
}

finish() {
	running=""
	local p=0 f=0 to=0 w=0 s=0 i cache
	for ((i = 0; i < n; i++)); do
		case ${S_STATUS[$i]} in
		PASS) p=$((p + 1)) ;;
		FAIL) f=$((f + 1)) ;;
		TIMEOUT) to=$((to + 1)) ;;
		WARN) w=$((w + 1)) ;;
		SKIP | pending) s=$((s + 1)) ;;
		esac
	done
	cache=$(du -sh "$CUDA_CACHE_PATH" 2>/dev/null | cut -f1)
	state="$1: $p passed, $f failed, $to timed out, $w warnings, $s not run; JIT cache (CUDA_CACHE_PATH) ${cache:-empty}"
	write_summary pack
	log "$state"
	log "summary: $OUT/results.md"
}
trap 'finish "interrupted"; exit 130' INT TERM

# refresh: while a step runs, the summary is rewritten every 5 seconds (and the logs packed
# every 30), so that what a long step measured reaches $OUT even if the run is killed.
# It ends with the run ($$ is the run's shell in a subshell too), however the run ends.
refresh() {
	local k=0
	while sleep 5 && kill -0 $$ 2>/dev/null; do
		k=$((k + 1))
		if [ $((k % 6)) -eq 0 ]; then write_summary pack; else write_summary; fi
	done
}

# ---- the GPU and its NUMA node ----------------------------------------------------------

export PIN="" PIN_NOTE="" GPU_NUMA=""
if command -v nvidia-smi >/dev/null; then
	q=$(timeout -k 2 10 nvidia-smi --query-gpu=name,driver_version,memory.total,pci.bus_id --format=csv,noheader 2>/dev/null |
		sed -n "$((GPUPIPE_CUDA_DEVICE + 1))p")
	if [ -n "$q" ]; then
		gpu=$(echo "$q" | cut -d, -f1-3 | sed 's/, */, /g')
		bus=$(echo "$q" | awk -F', *' '{print tolower($4)}')
		# nvidia-smi names the PCI domain with 8 digits, sysfs with 4.
		GPU_NUMA=$(cat "/sys/bus/pci/devices/${bus#0000}/numa_node" 2>/dev/null)
	fi
fi
if [ "${NUMA:-}" = off ]; then
	PIN_NOTE="not pinned (NUMA=off)"
elif [ -z "$GPU_NUMA" ] || [ "$GPU_NUMA" -lt 0 ] 2>/dev/null; then
	PIN_NOTE="not pinned: no NUMA node known for the GPU"
elif ! command -v numactl >/dev/null; then
	PIN_NOTE="not pinned: numactl not installed"
elif numactl --cpunodebind="$GPU_NUMA" --preferred="$GPU_NUMA" true 2>/dev/null; then
	PIN="numactl --cpunodebind=$GPU_NUMA --preferred=$GPU_NUMA"
	PIN_NOTE="every step pinned to NUMA node $GPU_NUMA ($PIN)"
else
	PIN_NOTE="not pinned: numactl refused node $GPU_NUMA"
fi

log "gpupipe GPU bundle: $n steps on ${gpu}; phases $PHASES; BENCHTIME=$BENCHTIME"
log "budget:${budget_line} ${total}s (BUDGET=${BUDGET}s caps the run); $PIN_NOTE"
log "results: $RESULTS; summary: $OUT/results.md"
write_summary

# ---- run --------------------------------------------------------------------------------

fatal=""
for ((i = 0; i < n; i++)); do
	phase=${P_PHASE[$i]} name=${P_NAME[$i]}
	now=$(ms)
	left=$(((started + total * 1000 - now) / 1000))
	limit=${P_LIMIT[$i]}
	[ "$limit" -le "$left" ] || limit=$left
	if [ -n "$fatal" ] && [ "$phase" != preflight ]; then
		S_STATUS[i]=SKIP S_SUMMARY[i]="not run: $fatal"
		log "-- $name: skipped ($fatal)"
		write_summary
		continue
	fi
	if [ "$left" -lt 2 ] || { [ "$limit" -lt "${P_LIMIT[$i]}" ] && [ "$limit" -lt 3 ]; }; then
		S_STATUS[i]=SKIP S_SUMMARY[i]="not run: no time left in the budget"
		log "-- $name: skipped (no time left)"
		write_summary
		continue
	fi
	running=$name
	write_summary
	log "== $name (timeout ${limit}s)"
	export STEP_DIR="$RESULTS/steps/$name" STEP_NAME=$name
	mkdir -p "$STEP_DIR"
	t0=$(ms)
	eval "set -- ${P_ARGS[$i]}"
	refresh &
	refresher=$!
	timeout -k 3 "$limit" bash "$self" --step "$1" "$limit" "${@:2}" >"$RESULTS/logs/$name.txt" 2>&1
	rc=$?
	kill "$refresher" 2>/dev/null
	wait "$refresher" 2>/dev/null
	t1=$(ms)
	S_SECS[i]=$(secs "$t0" "$t1")
	status=$(cat "$STEP_DIR/status" 2>/dev/null)
	summary=$(cat "$STEP_DIR/summary" 2>/dev/null)
	if [ $rc -eq 124 ] || [ $rc -eq 137 ] || grep -q '^panic: test timed out after' "$RESULTS/logs/$name.txt"; then
		# The test or benchmark that was running: Go names each as it starts.
		last=$(grep -E '^=== RUN|^Benchmark' "$RESULTS/logs/$name.txt" | tail -1 | awk '{print ($1 == "===") ? $3 : $1}')
		status=TIMEOUT summary="killed after ${limit}s${last:+ in $last}${summary:+; $summary}"
	elif [ -z "$status" ]; then
		status=FAIL summary="the step ended (rc $rc) without a result: $(tail -1 "$RESULTS/logs/$name.txt")"
	fi
	S_STATUS[i]=$status S_SUMMARY[i]=$(one_line "$summary")
	if [ "$phase" = preflight ] && [ "$status" = FAIL ]; then
		case $name in glibc | libcuda) fatal="preflight $name failed" ;; esac
	fi
	if [ "$name" = driver-api ] && [ "$status" = PASS ] && [ "$gpu" = "GPU not identified yet" ]; then
		gpu=${S_SUMMARY[$i]%%;*}
	fi
	running=""
	log "   $status ${S_SECS[$i]}s: ${S_SUMMARY[$i]}"
	write_summary pack
done

finish done
for ((i = 0; i < n; i++)); do
	case ${S_STATUS[$i]} in PASS | WARN | INFO) ;; *) exit 1 ;; esac
done
exit 0
