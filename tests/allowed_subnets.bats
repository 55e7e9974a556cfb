#!/usr/bin/env bats
# -allowed-subnets: checked right after accept, before any byte is read;
# a bad, missing or empty file stops mmproxy at startup (fail closed).

load helpers

setup() {
	ns_setup
	start_backends echo
	ALLOWED=$BATS_TEST_TMPDIR/allowed
}

teardown() {
	ns_teardown
}

@test "a peer inside an allowed subnet is served" {
	printf '# the load balancers\n10.0.0.0/8\n\n  127.0.0.0/8  # this host\n' >"$ALLOWED"
	start_mmproxy -allowed-subnets "$ALLOWED"
	assert_still_serving
}

@test "a peer outside the allowed subnets is closed before its header is read" {
	printf '10.0.0.0/8\n2001:db8::/32\n' >"$ALLOWED"
	start_mmproxy -allowed-subnets "$ALLOWED"
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\nsecret\n' --read --timeout-ms 20000
	[ -z "$output" ]
	wait_log '^drop id=1 peer=127\.0\.0\.1:[0-9]+ reason=not_allowed$'
	refute_backend_connection
	# It was refused by the supervisor: no worker ever saw it.
	! log_has "$MM_LOG" '^(accept|header|connect) id=1 '
}

@test "listening beyond loopback with no -allowed-subnets warns once at startup; on loopback or with a list it does not" {
	start_mmproxy -listeners 2
	! grep -q '^warning msg="listening on ' "$MM_LOG"
	stop_mmproxy
	MM_LOG=$BATS_TEST_TMPDIR/any.log
	ip netns exec "$NS" "$MMPROXY" -l 0.0.0.0:8443 -listeners 2 -4 127.0.0.1:4430 \
	    -6 '[::1]:4430' >"$MM_LOG" 2>&1 3>&- &
	MM_PID=$!
	wait_log '^start '
	wait_port 8443
	[ "$(grep -c '^warning msg="listening on 0\.0\.0\.0:8443 with no -allowed-subnets: ' "$MM_LOG")" -eq 1 ]
	stop_mmproxy
	printf '10.0.0.0/8\n' >"$ALLOWED"
	MM_LOG=$BATS_TEST_TMPDIR/listed.log
	ip netns exec "$NS" "$MMPROXY" -l '[::]:8443' -4 127.0.0.1:4430 \
	    -6 '[::1]:4430' -allowed-subnets "$ALLOWED" >"$MM_LOG" 2>&1 3>&- &
	MM_PID=$!
	wait_log '^start '
	! grep -q '^warning msg="listening' "$MM_LOG"
}

@test "a refused peer is logged at -v 1 and not at -v 0" {
	printf '10.0.0.0/8\n' >"$ALLOWED"
	start_mmproxy -allowed-subnets "$ALLOWED" -v 0
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\n' --read --timeout-ms 20000
	[ -z "$output" ]
	! log_has "$MM_LOG" 'drop'
}

@test "a bad line stops mmproxy at startup naming FILE:LINE" {
	printf '10.0.0.0/8\n# fine\n10.0.0.0/33\n' >"$ALLOWED"
	run nsx "$MMPROXY" -l 127.0.0.1:8443 -allowed-subnets "$ALLOWED"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "mmproxy: -allowed-subnets: $ALLOWED:3: prefix length too long"* ]]
	! port_listening 8443
}

@test "a line with host bits is taken as its network, as go-mmproxy does, with one warning naming the line; at startup and on reload" {
	# 127.0.0.1/8 is 127.0.0.0/8; 10.1.2.3/8 warns no more: one warning.
	printf '10.1.2.3/8\n127.0.0.1/8\n' >"$ALLOWED"
	start_mmproxy -allowed-subnets "$ALLOWED"
	[ "$(grep -c '^warning ' "$MM_LOG")" -eq 1 ]
	grep -q "^warning msg=\"-allowed-subnets: $ALLOWED:1: host bits set in \\\\\"10\.1\.2\.3/8\\\\\": taken as 10\.0\.0\.0/8" "$MM_LOG"
	assert_still_serving
	# A reload warns about the new file's first such line.
	printf '127.0.0.0/8\n10.0.0.0/8\n192.0.2.9/24\n' >"$ALLOWED"
	kill -HUP "$MM_PID"
	wait_log "^reload allowed_subnets=.* subnets=3"
	grep -q "^warning msg=\"-allowed-subnets: $ALLOWED:3: host bits set in \\\\\"192\.0\.2\.9/24\\\\\": taken as 192\.0\.2\.0/24" "$MM_LOG"
}

@test "garbage in the file stops mmproxy at startup" {
	printf '192.0.2.0/24\nnot-a-subnet\n' >"$ALLOWED"
	run nsx "$MMPROXY" -l 127.0.0.1:8443 -allowed-subnets "$ALLOWED"
	[ "$status" -eq 1 ]
	[[ "$output" == "mmproxy: -allowed-subnets: $ALLOWED:2: expected address/prefix"* ]]
}

@test "a missing file stops mmproxy at startup" {
	run nsx "$MMPROXY" -l 127.0.0.1:8443 -allowed-subnets "$BATS_TEST_TMPDIR/nope"
	[ "$status" -eq 1 ]
	[[ "$output" == "mmproxy: -allowed-subnets: $BATS_TEST_TMPDIR/nope: No such file or directory" ]]
	! port_listening 8443
}

@test "a file with no subnet stops mmproxy at startup instead of allowing everyone" {
	printf '# nothing yet\n\n' >"$ALLOWED"
	run nsx "$MMPROXY" -l 127.0.0.1:8443 -allowed-subnets "$ALLOWED"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$ALLOWED:2: no subnet in file"* ]]
}

@test "on a dual-stack listener an IPv4 peer matches an IPv4 subnet" {
	printf '127.0.0.0/8\n' >"$ALLOWED"
	MM_LOG=$BATS_TEST_TMPDIR/mmproxy.log
	ip netns exec "$NS" "$MMPROXY" -l '[::]:8443' -4 127.0.0.1:4430 -6 '[::1]:4430' \
	    -v 2 -allowed-subnets "$ALLOWED" >"$MM_LOG" 2>&1 3>&- &
	wait_port 8443
	assert_still_serving
	# The peer is logged as IPv4, not as ::ffff:127.0.0.1.
	grep -qE '^accept id=1 peer=127\.0\.0\.1:[0-9]+ ' "$MM_LOG"
	run nsx "$PP_CLIENT" --text 'PROXY TCP6 2001:db8::9 ::1 40000 8443\r\nsix\n' --shut --read '[::1]:8443'
	[ -z "$output" ]
	wait_log '^drop id=2 peer=\[::1\]:[0-9]+ reason=not_allowed$'
}
