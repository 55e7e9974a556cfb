#!/usr/bin/env bats
# -udp-framing: the three ways balancers frame PROXY over UDP
# (PROXY-SPEC, UDP framing).  spp: Cloudflare's Simple Proxy Protocol on
# every datagram, both ways.  v2-first: Spectrum's PROXY v2, one
# header-only datagram per balancer socket, then the client's bare.

load helpers

# SPP: magic | client (v4-mapped 198.51.100.7) | proxy (v4-mapped
# 127.0.0.1) | client port 40000 | proxy port 8443
SPP4="56ec 00000000000000000000ffffc6336407 00000000000000000000ffff7f000001 9c40 20fb"
# SPP: magic | client 2001:db8::7 | proxy ::1 | 40001 | 8443
SPP6="56ec 20010db8000000000000000000000007 00000000000000000000000000000001 9c41 20fb"
# v2 | PROXY | UDP4 | 12 | 198.51.100.8 -> 127.0.0.1 | 40002 -> 8443
V2_A="$SIG 21 12 000c c6336408 7f000001 9c42 20fb"
# v2 | PROXY | UDP4 | 12 | 198.51.100.9 -> 127.0.0.1 | 40003 -> 8443
V2_B="$SIG 21 12 000c c6336409 7f000001 9c43 20fb"

setup() {
	ns_setup
}

teardown() {
	ns_teardown
}

# escaped HEX: the bytes as udp_client prints a reply (\xNN but for
# printable ASCII).
escaped() {
	local hex=${1// /} i b out=""
	for ((i = 0; i < ${#hex}; i += 2)); do
		b=$((16#${hex:i:2}))
		if [ "$b" -ge 32 ] && [ "$b" -lt 127 ]; then
			out+=$(printf "\\x${hex:i:2}")
		else
			out+="\\x${hex:i:2}"
		fi
	done
	printf '%s' "$out"
}

@test "spp: IPv4 and IPv6 clients reach the backend from their own address; every reply carries the flow's SPP header" {
	start_udp_backends hello
	start_udp_mmproxy -udp-framing spp
	run udp --hex "$SPP4" --text 'ping' --hex "$SPP4" --text 'again'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$(escaped "$SPP4")hello 198.51.100.7:40000 ping" ]
	[ "${lines[1]}" = "$(escaped "$SPP4")hello 198.51.100.7:40000 again" ]
	run udp --hex "$SPP6" --text 'six'
	echo "$output"
	[ "$output" = "$(escaped "$SPP6")hello [2001:db8::7]:40001 six" ]
	grep -q '^dgram peer=198\.51\.100\.7:40000 ' "$BE4_LOG"
	grep -q '^dgram peer=\[2001:db8::7\]:40001 ' "$BE6_LOG"
}

@test "spp: a short datagram, another magic and a v2 header are dropped with their reason; nothing reaches the backend" {
	start_udp_backends hello
	start_udp_mmproxy -udp-framing spp
	run udp --hex "${SPP4% 20fb} 20" --timeout-ms 1000
	[ "$status" -eq 3 ]
	wait_log '^drop id=[0-9]+ peer=127\.0\.0\.1:[0-9]+ proto=udp src=- reason=spp_short$'
	run udp --hex "56ed${SPP4#56ec}" --text 'x' --timeout-ms 1000
	[ "$status" -eq 3 ]
	wait_log 'reason=spp_bad_magic$'
	# 28 header bytes and 12 of payload: as long as SPP's, not SPP.
	run udp --hex "$V2_A" --text 'twelve bytes' --timeout-ms 1000
	[ "$status" -eq 3 ]
	wait_for "a second spp_bad_magic drop" eval '[ "$(grep -c "reason=spp_bad_magic$" "$MM_LOG")" -eq 2 ]'
	refute_backend_datagram
}

@test "v2-first: a header-only start is not delivered, bare datagrams go to the session, a new header switches the client" {
	start_udp_backends hello
	start_udp_mmproxy -udp-framing v2-first
	# One balancer socket: a start, two bare, a new start with a payload,
	# one bare: four replies, none for the header-only start.
	run udp --expect 4 --hex "$V2_A" --hex '' --text 'one' --hex '' --text 'two' \
	    --hex "$V2_B" --text 'three' --hex '' --text 'four'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "hello 198.51.100.8:40002 one" ]
	[ "${lines[1]}" = "hello 198.51.100.8:40002 two" ]
	[ "${lines[2]}" = "hello 198.51.100.9:40003 three" ]
	[ "${lines[3]}" = "hello 198.51.100.9:40003 four" ]
	[ "${#lines[@]}" -eq 4 ]
	# The backend never saw an empty datagram for the start.
	[ "$(grep -c '^dgram peer=198\.51\.100\.8:40002 ' "$BE4_LOG")" -eq 2 ]
}

@test "v2-first: a bare datagram with no session is dropped; a session ends with its flow after -close-after" {
	start_udp_backends hello
	start_udp_mmproxy -udp-framing v2-first -close-after 1
	run udp --hex '' --text 'orphan' --timeout-ms 1000
	[ "$status" -eq 3 ]
	wait_log '^drop id=[0-9]+ peer=127\.0\.0\.1:[0-9]+ proto=udp src=- reason=no_session$'
	refute_backend_datagram
	# A session on a balancer socket of a fixed port, then silence.
	run nsx "$UDP_CLIENT" --bind 127.0.0.1:45000 --hex "$V2_A" --text 'hi' 127.0.0.1:8443
	[ "$output" = "hello 198.51.100.8:40002 hi" ]
	wait_log '^flow_close id=[0-9]+ peer=127\.0\.0\.1:45000 src=198\.51\.100\.8:40002 .* reason=idle$'
	run nsx "$UDP_CLIENT" --bind 127.0.0.1:45000 --hex '' --text 'late' --timeout-ms 1000 127.0.0.1:8443
	[ "$status" -eq 3 ]
	wait_for "a second no_session drop" eval '[ "$(grep -c "reason=no_session$" "$MM_LOG")" -eq 2 ]'
	! grep -q 'late' "$BE4_LOG"
}

@test "-udp-framing takes v2, v2-first or spp, and only with -p udp" {
	run "$MMPROXY" -p udp -udp-framing v3
	[ "$status" -eq 2 ]
	[[ "$output" == *'-udp-framing: invalid value "v3": want v2, v2-first or spp'* ]]
	run "$MMPROXY" -udp-framing spp
	[ "$status" -eq 2 ]
	[[ "$output" == *'-udp-framing: only with -p udp'* ]]
}
