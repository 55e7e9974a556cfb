#!/usr/bin/env bats
# The worker pool: many clients at once, a cap that queues instead of
# refusing, and one client's crash taking only that client.

load helpers

setup() {
	ns_setup
	start_backends echo
}

teardown() {
	ns_teardown
}

@test "300 concurrent connections are all served with their own source" {
	start_mmproxy -v 1
	run pp --parallel 300 --src 198.51.100.50 --port-base 30000 --timeout-ms 240000
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "ok=300" ]
	[ "$(grep -c '^accept peer=198\.51\.100\.50:3[0-9]*$' "$BE4_LOG")" -eq 300 ]
	[ "$(grep '^accept peer=' "$BE4_LOG" | sort -u | wc -l)" -eq 300 ]
}

@test "at -max-conns new connections wait in the backlog and are served later" {
	start_mmproxy -max-conns 2 -workers 1
	ip netns exec "$NS" "$PP_CLIENT" --text 'PROXY TCP4 198.51.100.1 127.0.0.1 40001 8443\r\n' --hold-ms 60000 127.0.0.1:8443 3>&- &
	A=$!
	nsx "$PP_CLIENT" --text 'PROXY TCP4 198.51.100.2 127.0.0.1 40002 8443\r\n' --hold-ms 60000 127.0.0.1:8443 3>&- &
	wait_log '^connect id=1 '
	wait_log '^connect id=2 '
	wait_log '^pool_full max_conns=2'
	nsx "$PP_CLIENT" --text 'PROXY TCP4 198.51.100.3 127.0.0.1 40003 8443\r\nqueued\n' --shut --read 127.0.0.1:8443 >"$BATS_TEST_TMPDIR/c.out" 3>&- &
	# The third connection is in the kernel's backlog, not refused.
	wait_for "the third connection in the accept queue" eval '[ "$(accept_queue 8443)" -eq 1 ]'
	! log_has "$MM_LOG" '^accept id=3 '
	kill $A
	wait_log '^accept id=3 '
	wait_for "the queued client's answer" grep -qx queued "$BATS_TEST_TMPDIR/c.out"
}

@test "a killed worker drops only its own connection" {
	start_mmproxy
	nsx "$PP_CLIENT" --text 'PROXY TCP4 198.51.100.1 127.0.0.1 40001 8443\r\n' --hold-ms 60000 --read 127.0.0.1:8443 >"$BATS_TEST_TMPDIR/a.out" 3>&- &
	wait_log '^connect id=1 '
	# B connects now and sends its data only after A's worker has died.
	nsx "$PP_CLIENT" --text 'PROXY TCP4 198.51.100.2 127.0.0.1 40002 8443\r\n' --text 'survivor\n' --pause-ms 3000 --shut --read 127.0.0.1:8443 >"$BATS_TEST_TMPDIR/b.out" 3>&- &
	wait_log '^connect id=2 '
	victim=$(sed -n 's/^accept id=1 .* worker=\([0-9]*\)$/\1/p' "$MM_LOG")
	[ -n "$victim" ]
	kill -9 "$victim"
	wait_log "^worker_exit worker=$victim signal=9 id=1\$"
	# A's backend connection is closed with it; B carries on.
	wait_log '^close peer=198\.51\.100\.1:40001 ' "$BE4_LOG"
	wait_for "B's answer" grep -qx survivor "$BATS_TEST_TMPDIR/b.out"
	assert_still_serving
	kill -0 "$MM_PID"
	# Logged once for the episode, not every time it retried.
	[ "$(grep -c '^spawn error=' "$MM_LOG")" -le 2 ]
}

@test "after a burst, idle workers beyond twice -workers exit" {
	start_mmproxy -workers 2
	for i in $(seq 1 20); do
		nsx "$PP_CLIENT" --text "PROXY TCP4 198.51.100.1 127.0.0.1 $((40000 + i)) 8443\r\n" --hold-ms 3000 127.0.0.1:8443 3>&- &
	done
	wait_for "20 relayed connections" eval '[ "$(grep -c "^connect id=" "$MM_LOG")" -eq 20 ]'
	# 20 busy workers plus the idle ones kept ready.
	[ "$(worker_pids | wc -w)" -ge 22 ]
	wait_for "the pool to shrink to 2 x 2 idle workers" eval '[ "$(worker_pids | wc -w)" -le 4 ]'
	[ "$(grep -c '^worker_exit worker=[0-9]* status=0$' "$MM_LOG")" -ge 18 ]
	assert_still_serving
}

@test "an idle worker holds only stdio and its channel, not the listener" {
	start_mmproxy -listeners 3
	wait_log '^spawn worker='
	w=$(sed -n 's/^spawn worker=\([0-9]*\) .*/\1/p' "$MM_LOG" | head -1)
	wait_for "worker $w to close inherited fds" eval "[ \"\$(ls /proc/$w/fd | sort -n | xargs)\" = '0 1 2 3' ]"
	[[ "$(readlink /proc/$w/fd/3)" == socket:* ]]
	# fd 3 is not any of the listening sockets.
	for ino in $(nsx ss -Htlne 'sport = :8443' | sed -n 's/.* ino:\([0-9]*\) .*/\1/p'); do
		[ "$(readlink /proc/$w/fd/3)" != "socket:[$ino]" ]
	done
}

@test "when the supervisor is killed the port stops accepting and idle workers exit" {
	start_mmproxy
	wait_log '^spawn worker=.* workers=8$'
	workers=$(worker_pids)
	[ "$(echo $workers | wc -w)" -eq 8 ]
	kill -9 "$MM_PID"
	wait_for "workers to exit" processes_gone $workers
	! port_listening 8443
}

@test "SIGTERM stops mmproxy: it logs, ends its workers and exits 0" {
	start_mmproxy
	wait_log '^spawn worker=.* workers=8$'
	workers=$(worker_pids)
	[ "$(echo $workers | wc -w)" -eq 8 ]
	rc=0
	kill -TERM "$MM_PID"
	wait "$MM_PID" || rc=$?
	[ "$rc" -eq 0 ]
	grep -Eq '^stop signal=TERM workers=8 accepted=0 closed=0$' "$MM_LOG"
	processes_gone $workers
}

@test "out of file descriptors, mmproxy keeps serving once connections end" {
	# 16 fds: stdio, the binary, the listener, the signalfd, and workers'
	# channels and prepared sockets.  Fifteen held clients need more
	# workers than that.
	MM_WRAP="prlimit --nofile=16:16 $MMPROXY_BUILD/tests/closefds" start_mmproxy -workers 2 -max-conns 100
	for i in $(seq 1 15); do
		nsx "$PP_CLIENT" --text "PROXY TCP4 198.51.100.$i 127.0.0.1 40000 8443\\r\\n" --hold-ms 60000 127.0.0.1:8443 3>&- &
	done
	# Whichever needs an fd first fails: a worker's channel, the accept, or
	# a prepared upstream socket (then the connection waits in the backlog).
	wait_log '^(spawn|accept|prepare) (family=ipv[46] )?error="(Too many open files|No file descriptors available)"( workers=[0-9]+| backoff_ms=[0-9]+)?$'
	served=$(grep -c '^connect id=' "$MM_LOG")
	[ "$served" -lt 15 ]
	wait_for "the rest in the accept queue" eval '[ "$(accept_queue 8443)" -eq $((15 - served)) ]'
	pkill -f -- "--hold-ms 60000 127.0.0.1:8443"
	wait_for "all fifteen connections served" eval '[ "$(grep -c "^connect id=" "$MM_LOG")" -eq 15 ]'
	assert_still_serving
	kill -0 "$MM_PID"
	# Logged once per episode, not every time it was retried (every
	# 100 ms): an episode ends when the call works again, so between two
	# spawn errors a worker was spawned, and between two accept errors a
	# connection was accepted.  fds freed and taken again can make more
	# than one episode.
	once_per_episode '^spawn error=' '^spawn worker='
	once_per_episode '^accept error=' '^(accept|drop) id='
	[ "$(grep -c '^prepare ' "$MM_LOG")" -le 2 ]
}

# once_per_episode FAILURE SUCCESS: between two log lines matching the
# FAILURE regex there is one matching SUCCESS.
once_per_episode() {
	awk -v f="$1" -v ok="$2" '
		$0 ~ f { if (failing) { print "again without a success: " $0; bad = 1 } failing = 1; next }
		$0 ~ ok { failing = 0 }
		END { exit bad }' "$MM_LOG"
}

@test "a worker may not dump core, fork, or open more fds than it needs" {
	start_mmproxy
	wait_log '^spawn worker='
	w=$(sed -n 's/^spawn worker=\([0-9]*\) .*/\1/p' "$MM_LOG" | head -1)
	wait_for "worker $w's limits" grep -qE '^Max open files +16 +16 ' "/proc/$w/limits"
	grep -E '^Max core file size +0 +0 ' "/proc/$w/limits"
	grep -E '^Max processes +0 +0 ' "/proc/$w/limits"
	# The supervisor keeps its own limits.
	! grep -qE '^Max processes +0 ' "/proc/$MM_PID/limits"
	assert_still_serving
}

@test "-worker-jobs 1: each connection gets a fresh worker, which exits after it" {
	start_backends echo
	start_mmproxy -workers 1 -worker-jobs 1
	local i w seen=""
	for i in 1 2 3; do
		run pp --text "PROXY TCP4 198.51.100.7 127.0.0.1 4102$i 8443\r\nx\n" --shut --read
		[ "$output" = "x" ]
		wait_log "^close id=$i "
		w=$(sed -n "s/^accept id=$i .* worker=\([0-9]*\)\$/\1/p" "$MM_LOG")
		[ -n "$w" ]
		[[ " $seen " != *" $w "* ]]
		seen="$seen $w"
		wait_log "^worker_exit worker=$w status=0\$"
	done
}

@test "-worker-jobs takes a count from 0 up" {
	for bad in -1 x 4294967296; do
		run "$MMPROXY" -worker-jobs "$bad"
		[ "$status" -eq 2 ]
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" =~ -worker-jobs ]]
	done
}

# /proc/PID/stat's policy field (41st): 0 SCHED_OTHER, 3 SCHED_BATCH.
sched_policy() {
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $39 }'
}

workers_have_policy() {
	local p pids
	pids=$(worker_pids)
	[ -n "$pids" ] || return 1
	for p in $pids; do
		[ "$(sched_policy "$p")" = "$1" ] || return 1
	done
}

@test "-worker-sched: by default every worker runs SCHED_BATCH and still serves, the supervisor stays SCHED_OTHER; -worker-sched other keeps SCHED_OTHER" {
	start_mmproxy -workers 2
	wait_for "workers in SCHED_BATCH" workers_have_policy 3
	[ "$(sched_policy "$MM_PID")" = 0 ]
	assert_still_serving
	wait_for "workers in SCHED_BATCH" workers_have_policy 3
	stop_mmproxy
	start_mmproxy -workers 2 -worker-sched other
	# The worker that served this connection had confined itself first.
	assert_still_serving
	workers_have_policy 0
}
