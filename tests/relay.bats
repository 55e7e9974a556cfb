#!/usr/bin/env bats
# The relay: half-close is propagated, a reset closes both sides, and
# nothing is lost or reordered.

load helpers

setup() {
	ns_setup
}

teardown() {
	ns_teardown
}

@test "half-close: a client that shuts down writing still gets the reply" {
	# The drain backend answers only after it has seen EOF: if the client's
	# FIN were not passed on it would never answer, and if mmproxy closed
	# both ways on that FIN the client would never read the answer.
	start_backends drain
	start_mmproxy
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\n' --text 'twelve bytes' --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "received 12 bytes" ]
	wait_log '^close id=1 .* up=12 down=18 end=eof$'
}

@test "half-close: the backend's FIN reaches the client while the client keeps sending" {
	# hello then echo: the client reads the greeting and echo until the
	# backend's EOF, which only comes after the client's own FIN.
	start_backends hello
	start_mmproxy
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40001 8443\r\n' --text 'one\n' --text 'two\n' --shut --read
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "one" ]
	[ "${lines[2]}" = "two" ]
}

@test "a reset from the client closes the upstream connection too" {
	start_backends echo
	start_mmproxy
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40002 8443\r\nbye\n' --hold-ms 300 --reset
	[ "$status" -eq 0 ]
	wait_log '^close id=1 .* end=error side=client error=' 
	wait_log '^close peer=198\.51\.100\.7:40002 in=4 out=4$' "$BE4_LOG"
}

@test "64 MiB both ways arrive complete and in order (checksums match)" {
	start_backends echo
	start_mmproxy
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40003 8443\r\n' --bulk 67108864 --timeout-ms 600000
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^sent=67108864\ sent_sum=([0-9a-f]{16})\ recv=67108864\ recv_sum=([0-9a-f]{16})$ ]]
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
	wait_log '^close id=1 .* up=67108864 down=67108864 end=eof$'
	wait_log '^close peer=198\.51\.100\.7:40003 in=67108864 out=67108864$' "$BE4_LOG"
}

@test "-relay splice without a free fd for pipes copies through a buffer, and loses nothing" {
	start_backends echo
	start_mmproxy -workers 1 -max-conns 1 -relay splice
	wait_log '^spawn worker='
	w=$(sed -n 's/^spawn worker=\([0-9]*\) .*/\1/p' "$MM_LOG" | head -1)
	# 8 fds for the worker: stdio, its channel, the client and its upstream
	# socket leave room for one pipe, not two, so at least one direction
	# copies (and the relay says copy).
	prlimit --pid "$w" --nofile=8:8
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40004 8443\r\n' --bulk 4194304 --timeout-ms 120000
	echo "$output"
	[[ "$output" =~ ^sent=4194304\ sent_sum=([0-9a-f]{16})\ recv=4194304\ recv_sum=([0-9a-f]{16})$ ]]
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
	wait_log '^close id=1 .* relay=copy up=4194304 down=4194304 end=eof$'
}

@test "-relay splice moves 16 MiB both ways intact through pipes" {
	start_backends echo
	start_mmproxy -relay splice
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40005 8443\r\n' --bulk 16777216 --timeout-ms 300000
	echo "$output"
	[[ "$output" =~ ^sent=16777216\ sent_sum=([0-9a-f]{16})\ recv=16777216\ recv_sum=([0-9a-f]{16})$ ]]
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
	wait_log '^close id=1 .* relay=splice up=16777216 down=16777216 end=eof$'
}

@test "-relay splice sends the bytes that came with the header first" {
	start_backends echo
	start_mmproxy -relay splice
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40008 8443\r\nfirst\n' --text 'second\n' --shut --read
	[ "${lines[0]}" = "first" ]
	[ "${lines[1]}" = "second" ]
	wait_log '^close id=1 .* relay=splice up=13 down=13 end=eof$'
}

@test "-relay splice propagates half-close" {
	start_backends drain
	start_mmproxy -relay splice
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40006 8443\r\n' --text 'twelve bytes' --shut --read
	[ "$output" = "received 12 bytes" ]
	wait_log '^close id=1 .* relay=splice up=12 down=18 end=eof$'
}

@test "the relay copies by default" {
	start_backends echo
	start_mmproxy
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40007 8443\r\nx\n' --shut --read
	[ "$output" = "x" ]
	wait_log '^close id=1 .* relay=copy up=2 down=2 end=eof$'
}

# The state letter of PID (R running, S sleeping, ...).
proc_state() {
	sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$1/stat"
}

@test "-spin: spinning or not, bulk both ways arrives intact, and a quiet connection's worker goes to sleep" {
	start_backends echo
	for spin in 0 100000; do
		start_mmproxy -spin "$spin"
		run pp --text "PROXY TCP4 198.51.100.7 127.0.0.1 4100${spin:0:1} 8443\\r\\n" --bulk 4194304 --timeout-ms 120000
		echo "$output"
		[[ "$output" =~ ^sent=4194304\ sent_sum=([0-9a-f]{16})\ recv=4194304\ recv_sum=([0-9a-f]{16})$ ]]
		[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
		kill "$MM_PID"
		wait "$MM_PID" || true
	done
	# One exchange, then silence: after its -spin polls the worker must
	# sleep in poll, not burn CPU.  Each poll yields the CPU, and on a busy
	# machine one yield can cost a whole time slice of another task: 100000
	# of them could outlast any wait, so the window here is 1000 polls
	# (seconds at the very worst); the bulk runs above cover the maximum.
	start_mmproxy -spin 1000
	nsx "$PP_CLIENT" --text 'PROXY TCP4 198.51.100.8 127.0.0.1 41010 8443\r\nping\n' \
	    --hold-ms 60000 127.0.0.1:8443 >/dev/null 2>&1 3>&- &
	hold=$!
	wait_log '^connect id=1 '
	w=$(sed -n 's/^accept id=1 .* worker=\([0-9]*\)$/\1/p' "$MM_LOG")
	[ -n "$w" ]
	wait_log '^accept peer=198\.51\.100\.8:41010$' "$BE4_LOG"
	wait_for "worker $w asleep in poll" eval "[ \"\$(proc_state $w)\" = S ] && grep -q poll /proc/$w/wchan" || {
		# What it was doing instead, for whoever reads a failure.
		echo "worker $w: state $(proc_state "$w"), wchan $(cat "/proc/$w/wchan"), syscall $(cat "/proc/$w/syscall"), $(grep ctxt "/proc/$w/status" | xargs)"
		kill "$hold"
		return 1
	}
	kill "$hold"
}

# The sched_yield calls mmproxy's workers have made (strace -o file).
yields() {
	grep -c sched_yield "$BATS_TEST_TMPDIR/yields" || true
}

@test "-spin: a connection's first events are waited for asleep (a short one never spins), a chatty one spins after them" {
	start_backends echo
	# Under strace from the start, which stops it at sched_yield only
	# (--seccomp-bpf): stopping at every call would slow the worker so
	# much that its peers' answers were always there before it looked.
	MM_WRAP="strace -qq -f --seccomp-bpf -e trace=sched_yield -o $BATS_TEST_TMPDIR/yields" \
	    start_mmproxy -spin 100000
	# Five request-and-answer connections: with the spin window open from
	# their first event, each would yield while its echo is on its way.
	for i in 1 2 3 4 5; do
		run pp --text "PROXY TCP4 198.51.100.10 127.0.0.1 4103$i 8443\\r\\nping $i\\n" --shut --read
		[ "$status" -eq 0 ]
		[[ "$output" == "ping $i" ]]
		wait_log "^close id=$i "
	done
	echo "yields after the short ones: $(yields)"
	[ "$(yields)" -eq 0 ]
	# Twelve lines 50 ms apart, each echoed: past its first events the
	# worker spins while it waits for the next.
	args=(--text "PROXY TCP4 198.51.100.10 127.0.0.1 41040 8443\\r\\n")
	for i in $(seq 1 12); do
		args+=(--text "line $i\\n")
	done
	run pp "${args[@]}" --pause-ms 50 --shut --read
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 12 ]
	[ "${lines[11]}" = "line 12" ]
	wait_log "^close id=6 "
	wait_for "a worker's sched_yield" eval '[ "$(yields)" -gt 0 ]'
}

@test "-spin takes a count from 0 to 100000" {
	for bad in -1 100001 x; do
		run "$MMPROXY" -spin "$bad"
		[ "$status" -eq 2 ]
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" =~ -spin ]]
	done
}

# Private dirty KB of PID: what it has written.
private_dirty_kb() {
	awk '$1 == "Private_Dirty:" { print $2 }' "/proc/$1/smaps_rollup"
}

@test "copy buffers: none while a connection is idle, and no more than a page each kept after bytes have passed" {
	start_backends echo
	start_mmproxy -workers 1
	nsx "$PP_CLIENT" --text 'PROXY TCP4 198.51.100.9 127.0.0.1 41020 8443\r\n' \
	    --hold-ms 60000 127.0.0.1:8443 >/dev/null 2>&1 3>&- &
	wait_log '^connect id=1 '
	w=$(sed -n 's/^accept id=1 .* worker=\([0-9]*\)$/\1/p' "$MM_LOG")
	[ -n "$w" ]
	wait_log '^accept peer=198\.51\.100\.9:41020$' "$BE4_LOG"
	# Connected and relaying, no byte yet: this is all it has written.
	idle_kb=$(private_dirty_kb "$w")
	pkill -f -- "--hold-ms 60000 127.0.0.1:8443"
	wait_log '^close id=1 '
	declare -A before
	for p in $(worker_pids); do before[$p]=$(private_dirty_kb "$p"); done
	# A MiB both ways fills both 64 KiB buffers of whichever worker serves it.
	run pp --text 'PROXY TCP4 198.51.100.9 127.0.0.1 41021 8443\r\n' --bulk 1048576 --timeout-ms 120000
	[[ "$output" =~ ^sent=1048576\ sent_sum=([0-9a-f]{16})\ recv=1048576\ recv_sum=([0-9a-f]{16})$ ]]
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
	wait_log '^close id=2 .* up=1048576 down=1048576 end=eof$'
	w2=$(sed -n 's/^accept id=2 .* worker=\([0-9]*\)$/\1/p' "$MM_LOG")
	[ -n "${before[$w2]:-}" ]
	# Back in the pool, it has given back all but a page of each: kept
	# whole, they would be 128 KB.
	after_kb=$(private_dirty_kb "$w2")
	echo "private dirty KB: $idle_kb with an idle connection; ${before[$w2]} before and $after_kb after the transfer"
	[ "$after_kb" -le $((before[$w2] + 32)) ]
	[ "$idle_kb" -le $((before[$w2] + 32)) ]
}
