#!/usr/bin/env bats
# -header-timeout: an absolute deadline from accept, not reset by each byte.

load helpers

setup() {
	ns_setup
	start_backends echo
}

teardown() {
	ns_teardown
}

@test "a client that sends nothing is closed at the header deadline" {
	start_mmproxy -header-timeout 2
	run pp --read --timeout-ms 20000
	[ "$status" -eq 0 ] || [ "$status" -eq 4 ]
	wait_log '^drop id=1 .*reason=header_timeout$'
	refute_backend_connection
}

@test "a client that trickles a valid header slower than the deadline is closed" {
	start_mmproxy -header-timeout 2
	# One byte every 200 ms: the 45-byte header needs 9 s, the deadline is 2 s,
	# and each byte arriving must not push it back.
	run pp --bytewise --pause-ms 200 --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\n' --read --timeout-ms 30000
	wait_log '^drop id=1 .*reason=header_timeout$'
	refute_backend_connection
}

@test "a silent client does not hold up another client" {
	start_mmproxy -header-timeout 60
	nsx "$PP_CLIENT" --hold-ms 60000 127.0.0.1:8443 3>&- &
	wait_log '^accept id=1 '
	assert_still_serving
	# The silent one is still waiting for its header.
	! log_has "$MM_LOG" '^drop id=1 '
}
