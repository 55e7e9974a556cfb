#!/usr/bin/env bats
# Every invalid class of PROXY-SPEC.md: the connection is closed, the
# reason logged at -v 1, nothing reaches the backend, and the proxy keeps
# serving.

load helpers

setup() {
	ns_setup
	start_backends echo
	start_mmproxy -v 1
}

teardown() {
	ns_teardown
}

# rejected REASON pp_client-args...: the client is closed without an
# answer, the log names the reason, and the backend saw nothing.
rejected() {
	local reason=$1
	shift
	run pp "$@" --read --timeout-ms 20000
	[ "$status" -eq 0 ] || [ "$status" -eq 4 ]
	[ -z "$output" ]
	wait_log "^drop id=[0-9]+ peer=127\.0\.0\.1:[0-9]+ .*reason=$reason\$"
	refute_backend_connection
}

@test "a connection without PROXY header is dropped as bad_signature" {
	rejected bad_signature --text 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_still_serving
}

@test "v1 with lowercase, double spaces, extra fields or a bare LF is dropped" {
	rejected v1_bad_proto --text 'PROXY tcp4 198.51.100.7 127.0.0.1 40000 8443\r\n'
	rejected v1_bad_fields --text 'PROXY TCP4 198.51.100.7  127.0.0.1 40000 8443\r\n'
	rejected v1_bad_fields --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443 9\r\n'
	rejected v1_bad_crlf --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\n'
	assert_still_serving
}

@test "v1 with a NUL or a byte above 0x7f is dropped" {
	rejected v1_bad_char --text 'PROXY TCP4 198.51.100.7\x00 127.0.0.1 40000 8443\r\n'
	rejected v1_bad_char --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\xff\r\n'
	assert_still_serving
}

@test "v1 longer than 107 bytes is dropped without waiting for more" {
	rejected v1_too_long --text "PROXY UNKNOWN $(printf 'a%.0s' $(seq 1 100))"
	assert_still_serving
}

@test "v1 with a leading-zero address, a family mismatch or a zone id is dropped" {
	rejected v1_bad_addr --text 'PROXY TCP4 198.051.100.7 127.0.0.1 40000 8443\r\n'
	rejected v1_bad_addr --text 'PROXY TCP4 2001:db8::7 127.0.0.1 40000 8443\r\n'
	rejected v1_bad_addr --text 'PROXY TCP6 fe80::1%lo ::1 40000 8443\r\n'
	assert_still_serving
}

@test "v1 with a port above 65535 or with a leading zero is dropped" {
	rejected v1_bad_port --text 'PROXY TCP4 198.51.100.7 127.0.0.1 65536 8443\r\n'
	rejected v1_bad_port --text 'PROXY TCP4 198.51.100.7 127.0.0.1 040000 8443\r\n'
	assert_still_serving
}

@test "v2 with a bad version, command, family or transport is dropped" {
	rejected v2_bad_version --hex "$SIG 11 11 000c c6336407 7f000001 9c40 20fb"
	rejected v2_bad_command --hex "$SIG 22 11 000c c6336407 7f000001 9c40 20fb"
	rejected v2_bad_family --hex "$SIG 21 41 000c c6336407 7f000001 9c40 20fb"
	rejected v2_bad_transport --hex "$SIG 21 13 000c c6336407 7f000001 9c40 20fb"
	assert_still_serving
}

@test "v2 DGRAM on a TCP listener is dropped as wrong_transport" {
	rejected wrong_transport --hex "$SIG 21 12 000c c6336407 7f000001 9c40 20fb"
	assert_still_serving
}

@test "v2 TCP4 header with a 4-byte address block is dropped" {
	# signature | ver 2, PROXY | TCP4 | len 4 | address
	rejected short_addr --hex "$SIG 21 11 0004 7f000001"
	# TCP6 with the length of a TCP4 block
	rejected short_addr --hex "$SIG 21 21 000c c6336407 7f000001 9c40 20fb"
	assert_still_serving
}

@test "v2 with a truncated TLV is dropped" {
	rejected tlv_truncated --hex "$SIG 21 11 000e c6336407 7f000001 9c40 20fb 04 00"
	rejected tlv_truncated --hex "$SIG 21 11 0010 c6336407 7f000001 9c40 20fb 04 0002 00"
	assert_still_serving
}

@test "v2 with a wrong CRC32C, an oversized UNIQUE_ID or a short SSL TLV is dropped" {
	rejected crc32c_mismatch --hex "$SIG 21 11 0013 c6336407 7f000001 9c40 20fb 03 0004 1d2303e0"
	rejected unique_id_too_long --hex "$SIG 21 11 0090 c6336407 7f000001 9c40 20fb 05 0081 $(printf '00%.0s' $(seq 1 129))"
	rejected ssl_too_short --hex "$SIG 21 11 0013 c6336407 7f000001 9c40 20fb 20 0004 01 000000"
	assert_still_serving
}

@test "sources 0.0.0.0, 255.255.255.255, 224.0.0.1 and :: are refused before dialling" {
	rejected bad_source --text 'PROXY TCP4 0.0.0.0 127.0.0.1 40000 8443\r\n'
	rejected bad_source --text 'PROXY TCP4 255.255.255.255 127.0.0.1 40000 8443\r\n'
	rejected bad_source --hex "$SIG 21 11 000c e0000001 7f000001 9c40 20fb"
	rejected bad_source --text 'PROXY TCP6 :: ::1 40000 8443\r\n'
	assert_still_serving
}

@test "EOF before the header is complete is dropped as header_eof" {
	rejected header_eof --text 'PROXY TCP4 198.51.100.7' --shut
	assert_still_serving
}
