#!/usr/bin/env bats
# make bench's tools work: one second per mode against no proxy and
# mmproxy.  Speed is never asserted here; make bench measures it.

load helpers

@test "the benchmark runs unpinned, each mode for one second on a fresh proxy, with the proxy's CPU per unit of work, the scaling table, results and charts" {
	require_root
	# The bench's own tools and script, not the build: once per suite.
	[[ "$MMPROXY_BUILD" == */build ]] || skip "checked once, on the default build"
	out=$BATS_TEST_TMPDIR/results.json
	before=$(ip netns list | grep -c '^mmproxy-bench-' || true)
	# The build under test stands in for the lean one too.
	run "$BATS_TEST_DIRNAME/../contrib/bench/run.sh" "$MMPROXY_BUILD" --lean "$MMPROXY_BUILD" \
	    --duration 1 --runs 1 --idle "20 30" --scale "1 5" \
	    --targets "direct mmproxy mmproxy-lean" --out "$out"
	echo "$output"
	[ "$status" -eq 0 ]
	# The production shape by default: nothing pinned, and said so.
	grep -q '^mmproxy bench: .*, unpinned: proxy, backend and load generator share all [0-9]* CPUs' <<<"$output"
	grep -q '"pinned": false,' "$out"
	# Every mode ran and moved data without errors through mmproxy, and
	# the proxy's CPU over the run was counted, per unit of work too.
	for m in stream pingpong connect udp; do
		line=$(grep -E "^  run 1 mmproxy +mode=$m " <<<"$output" | head -1)
		[[ "$line" =~ \ errors=0\  ]]
		[[ ! "$line" =~ \ ops=0\  ]] || [ "$m" = stream ]
		[[ "$line" =~ \ cpu_us=[1-9][0-9]*\ cpu_per_op=[0-9]+\.[0-9]$ ]]
	done
	# SPP: every reply wrapped, every one counted; quoted against v2.
	line=$(grep -E "^  run 1 mmproxy +mode=udp .* framing=spp " <<<"$output")
	[[ "$line" =~ \ errors=0\  ]]
	[[ ! "$line" =~ \ ops=0\  ]]
	grep -E '^  mmproxy +framings: +UDP v2 [1-9][0-9]* dg/s .*, spp [1-9][0-9]* dg/s \(CPU [0-9.]+ us/dg, lost [0-9]+\): spp/v2 rate [0-9.]+, CPU per datagram [0-9.]+$' <<<"$output"
	grep -q '"mmproxy": {.*"udp_spp_dps": [1-9]' "$out"
	# No proxy, no proxy CPU.
	! grep -E "^  run 1 direct .* cpu_us=" <<<"$output"
	grep -E '^\| +\| .* CPU us/MB \| +req/s \| CPU us/req \| .* conn/s \| CPU us/conn \| .* UDP dg/s \| CPU us/dg \|' <<<"$output"
	grep -E '^\| no proxy +\|( +[0-9]+ \|){5} +- \|' <<<"$output"
	grep -E '^\| mmproxy +\|( +[0-9]+ \|){5} +[0-9]+\.[0-9] \| +[0-9]+ \| +[0-9]+\.[0-9] \|' <<<"$output"
	grep -q '"mmproxy": {.*"cpu_us_per_request": [0-9.]*[1-9]' "$out"
	grep -q '"direct": {.*"cpu_us_per_request": null' "$out"
	# UDP: through no proxy and through mmproxy, datagrams echoed.
	for t in direct mmproxy; do
		line=$(grep -E "^  run 1 $t +mode=udp " <<<"$output" | head -1)
		[[ "$line" =~ \ errors=0\  ]]
		[[ ! "$line" =~ \ ops=0\  ]]
	done
	[[ "$output" =~ run\ 1\ mmproxy\ +mode=stream\ conns=50\ seconds=[0-9.]+\ up_mbps=[1-9] ]]
	# The kernel's counters were read: a delta of the whole machine's, so
	# in a run this small another process freeing memory meanwhile can
	# turn it negative (a real run takes medians of hundreds), but never 0.
	grep -E '^  run 1 mmproxy +idle mem_drop_kb=-?[0-9]+ accounted_kb=-?[1-9][0-9]* pss_kb=[0-9]+ upstream=20$' <<<"$output"
	grep -E '^  run 1 mmproxy-lean +idle mem_drop_kb=-?[0-9]+ accounted_kb=-?[1-9][0-9]* pss_kb=[0-9]+ upstream=30$' <<<"$output"
	# The floor: bare processes of the image, at each idle count.
	grep -E '^  run 1 floor +idle mem_drop_kb=-?[0-9]+ accounted_kb=-?[1-9][0-9]*$' <<<"$output"
	grep -E '^  run 1 floor-lean +idle mem_drop_kb=-?[0-9]+ accounted_kb=-?[1-9][0-9]*$' <<<"$output"
	# Ping-pong at each scaling count, and the scaling table with its rows.
	for c in 1 5; do
		line=$(grep -E "^  run 1 mmproxy-lean +mode=pingpong conns=$c " <<<"$output")
		[[ "$line" =~ \ errors=0\  ]]
		[[ ! "$line" =~ \ ops=0\  ]]
	done
	grep -E '^\| +\| +kern@20 \| +kern@30 \| +req/s@1 \| +req/s@5 \| +p99@1 \| +p99@5 \| +cpu/req@1 \| +cpu/req@5 \|$' <<<"$output"
	grep -E '^\| mmproxy-lean +\| +[1-9][0-9.]* \| +[1-9][0-9.]* \| +[1-9][0-9]* \| +[1-9][0-9]* \|( +[0-9]+ \|){2}( +[0-9]+\.[0-9] \|){2}$' <<<"$output"
	grep -q '"pingpong5_cpu_us_per_request": [0-9.]*[1-9]' "$out"
	grep -E '^\| floor \(lean image\) +\| +[1-9][0-9.]* \| +[1-9][0-9.]* \| +- \|' <<<"$output"
	grep -E '^  mmproxy-lean above floor \(lean image\): +@20 [-+][0-9.]+ KB +@30 [-+][0-9.]+ KB$' <<<"$output"
	grep -q '"floor-lean": {"idle20_accounted_kb_per_conn": [1-9]' "$out"
	grep -q '"pingpong5_rps": [1-9]' "$out"
	if command -v gnuplot >/dev/null; then
		for chart in idle-memory pingpong pingpong-cpu; do
			[ "$(head -c 4 "$BATS_TEST_TMPDIR/$chart.png" | od -An -tx1 | xargs)" = "89 50 4e 47" ]
		done
	else
		grep -q '^charts: skipped (no gnuplot' <<<"$output"
	fi
	grep -E '^\| mmproxy +\| +[1-9][0-9]* \|' <<<"$output"
	grep -q '"mmproxy": {"stream_up_mbps": [1-9]' "$out"
	grep -q '"direct": {"stream_up_mbps": [1-9]' "$out"
	# It cleaned up after itself.
	[ "$(ip netns list | grep -c '^mmproxy-bench-' || true)" -eq "$before" ]
}
