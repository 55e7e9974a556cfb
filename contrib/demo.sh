#!/usr/bin/env bash
# sudo make demo: a load balancer, mmproxy and an unmodified backend in a
# throw-away network namespace.  Two TCP clients, one announced with PROXY
# v1 and one with PROXY v2, one UDP exchange with PROXY v2 DGRAM and one
# with Cloudflare's SPP; the backend prints the address it sees.
set -euo pipefail

BUILD=${1:?usage: demo.sh BUILD_DIR}
if [ "$(id -u)" -ne 0 ]; then
	echo "mmproxy demo: needs root to create a network namespace: run sudo make demo" >&2
	exit 1
fi
if ! command -v ip >/dev/null 2>&1; then
	echo "mmproxy demo: needs the ip command: apt-get install iproute2" >&2
	exit 1
fi

NS=mmproxy-demo-$$
TMP=$(mktemp -d)
SIG='0d0a0d0a000d0a515549540a'

. "$(dirname "$0")/netns.sh"

cleanup() {
	netns_remove "$NS"
	rm -rf "$TMP"
}
trap cleanup EXIT

in_ns() {
	ip netns exec "$NS" "$@"
}

wait_port() {
	netns_wait_listening "$NS" "$1" "${2:-tcp}" && return 0
	echo "mmproxy demo: nothing listens on port $1; log:" >&2
	cat "$TMP"/*.log >&2
	exit 1
}

step() {
	if [ -t 1 ]; then
		printf '\n\033[1m%s\033[0m\n' "$*"
	else
		printf '\n%s\n' "$*"
	fi
}

netns_create "$NS"	# with the routes every mmproxy host needs

in_ns "$BUILD/tests/backend" --listen 127.0.0.1:4430 --mode hello >"$TMP/backend4.log" 2>&1 &
in_ns "$BUILD/tests/backend" --listen '[::1]:4430' --mode hello >"$TMP/backend6.log" 2>&1 &
wait_port 4430
in_ns "$BUILD/mmproxy" -l 127.0.0.1:8443 -4 127.0.0.1:4430 -6 '[::1]:4430' -v 2 \
    >"$TMP/mmproxy.log" 2>&1 &
wait_port 8443
in_ns "$BUILD/tests/backend" --udp --listen 127.0.0.1:4431 --mode hello >"$TMP/backend-udp.log" 2>&1 &
in_ns "$BUILD/mmproxy" -p udp -l 127.0.0.1:8444 -4 127.0.0.1:4431 -v 2 \
    >"$TMP/mmproxy-udp.log" 2>&1 &
in_ns "$BUILD/mmproxy" -p udp -udp-framing spp -l 127.0.0.1:8445 -4 127.0.0.1:4431 -v 2 \
    >"$TMP/mmproxy-spp.log" 2>&1 &
wait_port 4431 udp
wait_port 8444 udp
wait_port 8445 udp

step "In namespace $NS: backend on 127.0.0.1:4430 and [::1]:4430, mmproxy on 127.0.0.1:8443"
echo "  mmproxy -l 127.0.0.1:8443 -4 127.0.0.1:4430 -6 [::1]:4430 -v 2"
echo "  and a UDP backend on 127.0.0.1:4431 behind"
echo "  mmproxy -p udp -l 127.0.0.1:8444 -4 127.0.0.1:4431 -v 2"
echo "  mmproxy -p udp -udp-framing spp -l 127.0.0.1:8445 -4 127.0.0.1:4431 -v 2"

step "1. The load balancer (at 127.0.0.1) forwards client 198.51.100.7:40000 with PROXY v1"
echo '  sends: PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\n'
printf '  backend answered: '
in_ns "$BUILD/tests/pp_client" --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\n' \
    --shut --read --timeout-ms 10000 127.0.0.1:8443

step "2. The load balancer forwards client [2001:db8::7]:40001 with PROXY v2 (binary)"
echo "  sends: signature, PROXY, TCP6, 36 address bytes"
printf '  backend answered: '
in_ns "$BUILD/tests/pp_client" --hex "$SIG 21 21 0024 20010db8000000000000000000000007 00000000000000000000000000000001 9c41 20fb" \
    --shut --read --timeout-ms 10000 127.0.0.1:8443

step "3. A connection without a PROXY header is refused; nothing reaches the backend"
echo "  sends: GET / HTTP/1.1"
in_ns "$BUILD/tests/pp_client" --text 'GET / HTTP/1.1\r\n\r\n' --read --timeout-ms 10000 127.0.0.1:8443 || true
echo "  connection closed by mmproxy"

step "4. UDP (mmproxy -p udp): a datagram from client 198.51.100.9:27015 with PROXY v2 DGRAM"
echo '  sends: signature, PROXY, UDP4, 12 address bytes, then "ping"'
printf '  backend answered: '
in_ns "$BUILD/tests/udp_client" --timeout-ms 10000 \
    --hex "$SIG 21 12 000c c6336409 7f000001 6987 20fc" --text ping 127.0.0.1:8444

step "5. UDP with Cloudflare's SPP (-udp-framing spp): client 198.51.100.10:27016"
echo '  sends: magic 56ec, client ::ffff:198.51.100.10, proxy ::ffff:127.0.0.1, ports 27016 8445, then "pong"'
printf '  the reply came back behind the same 38-byte header: '
reply=$(in_ns "$BUILD/tests/udp_client" --timeout-ms 10000 \
    --hex "56ec 00000000000000000000ffffc633640a 00000000000000000000ffff7f000001 6988 20fd" \
    --text pong 127.0.0.1:8445)
# udp_client prints the header's bytes as \xNN but for printable ASCII.
hdr='V\xec\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xc63d\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x7f\x00\x00\x01i\x88 \xfd'
if [ "${reply#"$hdr"}" != "$reply" ]; then
	echo "yes"
	echo "  backend answered: ${reply#"$hdr"}"
else
	echo "no: $reply"
fi

# The backend logs its close after the client has its answer: wait for it.
for i in $(seq 1 50); do
	[ "$(cat "$TMP"/backend*.log | grep -c '^close')" -ge 2 ] && break
	sleep 0.1
done
step "What the backend saw (it knows nothing of PROXY):"
cat "$TMP/backend4.log" "$TMP/backend6.log" "$TMP/backend-udp.log" | sed 's/^/  /'
step "mmproxy's log (-v 2):"
grep -v '^spawn' "$TMP/mmproxy.log" | sed 's/^/  /'
step "mmproxy -p udp's log (-v 2):"
grep -v '^spawn' "$TMP/mmproxy-udp.log" | sed 's/^/  /'
step "mmproxy -p udp -udp-framing spp's log (-v 2):"
grep -v '^spawn' "$TMP/mmproxy-spp.log" | sed 's/^/  /'
echo
