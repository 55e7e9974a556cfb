#!/usr/bin/env bats
# Bytes after the header are payload: relayed first, verbatim, whether
# they arrive in the header's segment or later; a header may arrive in
# pieces.

load helpers

setup() {
	ns_setup
	start_backends echo
	start_mmproxy
}

teardown() {
	ns_teardown
}

@test "data in the same segment as a v1 header reaches the backend first and intact" {
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\nfirst\r\nsecond\n' --shut --read
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = $'first\r' ]
	[ "${lines[1]}" = "second" ]
	wait_log 'close id=1 .* up=14 down=14 end=eof'
}

@test "data in the same segment as a v2 header is payload, not TLVs" {
	# TCP4 len 12, then bytes that would parse as a NOOP TLV (04, len 0x2020)
	run pp --hex "$SIG 21 11 000c c6336407 7f000001 9c40 20fb 04 2020 41 0a" --shut --read
	[ "$status" -eq 0 ]
	[ "$(printf '%s' "$output" | od -An -tx1 | tr -d ' ')" = "04202041" ]
}

@test "a v1 header sent one byte at a time is assembled" {
	run pp --bytewise --pause-ms 5 --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40010 8443\r\n' --text 'data\n' --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "data" ]
	backend_saw 198.51.100.7:40010
}

@test "a v2 header split inside the signature, the length and the addresses is assembled" {
	run pp --hex "0d0a0d0a00" --hex "0d0a515549540a 21" --hex "11 00" --hex "0c c6336407 7f" \
	    --hex "000001 9c4a 20fb 68690a" --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "hi" ]
	backend_saw 198.51.100.7:40010
}

@test "payload sent after the header in a later write follows it" {
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40011 8443\r\n' --text 'later\n' --pause-ms 200 --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "later" ]
}
