#!/usr/bin/env bats
# Hostile load: a flood of bad headers or of resets cannot flood the log,
# and silent connections cannot keep a real client waiting.

load helpers

setup() {
	ns_setup
	start_backends echo
}

teardown() {
	ns_teardown
}

@test "a flood of 10,000 invalid headers produces a bounded number of log lines" {
	start_mmproxy -v 1 -workers 1 -max-conns 4
	t0=$(date +%s)
	run pp --text 'GARBAGE\r\n' --repeat 10000 --timeout-ms 10000
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "closed=10000" ]
	elapsed=$(( $(date +%s) - t0 + 1 ))
	# The summary comes when the second with suppressed lines is over.
	wait_log '^suppressed what=drop count=[0-9]+ seconds=1$'
	lines=$(grep -c '^drop ' "$MM_LOG")
	echo "$lines drop lines in about $elapsed s"
	# At most 10 a second in each worker (never more than 4 at once),
	# plus one summary a second: far below one line per connection.
	[ "$lines" -le $(( 4 * 10 * elapsed )) ]
	[ "$lines" -lt 10000 ]
	[ "$(grep -c '^drop .* reason=bad_signature$' "$MM_LOG")" -eq "$lines" ]
	assert_still_serving
}

@test "a flood of 2,000 clients that reset once relayed produces a bounded number of close lines" {
	start_mmproxy -v 1 -workers 1 -max-conns 4
	t0=$(date +%s)
	# Source port 0: each connection dials from a port of its own.  Each
	# client waits for its byte's echo, so its worker is relaying when the
	# reset comes: close ... end=error side=client.
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 0 8443\r\nx' --repeat 2000 --reset --timeout-ms 10000
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "reset=2000" ]
	elapsed=$(( $(date +%s) - t0 + 1 ))
	wait_log '^suppressed what=close count=[0-9]+ seconds=1$'
	lines=$(grep -c '^close .* end=error ' "$MM_LOG")
	echo "$lines close lines in about $elapsed s"
	[ "$lines" -ge 1 ]
	[ "$lines" -le $(( 4 * 10 * elapsed )) ]
	[ "$lines" -lt 2000 ]
	assert_still_serving
}

@test "200 silent connections do not keep a real client waiting" {
	start_mmproxy -v 1 -header-timeout 60
	for i in $(seq 1 200); do
		nsx "$PP_CLIENT" --hold-ms 60000 127.0.0.1:8443 3>&- &
	done
	# Each silent connection holds a worker of its own.
	wait_for "200 silent connections in workers" eval '[ "$(worker_pids | wc -w)" -ge 200 ]'
	run pp --text 'PROXY TCP4 198.51.100.9 127.0.0.1 40009 8443\r\nreal\n' --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "real" ]
	backend_saw 198.51.100.9:40009
	# Served while all 200 still waited for their header deadline.
	! grep -q 'reason=header_timeout' "$MM_LOG"
	pkill -f -- "--hold-ms 60000 127.0.0.1:8443" || true
}
