#!/usr/bin/env bats
# -mark, -listeners and keepalive: visible on the real sockets.

load helpers

setup() {
	ns_setup
	start_backends echo
}

teardown() {
	ns_teardown
}

upstream_socket() {
	nsx ss -Htne state established dst 127.0.0.1:4430
}

upstream_is_open() {
	[ -n "$(upstream_socket)" ]
}

@test "-mark 42 sets fwmark 0x2a on the upstream socket" {
	start_mmproxy -mark 42
	nsx "$PP_CLIENT" --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\n' --hold-ms 60000 127.0.0.1:8443 3>&- &
	wait_for "the upstream connection" upstream_is_open
	run upstream_socket
	echo "$output"
	[[ "$output" == *"fwmark:0x2a"* ]]
	[[ "$output" == *"198.51.100.7:40000"* ]]
}

# The seconds to the next keepalive probe of each socket ss selects ($@),
# one line each; nothing for a socket without keepalive.
keepalive_seconds() {
	nsx ss -Htno state established "$@" | sed -n 's/.*timer:(keepalive,\([0-9]*\)sec,.*/\1/p'
}

@test "keepalive is on for the client's and the upstream socket, every 15 s as go-mmproxy's" {
	start_mmproxy
	nsx "$PP_CLIENT" --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\n' --hold-ms 60000 127.0.0.1:8443 3>&- &
	wait_for "the upstream connection" upstream_is_open
	nsx ss -Htnoe state established
	# The accepted socket (mmproxy's end of the client connection) and the
	# upstream one; the kernel's default would be two hours, not seconds.
	for sel in 'sport = :8443' 'dst 127.0.0.1:4430'; do
		s=$(keepalive_seconds "$sel")
		echo "$sel: next probe in ${s:-none} s"
		[ -n "$s" ]
		[ "$s" -le 15 ]
	done
}

@test "without -mark the upstream socket carries no fwmark" {
	start_mmproxy
	nsx "$PP_CLIENT" --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\n' --hold-ms 60000 127.0.0.1:8443 3>&- &
	wait_for "the upstream connection" upstream_is_open
	run upstream_socket
	[[ "$output" != *"fwmark"* ]]
}

@test "-listeners 4 opens four listening sockets on the address" {
	start_mmproxy -listeners 4
	[ "$(nsx ss -Htln 'sport = :8443' | wc -l)" -eq 4 ]
	assert_still_serving
}

@test "by default there is one listening socket" {
	start_mmproxy
	[ "$(nsx ss -Htln 'sport = :8443' | wc -l)" -eq 1 ]
}

@test "a listen address already in use stops mmproxy with one line" {
	run nsx "$MMPROXY" -l 127.0.0.1:4430
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == "mmproxy: -l 127.0.0.1:4430: address already in use: another process listens there (mmproxy shares a port only among its own -listeners)" ]]
}
