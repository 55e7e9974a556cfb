#!/usr/bin/env bash
# Run the bats suite against one build; end with one summary line.
#   tests/run.sh LABEL BUILD_DIR
set -uo pipefail
label=$1
export MMPROXY_BUILD=$2
out=$(mktemp)
bats --print-output-on-failure "$(dirname "$0")" | tee "$out"
rc=${PIPESTATUS[0]}
skipped=$(grep -c '^ok .* # skip' "$out")
passed=$(( $(grep -c '^ok ' "$out") - skipped ))
failed=$(grep -c '^not ok ' "$out")
rm -f "$out"
echo "$label: $passed passed, $failed failed, $skipped skipped"
# The suite leaves no process of its own behind (zombies that a pid 1 which
# does not reap has inherited are gone in all but name).
left=""
for p in $(pgrep -f "^$MMPROXY_BUILD/" || true); do
	state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$p/stat" 2>/dev/null || true)
	[ -n "$state" ] && [ "$state" != Z ] && left="$left $p"
done
if [ -n "$left" ]; then
	echo "$label: processes left behind by the suite:" >&2
	ps -o pid,args -p ${left# } >&2
	rc=1
fi
exit "$rc"
