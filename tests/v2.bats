#!/usr/bin/env bats
# PROXY v2 (binary): addresses, TLVs, LOCAL, large headers.

load helpers

setup() {
	ns_setup
	start_backends hello
	start_mmproxy
}

teardown() {
	ns_teardown
}

@test "v2 TCP4: the backend sees the client's IPv4 address and port" {
	# signature | ver 2, PROXY | TCP4 | len 12 | 198.51.100.7 127.0.0.1 40000 8443
	run pp --hex "$SIG 21 11 000c c6336407 7f000001 9c40 20fb" --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "hello 198.51.100.7:40000" ]
	backend_saw 198.51.100.7:40000
}

@test "v2 TCP6: the backend sees the client's IPv6 address and port" {
	# signature | PROXY | TCP6 | len 36 | 2001:db8::7 ::1 40001 8443
	run pp --hex "$SIG 21 21 0024 20010db8000000000000000000000007 00000000000000000000000000000001 9c41 20fb" --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "hello [2001:db8::7]:40001" ]
}

@test "v2 TCP6 with a v4-mapped source goes to the IPv4 backend" {
	run pp --hex "$SIG 21 21 0024 00000000000000000000ffffc6336408 00000000000000000000ffff7f000001 9c42 20fb" --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "hello 198.51.100.8:40002" ]
}

@test "v2 with TLVs (ALPN, AUTHORITY, NOOP, UNIQUE_ID, SSL) is accepted and TLVs are not payload" {
	# TCP4 | len 12+5+14+3+7+8 = 49 | addresses | ALPN h2 | AUTHORITY example.com | NOOP | UNIQUE_ID 4 | SSL 5
	run pp --hex "$SIG 21 11 0031 c6336407 7f000001 9c40 20fb
	    01 0002 6832  02 000b 6578616d706c652e636f6d  04 0000  05 0004 01020304  20 0005 01 00000000" \
	    --text 'after tlvs\n' --shut --read
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "hello 198.51.100.7:40000" ]
	[ "${lines[1]}" = "after tlvs" ]
	[ "${#lines[@]}" -eq 2 ]
}

@test "v2 with a correct CRC32C is accepted" {
	# TCP4 | len 19 | addresses | CRC32C 0x03 len 4, value computed over this header
	run pp --hex "$SIG 21 11 0013 c6336407 7f000001 9c40 20fb 03 0004 1d2303e1" --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "hello 198.51.100.7:40000" ]
}

@test "v2 LOCAL connects from mmproxy's own address" {
	# signature | ver 2, LOCAL | UNSPEC | len 0
	run pp --hex "$SIG 20 00 0000" --shut --read
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^hello\ 127\.0\.0\.1:[0-9]+$ ]]
}

@test "v2 LOCAL with an address block and a TLV uses the real endpoints" {
	run pp --hex "$SIG 20 11 0010 c6336407 7f000001 9c40 20fb 04 0001 00" --shut --read
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^hello\ 127\.0\.0\.1:[0-9]+$ ]]
}

@test "v2 PROXY with the UNSPEC family uses the real endpoints" {
	run pp --hex "$SIG 21 01 0000" --shut --read
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^hello\ 127\.0\.0\.1:[0-9]+$ ]]
}

@test "v2 header of the largest legal size (16+65535) is accepted" {
	# TCP4 | len 0xffff | addresses | NOOP of 65520 bytes, then payload
	run pp --hex "$SIG 21 11 ffff c6336407 7f000001 9c40 20fb 04 fff0" --zeros 65520 --text 'tail\n' --shut --read
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "hello 198.51.100.7:40000" ]
	[ "${lines[1]}" = "tail" ]
}
