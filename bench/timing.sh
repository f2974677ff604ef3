# Sourced by the bench scripts: timing of one command and medians.
#
# timed CMD... runs CMD with its stdout discarded and sets secs (wall) and cpu (user + system
# seconds of CMD and every process it waited for: process pools and xargs included). On a
# machine shared with other work, wall time measures the competition too; CPU time much
# less so. When CMD fails its stderr is printed and the script stops.
timed() {
	local t errf
	errf=$(mktemp)
	t=$( { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>"$errf"; } 2>&1 ) || { cat "$errf" >&2; rm -f "$errf"; exit 1; }
	rm -f "$errf"
	read -r secs u s <<<"$t"
	cpu=$(echo "$u + $s" | bc -l)
}

# median of the numbers in $1 (separated by spaces).
median() { printf '%s\n' $1 | sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
