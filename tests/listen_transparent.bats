#!/usr/bin/env bats
# -listen-transparent (kzemek's go-mmproxy): a TPROXY rule sends a whole
# port range to one mmproxy.  A load balancer's namespace reaches
# mmproxy's over a veth pair (192.0.2.1 -> 192.0.2.2); nftables diverts
# TCP and UDP ports 2000-2099 of 192.0.2.2 to mmproxy on 127.0.0.1:8443.

load helpers

UDP4="$SIG 21 12 000c c6336407 7f000001 9c40 20fb"

setup() {
	command -v nft >/dev/null || skip "nftables is not installed (apt-get install nftables)"
	ns_setup
	lb_setup
	nsx nft -f - <<-'NFT'
	table ip mmtest {
		chain pre {
			type filter hook prerouting priority mangle; policy accept;
			ip daddr 192.0.2.2 tcp dport 2000-2099 tproxy to 127.0.0.1:8443 meta mark set 1
			ip daddr 192.0.2.2 udp dport 2000-2099 tproxy to 127.0.0.1:8443 meta mark set 1
		}
	}
	NFT
	# TPROXY's marked packets are delivered locally.
	nsx ip rule add fwmark 1 lookup 100
	nsx ip route add local 0.0.0.0/0 dev lo table 100
}

teardown() {
	[ -z "${LB:-}" ] || netns_remove "$LB"
	ns_teardown
}

@test "TCP: connections to any port of the range reach mmproxy, and each client reaches the backend" {
	start_backends echo
	start_mmproxy -listen-transparent
	for port in 2000 2057 2099; do
		run ip netns exec "$LB" "$PP_CLIENT" \
		    --text "PROXY TCP4 198.51.100.7 192.0.2.2 4$port $port\r\nport $port\n" \
		    --shut --read 192.0.2.2:$port
		echo "$output"
		[ "$status" -eq 0 ]
		[ "$output" = "port $port" ]
		backend_saw "198\.51\.100\.7:4$port"
	done
}

@test "UDP: datagrams to any port of the range are served, and the replies leave from the port each was sent to" {
	start_udp_backends hello
	start_udp_mmproxy -listen-transparent
	for port in 2000 2057 2099; do
		# PROXY v2 DGRAM UDP4 198.51.100.7:(40000 + port) -> 127.0.0.1:8443
		run ip netns exec "$LB" "$UDP_CLIENT" --from \
		    --hex "$SIG 21 12 000c c6336407 7f000001 $(printf %04x $((40000 + port))) 20fb" \
		    --text "p$port" 192.0.2.2:$port
		echo "$output"
		[ "$status" -eq 0 ]
		[ "$output" = "from=192.0.2.2:$port hello 198.51.100.7:$((40000 + port)) p$port" ]
	done
	wait_log '^accept id=[0-9]+ peer=192\.0\.2\.1:[0-9]+ proto=udp local=192\.0\.2\.2:2057 '
}

@test "without -listen-transparent, TPROXY finds no socket: nothing is served" {
	start_udp_backends hello
	start_udp_mmproxy
	run ip netns exec "$LB" "$UDP_CLIENT" --hex "$UDP4" --text 'p2001' --timeout-ms 1000 192.0.2.2:2001
	echo "$output"
	[ "$status" -eq 3 ]
	refute_backend_datagram
}
