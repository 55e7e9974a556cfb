#!/usr/bin/env bats
# PROXY v1 (text): the backend sees the client's address and port.

load helpers

setup() {
	ns_setup
	start_backends hello
	start_mmproxy
}

teardown() {
	ns_teardown
}

@test "v1 TCP4: the backend sees the client's IPv4 address and port" {
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\n' --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "hello 198.51.100.7:40000" ]
	backend_saw 198.51.100.7:40000
	wait_log '^connect id=1 peer=127\.0\.0\.1:[0-9]+ src=198\.51\.100\.7:40000 target=127\.0\.0\.1:4430$'
}

@test "v1 TCP6: the backend sees the client's IPv6 address and port" {
	run pp --text 'PROXY TCP6 2001:db8::7 ::1 40001 8443\r\n' --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "hello [2001:db8::7]:40001" ]
	backend_saw '\[2001:db8::7\]:40001'
}

@test "v1 TCP6 with v4-mapped addresses goes to the IPv4 backend as IPv4" {
	run pp --text 'PROXY TCP6 ::ffff:198.51.100.8 ::ffff:127.0.0.1 40002 8443\r\n' --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "hello 198.51.100.8:40002" ]
	wait_log 'target=127\.0\.0\.1:4430'
}

@test "v1 from a balancer on this host's loopback may name a loopback client" {
	run pp --text 'PROXY TCP4 127.0.0.2 127.0.0.1 40003 8443\r\n' --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "hello 127.0.0.2:40003" ]
	backend_saw 127.0.0.2:40003
}

@test "v1 source port 0 is dialled from an ephemeral port" {
	run pp --text 'PROXY TCP4 198.51.100.9 127.0.0.1 0 8443\r\n' --shut --read
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^hello\ 198\.51\.100\.9:[1-9][0-9]*$ ]]
}

@test "v1 UNKNOWN connects from mmproxy's own address" {
	run pp --text 'PROXY UNKNOWN\r\n' --shut --read
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^hello\ 127\.0\.0\.1:[0-9]+$ ]]
	run pp --text 'PROXY UNKNOWN ffff:f:f:f:f:f:f:f ffff:f:f:f:f:f:f:f 65535 65535\r\n' --shut --read
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^hello\ 127\.0\.0\.1:[0-9]+$ ]]
	wait_log '^header id=2 .*addresses=none'
}

@test "v1 TCP6 source port 0 is dialled from an ephemeral port" {
	run pp --text 'PROXY TCP6 2001:db8::9 ::1 0 8443\r\n' --shut --read
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^hello\ \[2001:db8::9\]:[1-9][0-9]*$ ]]
}
