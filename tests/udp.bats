#!/usr/bin/env bats
# -p udp: PROXY v2 DGRAM on every datagram, one worker per balancer socket
# (peer), one flow per PROXY source, replies back bare, expiry by timer.

load helpers

# signature | ver 2, PROXY | UDP4 | len 12 | src 198.51.100.7 dst 127.0.0.1 | 40000 8443
UDP4="$SIG 21 12 000c c6336407 7f000001 9c40 20fb"

setup() {
	ns_setup
}

teardown() {
	ns_teardown
}

@test "UDP4: the backend sees the client's address and port, the reply comes back bare" {
	start_udp_backends hello
	start_udp_mmproxy
	run udp --hex "$UDP4" --text 'ping'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "hello 198.51.100.7:40000 ping" ]
	grep -qx 'dgram peer=198.51.100.7:40000 len=4 data=ping' "$BE4_LOG"
	wait_log '^accept id=1 peer=127\.0\.0\.1:[0-9]+ proto=udp local=127\.0\.0\.1:8443 worker=[0-9]+$'
	wait_log '^flow_open id=1 peer=127\.0\.0\.1:[0-9]+ src=198\.51\.100\.7:40000 target=127\.0\.0\.1:4430 flows=1$'
}

@test "UDP6 behind an IPv4 balancer goes to the IPv6 backend from the client's address" {
	start_udp_backends hello
	start_udp_mmproxy
	# UDP6 | len 36 | 2001:db8::7 ::1 | 40001 8443
	run udp --hex "$SIG 21 22 0024 20010db8000000000000000000000007 00000000000000000000000000000001 9c41 20fb" --text 'six'
	[ "$status" -eq 0 ]
	[ "$output" = "hello [2001:db8::7]:40001 six" ]
	grep -q '^dgram peer=\[2001:db8::7\]:40001 len=3 data=six$' "$BE6_LOG"
}

@test "UDP4 behind an IPv6 balancer goes to the IPv4 backend" {
	start_udp_backends hello
	start_udp_mmproxy -l '[::1]:8443'
	run nsx "$UDP_CLIENT" --hex "$UDP4" --text 'four' '[::1]:8443'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "hello 198.51.100.7:40000 four" ]
	wait_log '^accept id=1 peer=\[::1\]:[0-9]+ proto=udp local=\[::1\]:8443 '
}

@test "a v4-mapped UDP6 source is unmapped and goes to the IPv4 backend" {
	start_udp_backends hello
	start_udp_mmproxy
	run udp --hex "$SIG 21 22 0024 00000000000000000000ffffc6336408 00000000000000000000ffff7f000001 9c42 20fb" --text 'mapped'
	[ "$status" -eq 0 ]
	[ "$output" = "hello 198.51.100.8:40002 mapped" ]
}

@test "LOCAL datagrams go from mmproxy's own address" {
	start_udp_backends hello
	start_udp_mmproxy
	# signature | ver 2, LOCAL | UNSPEC | len 0
	run udp --hex "$SIG 20 00 0000" --text 'health'
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^hello\ 127\.0\.0\.1:[0-9]+\ health$ ]]
	wait_log '^flow_open id=1 peer=[^ ]+ src=local target=127\.0\.0\.1:4430 flows=1$'
}

@test "two clients behind one balancer socket are two flows, each answered" {
	start_udp_backends hello
	start_udp_mmproxy
	run udp --hex "$UDP4" --text 'from-a' \
	    --hex "$SIG 21 12 000c c6336409 7f000001 9c41 20fb" --text 'from-b' \
	    --hex "$UDP4" --text 'a-again'
	echo "$output"
	[ "$status" -eq 0 ]
	# Replies on two flows may come back in either order.
	[ "$(sort <<<"$output")" = "$(printf '%s\n' \
	    "hello 198.51.100.7:40000 a-again" \
	    "hello 198.51.100.7:40000 from-a" \
	    "hello 198.51.100.9:40001 from-b")" ]
	# One peer, one worker, two flows.
	[ "$(grep -c '^accept id=' "$MM_LOG")" -eq 1 ]
	wait_log '^flow_open id=1 .* src=198\.51\.100\.9:40001 .* flows=2$'
}

@test "the same client tuple through two balancer sockets: two workers, each gets its own replies" {
	start_udp_backends hello
	start_udp_mmproxy
	nsx "$UDP_CLIENT" --bind 127.0.0.1:50001 --hex "$UDP4" --text 'via-a' 127.0.0.1:8443 >"$BATS_TEST_TMPDIR/a1"
	nsx "$UDP_CLIENT" --bind 127.0.0.1:50002 --hex "$UDP4" --text 'via-b' 127.0.0.1:8443 >"$BATS_TEST_TMPDIR/b1"
	nsx "$UDP_CLIENT" --bind 127.0.0.1:50001 --hex "$UDP4" --text 'via-a2' 127.0.0.1:8443 >"$BATS_TEST_TMPDIR/a2"
	cat "$BATS_TEST_TMPDIR"/a1 "$BATS_TEST_TMPDIR"/b1 "$BATS_TEST_TMPDIR"/a2
	[ "$(cat "$BATS_TEST_TMPDIR/a1")" = "hello 198.51.100.7:40000 via-a" ]
	[ "$(cat "$BATS_TEST_TMPDIR/a2")" = "hello 198.51.100.7:40000 via-a2" ]
	# The first holds the client's port: the second keeps its address, on
	# a port of its own, so the backend's replies cannot cross.
	[[ "$(cat "$BATS_TEST_TMPDIR/b1")" =~ ^hello\ 198\.51\.100\.7:[0-9]+\ via-b$ ]]
	[ "$(cat "$BATS_TEST_TMPDIR/b1")" != "hello 198.51.100.7:40000 via-b" ]
	wait_log '^accept id=2 peer=127\.0\.0\.1:50002 '
	wait_log '^flow_open id=2 .* src=198\.51\.100\.7:40000 .* source_port=ephemeral reason=port_in_use$'
}

@test "64 flows from privileged source ports log a bounded number of flow_open lines at -v 1" {
	start_udp_backends hello
	start_udp_mmproxy -v 1
	local args=() i
	# One balancer socket, 64 clients 198.51.100.7:100..163: each flow
	# keeps the address on an ephemeral port and says so at -v 1.
	for i in $(seq 0 63); do
		args+=(--hex "$SIG 21 12 000c c6336407 7f000001 $(printf %04x $((100 + i))) 20fb" --text "p$i")
	done
	t0=$(date +%s)
	run udp "${args[@]}"
	# On a failure: what came back, and how the worker ended if it did
	# (the lean build's worker once died by SIGSYS here: musl's free()).
	echo "status $status, ${#lines[@]} replies"
	grep -v '^flow_open' "$MM_LOG" | head -20
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 64 ]
	elapsed=$(( $(date +%s) - t0 + 1 ))
	wait_log '^suppressed what=flow_open count=[0-9]+ seconds=1$'
	n=$(grep -c '^flow_open .* source_port=ephemeral reason=privileged_port$' "$MM_LOG")
	echo "$n flow_open lines in about $elapsed s"
	[ "$n" -ge 1 ]
	[ "$n" -lt 64 ]
	[ "$n" -le $(( 10 * elapsed )) ]
}

@test "0-byte datagrams pass both ways and do not end the flow" {
	start_udp_backends echo
	start_udp_mmproxy
	run udp --hex "$UDP4" --hex "$UDP4" --text 'after'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "(empty)" ]
	[ "${lines[1]}" = "after" ]
	grep -qx 'dgram peer=198.51.100.7:40000 len=0 data=' "$BE4_LOG"
	[ "$(grep -c '^flow_open ' "$MM_LOG")" -eq 1 ]
	! grep -q '^flow_close ' "$MM_LOG"
}

@test "a burst of 10,000 datagrams: every one answered, in order" {
	start_udp_backends echo
	start_udp_mmproxy -v 1
	run udp --burst 10000 --window 64 --hex "$UDP4"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "sent=10000 recv=10000 inorder=1" ]
	[ "$(grep -c '^dgram peer=198\.51\.100\.7:40000 ' "$BE4_LOG")" -eq 10000 ]
}

@test "datagrams sent during the hand-off all arrive, in order" {
	start_udp_backends echo
	start_udp_mmproxy
	# 200 at once from a new balancer socket: most are queued on the
	# listener while the worker is being handed the first.
	run udp --burst 200 --window 200 --hex "$UDP4"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "sent=200 recv=200 inorder=1" ]
	seqs=$(sed -n 's/^dgram peer=198\.51\.100\.7:40000 len=[0-9]* data=\([0-9]*\)$/\1/p' "$BE4_LOG" | xargs)
	[ "$seqs" = "$(seq 1 200 | xargs)" ]
	# The supervisor did pass queued datagrams on, then said so.
	wait_log '^sync id=1 forwarded=[0-9]+$'
	grep '^sync id=1 ' "$MM_LOG"
}

@test "each invalid datagram is dropped with its reason; the flows and the proxy carry on" {
	start_udp_backends hello
	start_udp_mmproxy
	run udp --bind 127.0.0.1:50010 --hex "$UDP4" --text 'first' --expect 1
	[ "$output" = "hello 198.51.100.7:40000 first" ]
	bad() {
		run udp --bind 127.0.0.1:50010 "$@" --expect 0
		[ "$status" -eq 0 ]
	}
	bad --hex '48454c4c4f'						# no header: "HELLO"
	wait_log 'reason=bad_signature$'
	bad --hex '50524f585920544350342031302e302e302e3120' --text '10.0.0.2 1 2\r\nx'	# v1
	wait_log 'reason=v1_on_udp$'
	bad --hex "$SIG 21 11 000c c6336407 7f000001 9c40 20fb" --text 'stream'	# STREAM
	wait_log 'reason=wrong_transport$'
	bad --hex "$SIG 21 12 0004 c6336407" --text 'short'		# INET in 4 bytes
	wait_log 'reason=short_addr$'
	bad --hex "$SIG 21 12 0013 c6336407 7f000001 9c40 20fb 03 0004 00000000" --text 'crc'	# bad CRC32C
	wait_log 'reason=crc32c_mismatch$'
	bad --hex "$SIG 21 12 000c c6336407 7f00"			# header cut short
	wait_log 'reason=truncated$'
	# Nothing of those reached the backend; the flow still works.
	[ "$(grep -c '^dgram ' "$BE4_LOG")" -eq 1 ]
	run udp --bind 127.0.0.1:50010 --hex "$UDP4" --text 'still here'
	[ "$output" = "hello 198.51.100.7:40000 still here" ]
	[ "$(grep -c '^accept id=' "$MM_LOG")" -eq 1 ]
	grep -E '^drop id=1 peer=127\.0\.0\.1:50010 proto=udp src=- reason=' "$MM_LOG"
	kill -0 "$MM_PID"
}

@test "a balancer outside -allowed-subnets is dropped before any worker is involved" {
	start_udp_backends hello
	printf '127.0.0.2/32\n' >"$BATS_TEST_TMPDIR/allowed"
	start_udp_mmproxy -l 0.0.0.0:8443 -allowed-subnets "$BATS_TEST_TMPDIR/allowed"
	run udp --bind 127.0.0.1:50020 --hex "$UDP4" --text 'refused' --expect 0
	wait_log '^drop id=1 peer=127\.0\.0\.1:50020 proto=udp reason=not_allowed$'
	! grep -q '^accept ' "$MM_LOG"
	refute_backend_datagram
	run nsx "$UDP_CLIENT" --bind 127.0.0.2:50021 --hex "$UDP4" --text 'allowed' 127.0.0.2:8443
	[ "$output" = "hello 198.51.100.7:40000 allowed" ]
}

@test "-close-after 2 closes an idle flow by its timer, with no further traffic" {
	start_udp_backends hello
	start_udp_mmproxy -close-after 2
	run udp --hex "$UDP4" --text 'once'
	[ "$output" = "hello 198.51.100.7:40000 once" ]
	t0=$(date +%s%N)
	# The flow's upstream socket, bound to the client's address.
	[ -n "$(nsx ss -Huanp 'src 198.51.100.7:40000')" ]
	wait_log '^flow_close id=1 .* src=198\.51\.100\.7:40000 .* up=1 down=1 reason=idle$'
	wait_for "the upstream socket to go" eval '[ -z "$(nsx ss -Huanp "src 198.51.100.7:40000")" ]'
	elapsed=$(( ($(date +%s%N) - t0) / 1000000 ))
	echo "closed after ${elapsed} ms"
	# Not before its time, and by the timer (within 3 s), not by traffic.
	[ "$elapsed" -ge 1900 ]
	[ "$elapsed" -le 3000 ]
	wait_log '^peer_close id=1 '
	# The worker is idle again and serves the next peer.
	run udp --hex "$UDP4" --text 'twice'
	[ "$output" = "hello 198.51.100.7:40000 twice" ]
}

@test "a balancer socket that sent one datagram only is released within 10 s; one that sends more keeps its flow" {
	start_udp_backends hello
	start_udp_mmproxy -close-after 120
	run udp --hex "$UDP4" --text 'once'
	[ "$output" = "hello 198.51.100.7:40000 once" ]
	# Another balancer socket, another client, two datagrams.
	udp8="$SIG 21 12 000c c6336408 7f000001 9c41 20fb"
	run udp --hex "$udp8" --text 'one' --hex "$udp8" --text 'two'
	[ "${lines[1]}" = "hello 198.51.100.8:40001 two" ]
	# Long before -close-after (the wait gives up at 30 s): one spoofed
	# datagram cannot hold a worker for two minutes.
	wait_log '^flow_close id=1 .* src=198\.51\.100\.7:40000 .* up=1 down=1 reason=one_datagram$'
	wait_log '^peer_close id=1 '
	! grep -q '^flow_close id=2 ' "$MM_LOG"
}

@test "a killed worker loses only its peer, whose next datagram gets a new worker" {
	start_udp_backends hello
	start_udp_mmproxy
	run udp --bind 127.0.0.1:50030 --hex "$UDP4" --text 'one'
	[ "$output" = "hello 198.51.100.7:40000 one" ]
	run udp --bind 127.0.0.1:50031 --hex "$SIG 21 12 000c c6336409 7f000001 9c41 20fb" --text 'other'
	[ "$output" = "hello 198.51.100.9:40001 other" ]
	victim=$(sed -n 's/^accept id=1 .* worker=\([0-9]*\)$/\1/p' "$MM_LOG")
	[ -n "$victim" ]
	kill -9 "$victim"
	wait_log "^worker_exit worker=$victim signal=9 id=1\$"
	run udp --bind 127.0.0.1:50030 --hex "$UDP4" --text 'two'
	[ "$output" = "hello 198.51.100.7:40000 two" ]
	wait_log '^accept id=3 peer=127\.0\.0\.1:50030 '
	# The other peer's worker was not touched.
	run udp --bind 127.0.0.1:50031 --hex "$SIG 21 12 000c c6336409 7f000001 9c41 20fb" --text 'still'
	[ "$output" = "hello 198.51.100.9:40001 still" ]
	[ "$(grep -c '^accept id=' "$MM_LOG")" -eq 3 ]
}

@test "-listeners 4: four UDP sockets, every balancer socket answered" {
	start_udp_backends echo
	start_udp_mmproxy -listeners 4 -v 1
	[ "$(nsx ss -Hlun 'sport = :8443' | wc -l)" -eq 4 ]
	run udp --peers 40 --window 20
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "ok=40" ]
	run udp --burst 2000 --window 64 --hex "$UDP4"
	[ "$output" = "sent=2000 recv=2000 inorder=1" ]
}

@test "-l 0.0.0.0: replies leave from the address the balancer sent to" {
	start_udp_backends hello
	start_udp_mmproxy -l 0.0.0.0:8443
	run nsx "$UDP_CLIENT" --from --hex "$UDP4" --text 'to-2' 127.0.0.2:8443
	echo "$output"
	[ "$output" = "from=127.0.0.2:8443 hello 198.51.100.7:40000 to-2" ]
	run nsx "$UDP_CLIENT" --from --hex "$SIG 21 12 000c c6336409 7f000001 9c41 20fb" --text 'to-1' 127.0.0.1:8443
	[ "$output" = "from=127.0.0.1:8443 hello 198.51.100.9:40001 to-1" ]
	wait_log ' proto=udp local=127\.0\.0\.2:8443 '
}

@test "a new balancer socket beyond -max-conns is dropped and logged, the others served" {
	start_udp_backends hello
	start_udp_mmproxy -max-conns 1 -workers 1
	run udp --bind 127.0.0.1:50040 --hex "$UDP4" --text 'first'
	[ "$output" = "hello 198.51.100.7:40000 first" ]
	run udp --bind 127.0.0.1:50041 --hex "$UDP4" --text 'second' --expect 0
	wait_log '^drop id=2 peer=127\.0\.0\.1:50041 proto=udp reason=pool_full$'
	run udp --bind 127.0.0.1:50040 --hex "$UDP4" --text 'again'
	[ "$output" = "hello 198.51.100.7:40000 again" ]
}

@test "-max-flows bounds the flows of one balancer socket" {
	start_udp_backends hello
	start_udp_mmproxy -max-flows 1
	run udp --hex "$UDP4" --text 'a' --hex "$SIG 21 12 000c c6336409 7f000001 9c41 20fb" --text 'b' --expect 1
	[ "$output" = "hello 198.51.100.7:40000 a" ]
	wait_log '^drop id=1 peer=[^ ]+ proto=udp src=198\.51\.100\.9:40001 reason=too_many_flows$'
}

@test "an unreachable backend port is logged and the flow carries on" {
	start_udp_mmproxy -4 127.0.0.1:4439
	run udp --hex "$UDP4" --text 'one' --hex "$UDP4" --text 'two' --expect 0
	wait_log '^flow_error id=1 .* src=198\.51\.100\.7:40000 side=upstream error="Connection refused"$'
	[ "$(grep -c '^flow_open ' "$MM_LOG")" -eq 1 ]
	kill -0 "$MM_PID"
}

@test "after 1,000 short flows the process and fd counts are back at their baseline" {
	start_udp_backends echo
	start_udp_mmproxy -close-after 1 -workers 2 -v 1
	wait_for "2 idle workers" eval '[ "$(worker_pids | wc -w)" -eq 2 ]'
	base_fds=$(ls "/proc/$MM_PID/fd" | wc -l)
	run udp --peers 1000 --window 50
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "ok=1000" ]
	# Every flow expires, and the pool shrinks back to 2 x -workers.
	wait_for "the pool to shrink" eval '[ "$(worker_pids | wc -w)" -le 4 ]'
	n=$(worker_pids | wc -w)
	# Two channel fds (jobs, prepared sockets) per worker beyond the
	# baseline's two workers, nothing else.
	[ "$(ls "/proc/$MM_PID/fd" | wc -l)" -eq $((base_fds + 2 * (n - 2))) ]
	for w in $(worker_pids); do
		[ "$(ls /proc/$w/fd | sort -n | xargs)" = '0 1 2 3 4' ]
	done
	# No socket is left bound to a PROXY source.
	[ -z "$(nsx ss -Huan 'src 198.51.100.0/24')" ]
}

# An IPv4 and an IPv6 balancer, each answered from the address it sent to.
both_families_answered() {
	run nsx "$UDP_CLIENT" --from --hex "$UDP4" --text 'v4-balancer' 127.0.0.2:8443
	echo "$output"
	[ "$output" = "from=127.0.0.2:8443 hello 198.51.100.7:40000 v4-balancer" ]
	run nsx "$UDP_CLIENT" --from --hex "$SIG 21 12 000c c6336409 7f000001 9c41 20fb" --text 'v6-balancer' '[::1]:8443'
	echo "$output"
	[ "$output" = "from=[::1]:8443 hello 198.51.100.9:40001 v6-balancer" ]
}

@test "-l [::] (dual stack): IPv4 and IPv6 balancers are answered from the address they sent to" {
	start_udp_backends hello
	start_udp_mmproxy -l '[::]:8443'
	both_families_answered
	wait_log '^accept id=1 peer=127\.0\.0\.1:[0-9]+ proto=udp local=127\.0\.0\.2:8443 '
	wait_log '^accept id=2 peer=\[::1\]:[0-9]+ proto=udp local=\[::1\]:8443 '
}

@test "-l :8443 (go-mmproxy's every address) is dual stack even with bindv6only=1: IPv4 and IPv6 balancers answered" {
	nsx sysctl -qw net.ipv6.bindv6only=1
	start_udp_backends hello
	start_udp_mmproxy -l :8443
	wait_log '^start .*listen=\[::\]:8443 '
	both_families_answered
}

@test "after an invalid first datagram the next is served, and its flow expires with no reply traffic" {
	start_udp_backends drain
	start_udp_mmproxy -close-after 1
	run udp --hex '48454c4c4f' --hex "$UDP4" --text 'valid' --expect 0
	wait_log 'reason=bad_signature$'
	wait_log '^dgram peer=198\.51\.100\.7:40000 len=5 data=valid$' "$BE4_LOG"
	wait_log '^flow_close id=[0-9]+ .* up=1 down=0 reason=idle$'
}

@test "a UDP worker's fd limit leaves room for -max-flows upstream sockets, no more" {
	start_udp_backends hello
	start_udp_mmproxy -max-flows 8
	run udp --hex "$UDP4" --text 'x'
	[ "$output" = "hello 198.51.100.7:40000 x" ]
	w=$(sed -n 's/^accept id=1 .* worker=\([0-9]*\)$/\1/p' "$MM_LOG")
	grep -E '^Max open files +24 +24 ' "/proc/$w/limits"
}
