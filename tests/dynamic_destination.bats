#!/usr/bin/env bats
# -dynamic-destination (kzemek's go-mmproxy), guarded: the PROXY header's
# destination is dialled only if it is this host's own address or inside
# -allowed-destinations; the supervisor checks it where it dials.  A load
# balancer's namespace (192.0.2.1, with a backend of its own: a host that
# is not ours) reaches mmproxy's (192.0.2.2) over a veth pair.

load helpers

TRIGGER=$MMPROXY_BUILD/tests/mmproxy-trigger

setup() {
	ns_setup
	lb_setup
	# The remote backend's replies to a client address come back to
	# mmproxy's transparent socket, as on a host with a remote backend.
	ip -n "$LB" route add default via 192.0.2.2
	nsx ip rule add from 192.0.2.1 iif mm0 lookup 123
	start_backends echo
	BE_EXTRA=$BATS_TEST_TMPDIR/backend-4431.log
	nsx "$BACKEND" --listen 127.0.0.1:4431 --mode echo >"$BE_EXTRA" 2>&1 3>&- &
	BE_REMOTE=$BATS_TEST_TMPDIR/backend-remote.log
	ip netns exec "$LB" "$BACKEND" --listen 192.0.2.1:4430 --mode echo >"$BE_REMOTE" 2>&1 3>&- &
	wait_for "backends on 4431 and 192.0.2.1:4430" eval \
	    '[ -n "$(nsx ss -Htln "sport = :4431")" ] && [ -n "$(ip netns exec "$LB" ss -Htln "sport = :4430")" ]'
	ALLOWED_DEST=$BATS_TEST_TMPDIR/destinations
}

teardown() {
	[ -z "${LB:-}" ] || netns_remove "$LB"
	ns_teardown
}

# tcp_to DST PORT SRCPORT: a client 203.0.113.9:SRCPORT through mmproxy to
# DST:PORT; prints what came back.
tcp_to() {
	pp --text "PROXY TCP4 203.0.113.9 $1 $3 $2\r\nto $1:$2\n" --shut --read --timeout-ms 10000
}

@test "TCP: this host's destination is dialled instead of -4, LOCAL still goes to -4, another host's is refused" {
	start_mmproxy -dynamic-destination
	run tcp_to 127.0.0.1 4431 40001
	[ "$output" = "to 127.0.0.1:4431" ]
	grep -q '^accept peer=203\.0\.113\.9:40001$' "$BE_EXTRA"
	wait_log '^connect id=1 .* target=127\.0\.0\.1:4431'
	# LOCAL: -4, from our own address.
	run pp --hex "$SIG 20 00 0000" --text 'local\n' --shut --read
	[ "$output" = "local" ]
	grep -q '^accept peer=127\.0\.0\.1:' "$BE4_LOG"
	# 192.0.2.1 is the balancer's host, not ours: nothing is dialled.
	run tcp_to 192.0.2.1 4430 40003
	[ -z "$output" ]
	wait_log '^drop id=3 .* src=203\.0\.113\.9:40003 .*reason=destination_not_allowed$'
	! grep -q '^accept' "$BE_REMOTE"
}

@test "-allowed-destinations widens it to a host and a port range, and SIGHUP reloads it" {
	printf '# the game servers\n192.0.2.0/24:4430-4431\n' >"$ALLOWED_DEST"
	start_mmproxy -dynamic-destination -allowed-destinations "$ALLOWED_DEST"
	run tcp_to 192.0.2.1 4430 40011
	[ "$output" = "to 192.0.2.1:4430" ]
	grep -q '^accept peer=203\.0\.113\.9:40011$' "$BE_REMOTE"
	run tcp_to 192.0.2.1 4432 40012
	[ -z "$output" ]
	wait_log 'src=203\.0\.113\.9:40012 .*reason=destination_not_allowed$'
	printf '198.18.0.0/15\n' >"$ALLOWED_DEST"
	kill -HUP "$MM_PID"
	wait_log "^reload allowed_destinations=$ALLOWED_DEST subnets=1\$"
	run tcp_to 192.0.2.1 4430 40013
	[ -z "$output" ]
	wait_log 'src=203\.0\.113\.9:40013 .*reason=destination_not_allowed$'
	! grep -q '40013' "$BE_REMOTE"
	# This host's own addresses stay allowed.
	run tcp_to 127.0.0.1 4431 40014
	[ "$output" = "to 127.0.0.1:4431" ]
}

@test "UDP: this host's destination is dialled, another host's is refused" {
	start_udp_backends hello
	start_udp_mmproxy -dynamic-destination -4 127.0.0.1:9
	# v2 | PROXY | UDP4 | 12 | 203.0.113.9 -> 127.0.0.1 | 40021 -> 4430
	run udp --hex "$SIG 21 12 000c cb007109 7f000001 9c55 114e" --text 'hi'
	[ "$output" = "hello 203.0.113.9:40021 hi" ]
	# ... -> 192.0.2.1:4430
	run udp --hex "$SIG 21 12 000c cb007109 c0000201 9c56 114e" --text 'no' --timeout-ms 1000
	[ "$status" -eq 3 ]
	wait_log 'src=203\.0\.113\.9:40022 reason=destination_not_allowed$'
}

@test "-allowed-destinations needs -dynamic-destination; a bad line stops mmproxy naming FILE:LINE" {
	run "$MMPROXY" -allowed-destinations /dev/null
	[ "$status" -eq 2 ]
	[[ "$output" == *'-allowed-destinations: only with -dynamic-destination'* ]]
	printf '192.0.2.0/24:80\n192.0.2.0/24:90-80\n' >"$ALLOWED_DEST"
	run nsx "$MMPROXY" -l 127.0.0.1:8443 -dynamic-destination=true -allowed-destinations "$ALLOWED_DEST"
	[ "$status" -eq 1 ]
	[[ "$output" == "mmproxy: -allowed-destinations: $ALLOWED_DEST:2: port range ends before it starts"* ]]
}

@test "a hijacked worker cannot widen it: a destination of its own is refused, and asking at all without -dynamic-destination kills it" {
	MMPROXY=$TRIGGER start_mmproxy -dynamic-destination
	run pp --text 'PROXY TCP4 203.0.113.9 127.0.0.1 40031 8443\r\nmmproxy-test: dial destination\n' --shut --read
	[ "$output" = "dial: refused" ]
	! grep -q '^accept' "$BE_REMOTE"
	stop_mmproxy
	MMPROXY=$TRIGGER start_mmproxy
	run pp --text 'PROXY TCP4 203.0.113.9 127.0.0.1 40032 8443\r\nmmproxy-test: dial destination\n' --shut --read
	wait_log '^worker_misbehaved worker=[0-9]+ id=1 reason=dial_request_malformed$'
	! grep -q '^accept' "$BE_REMOTE"
	assert_still_serving
}
