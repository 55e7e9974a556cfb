#!/usr/bin/env bats
# The pure parts, tested without sockets: parser table (every case at every
# split offset) and the allowed-subnets loader.

load helpers

@test "the PROXY parser passes its table of spec cases, split at every offset" {
	run "$MMPROXY_BUILD/tests/test_proxy_protocol"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]
}

@test "the allowed-subnets loader matches and fails closed naming FILE:LINE" {
	run "$MMPROXY_BUILD/tests/test_subnet"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]
}
