#!/usr/bin/env bats
# -v 0: startup, shutdown, fatal errors only; -v 1: plus per-connection
# errors and drops; -v 2: every state change.  One line an event, key=value,
# the connection id on each.

load helpers

setup() {
	ns_setup
	start_backends echo
}

teardown() {
	ns_teardown
}

one_good_one_bad() {
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\nok\n' --shut --read
	[ "$output" = "ok" ]
	run pp --text 'PROXY TCP9 x\r\n' --read --timeout-ms 20000
	[ -z "$output" ]
}

@test "-v 0 logs the start line and no per-connection line" {
	start_mmproxy -v 0
	one_good_one_bad
	kill -TERM "$MM_PID"
	wait "$MM_PID"
	[ "$(grep -cv '^\(start\|stop\) ' "$MM_LOG")" -eq 0 ]
	grep -q '^stop signal=TERM' "$MM_LOG"
}

@test "-v 1 logs drops with the parser's reason but not state changes" {
	start_mmproxy -v 1
	one_good_one_bad
	wait_log '^drop id=2 peer=127\.0\.0\.1:[0-9]+ src=- target=- reason=v1_bad_proto$'
	! log_has "$MM_LOG" '^(accept|header|connect|close|spawn) '
}

@test "-v 2 logs every state change with id, peer, source and target" {
	start_mmproxy -v 2
	one_good_one_bad
	wait_log '^close id=1 peer=127\.0\.0\.1:[0-9]+ src=198\.51\.100\.7:40000 target=127\.0\.0\.1:4430 relay=copy up=3 down=3 end=eof$'
	wait_log '^drop id=2 .*reason=v1_bad_proto$'
	grep -qE '^accept id=1 peer=127\.0\.0\.1:[0-9]+ worker=[0-9]+$' "$MM_LOG"
	grep -qE '^header id=1 peer=127\.0\.0\.1:[0-9]+ version=1 src=198\.51\.100\.7:40000 dst=127\.0\.0\.1:8443$' "$MM_LOG"
	grep -qE '^connect id=1 peer=127\.0\.0\.1:[0-9]+ src=198\.51\.100\.7:40000 target=127\.0\.0\.1:4430$' "$MM_LOG"
}

@test "every log line is key=value after the event name" {
	start_mmproxy -v 2
	one_good_one_bad
	wait_log '^drop id=2 '
	# event, then key=value pairs (values may be quoted)
	! grep -vE '^[a-z_]+( [a-z_0-9]+=("[^"]*"|[^ "]*))+$' "$MM_LOG"
}
