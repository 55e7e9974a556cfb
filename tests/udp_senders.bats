#!/usr/bin/env bats
# A real UDP sender of PROXY v2: dnsdist (useProxyProtocol) in a load
# balancer's namespace, mmproxy -p udp and a DNS backend in mmproxy's,
# joined by a veth pair on 192.0.2.0/24.  The backend must see the DNS
# client's own address and port, and the answer must reach the client.

load helpers

setup() {
	ns_setup
	lb_setup
}

teardown() {
	netns_remove "$LB"
	ns_teardown
}

@test "dnsdist with useProxyProtocol: the DNS backend sees the real client, the answer comes back" {
	command -v dnsdist >/dev/null || skip "dnsdist is not installed (apt-get install dnsdist)"
	start_udp_backends dns
	printf '192.0.2.0/24\n' >"$BATS_TEST_TMPDIR/allowed"
	start_udp_mmproxy -l 192.0.2.2:8443 -allowed-subnets "$BATS_TEST_TMPDIR/allowed"
	conf=$BATS_TEST_TMPDIR/dnsdist.conf
	cat >"$conf" <<-CONF
	setLocal("127.0.0.1:5300")
	setSecurityPollSuffix("")
	addACL("198.51.100.0/24")
	newServer({address="192.0.2.2:8443", useProxyProtocol=true}):setUp()
	CONF
	ip netns exec "$LB" dnsdist --supervised --disable-syslog -C "$conf" \
	    >"$BATS_TEST_TMPDIR/dnsdist.log" 2>&1 3>&- &
	wait_for "dnsdist on 5300" eval '[ -n "$(ip netns exec "$LB" ss -Hlun "sport = :5300")" ]'
	# A query for example.com A, id 0x1234, from the client 198.51.100.20:40053.
	run ip netns exec "$LB" "$UDP_CLIENT" --bind 198.51.100.20:40053 \
	    --hex '1234 0100 0001 0000 0000 0000 076578616d706c6503636f6d00 0001 0001' 127.0.0.1:5300
	echo "$output"
	cat "$BATS_TEST_TMPDIR/dnsdist.log"
	[ "$status" -eq 0 ]
	# The answer: same id, QR set, the question back.
	[[ "$output" == '\x124\x81\x00\x00\x01'* ]]
	[[ "$output" == *'example\x03com'* ]]
	grep -q '^dgram peer=198\.51\.100\.20:40053 len=29 ' "$BE4_LOG"
	wait_log '^flow_open id=[0-9]+ peer=192\.0\.2\.1:[0-9]+ src=198\.51\.100\.20:40053 target=127\.0\.0\.1:4430 flows=1$'
}

@test "a remote UDP balancer cannot pose a client as loopback: a 127.0.0.1 source is dropped" {
	start_udp_backends hello
	start_udp_mmproxy -l 192.0.2.2:8443
	# PROXY v2 DGRAM UDP4 127.0.0.1:40000 -> 192.0.2.2:8443, then "hi".
	run ip netns exec "$LB" "$UDP_CLIENT" --hex "$SIG 21 12 000c 7f000001 c0000202 9c40 20fb" \
	    --text 'hi' --timeout-ms 1000 192.0.2.2:8443
	echo "$output"
	[ "$status" -eq 3 ]
	wait_log '^drop id=[0-9]+ peer=192\.0\.2\.1:[0-9]+ proto=udp src=127\.0\.0\.1:40000 reason=loopback_source$'
	refute_backend_datagram
}
