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
exit "$rc"
