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

@test "-idle-timeout: a connection silent both ways for that long is closed with a FIN; one that talks is not" {
	start_mmproxy -idle-timeout 2
	# The echo comes back, then nothing: closed at 2 s, long before the
	# client would give up reading (30 s, exit 3).
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\nhi\n' --read --timeout-ms 30000
	[ "$status" -eq 0 ]
	[ "$output" = "hi" ]
	wait_log '^close id=1 .* up=3 down=3 end=idle$'
	# A byte every 500 ms for 4 s keeps it open past the 2 s, until the
	# client ends it.
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40001 8443\r\n' --text a --text b \
	    --text c --text d --text e --text f --text g --text h --pause-ms 500 --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "abcdefgh" ]
	wait_log '^close id=2 .* up=8 down=8 end=eof$'
}

@test "-idle-timeout takes seconds from 0 up" {
	run "$MMPROXY" -idle-timeout -1 -4 127.0.0.1:1
	[ "$status" -eq 2 ]
	[[ "$output" == *"-idle-timeout"* ]]
}
