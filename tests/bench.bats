#!/usr/bin/env bats
# make bench's tools work: one second per mode against no proxy and
# mmproxy.  Speed is never asserted here; make bench measures it.

load helpers

@test "the benchmark runs each mode for one second and writes its results" {
	require_root
	out=$BATS_TEST_TMPDIR/results.json
	before=$(ip netns list | grep -c '^mmproxy-bench-' || true)
	run "$BATS_TEST_DIRNAME/../contrib/bench/run.sh" "$MMPROXY_BUILD" --duration 1 \
	    --runs 1 --idle 20 --targets "direct mmproxy" --out "$out"
	echo "$output"
	[ "$status" -eq 0 ]
	# Every mode ran and moved data without errors through mmproxy.
	for m in stream pingpong connect; do
		line=$(grep -E "^  run 1 mmproxy +mode=$m " <<<"$output")
		[[ "$line" =~ \ errors=0\  ]]
		[[ ! "$line" =~ \ ops=0\  ]] || [ "$m" = stream ]
	done
	# UDP: through no proxy and through mmproxy, datagrams echoed.
	for t in direct mmproxy; do
		line=$(grep -E "^  run 1 $t +mode=udp " <<<"$output")
		[[ "$line" =~ \ errors=0\  ]]
		[[ ! "$line" =~ \ ops=0\  ]]
	done
	[[ "$output" =~ run\ 1\ mmproxy\ +mode=stream\ conns=50\ seconds=[0-9.]+\ up_mbps=[1-9] ]]
	grep -E '^  run 1 mmproxy +idle mem_drop_kb=-?[0-9]+ accounted_kb=[1-9][0-9]* pss_kb=[0-9]+ upstream=20$' <<<"$output"
	grep -E '^\| mmproxy +\| +[1-9][0-9]* \|' <<<"$output"
	grep -q '"mmproxy": {"stream_up_mbps": [1-9]' "$out"
	grep -q '"direct": {"stream_up_mbps": [1-9]' "$out"
	# It cleaned up after itself.
	[ "$(ip netns list | grep -c '^mmproxy-bench-' || true)" -eq "$before" ]
}
