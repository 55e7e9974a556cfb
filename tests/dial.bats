#!/usr/bin/env bats
# An upstream that cannot be reached closes that client only, logged at
# -v 1 with the reason.

load helpers

setup() {
	ns_setup
	start_backends echo
}

teardown() {
	ns_teardown
}

@test "a refused upstream closes the client and is logged as dial_failed" {
	# Nothing listens on 4999; the IPv6 backend is fine.
	start_mmproxy -v 1 -4 127.0.0.1:4999
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\nlost\n' --read --timeout-ms 20000
	[ -z "$output" ]
	wait_log '^drop id=1 peer=127\.0\.0\.1:[0-9]+ src=198\.51\.100\.7:40000 target=127\.0\.0\.1:4999 reason=dial_failed error="Connection refused"$'
	run pp --text 'PROXY TCP6 2001:db8::7 ::1 40001 8443\r\nfine\n' --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "fine" ]
}

@test "an unreachable upstream network is logged as dial_failed" {
	nsx ip route add unreachable 192.0.2.0/24
	start_mmproxy -v 1 -4 192.0.2.1:443
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\n' --read --timeout-ms 20000
	[ -z "$output" ]
	wait_log 'target=192\.0\.2\.1:443 reason=dial_failed error="(No route to host|Network is unreachable|Host is unreachable|Network unreachable)"$'
	refute_backend_connection
}

@test "a client source already in use upstream fails that client only" {
	start_mmproxy
	nsx "$PP_CLIENT" --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\n' --hold-ms 60000 127.0.0.1:8443 3>&- &
	wait_log '^connect id=1 '
	# The same client address and port again, to the same backend.
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\n' --read --timeout-ms 20000
	[ -z "$output" ]
	wait_log '^drop id=2 .*reason=dial_failed error="(Address already in use|Cannot assign requested address|Address in use|Address not available)"$'
	assert_still_serving
}
