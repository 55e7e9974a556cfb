#!/usr/bin/env bats
# Real load balancers as PROXY senders, with the example configs.  Two
# hosts: the load balancer's namespace (a client on 198.51.100.20 and
# HAProxy or NGINX) and mmproxy's (mmproxy and the backend), joined by a
# veth pair on 192.0.2.0/24.  The backend must see 198.51.100.20.

load helpers

ROOT=$BATS_TEST_DIRNAME/..

setup() {
	ns_setup
	lb_setup
	start_backends hello
	printf '192.0.2.0/24\n' >"$BATS_TEST_TMPDIR/allowed"
	MM_LOG=$BATS_TEST_TMPDIR/mmproxy.log
	ip netns exec "$NS" "$MMPROXY" -l 192.0.2.2:8443 -4 127.0.0.1:4430 \
	    -6 '[::1]:4430' -v 2 -allowed-subnets "$BATS_TEST_TMPDIR/allowed" \
	    >"$MM_LOG" 2>&1 3>&- &
	wait_log '^start '
	wait_port 8443
}

teardown() {
	netns_remove "$LB"
	ns_teardown
}

need() {
	command -v "$1" >/dev/null || skip "$1 is not installed (apt-get install $2)"
}

lb_listening() {
	[ -n "$(ip netns exec "$LB" ss -Htln 'sport = :8000')" ]
}

# A plain client (no PROXY: the balancer adds it) on the client address.
client_through_lb() {
	run ip netns exec "$LB" "$PP_CLIENT" --bind 198.51.100.20 --text 'through the balancer\n' \
	    --shut --read 127.0.0.1:8000
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^hello\ 198\.51\.100\.20:([0-9]+)$ ]]
	[ "${lines[1]}" = "through the balancer" ]
	backend_saw "198\.51\.100\.20:${BASH_REMATCH[1]}"
}

@test "a remote balancer cannot pose a client as loopback: 127.0.0.1, ::1 and ::ffff:127.0.0.2 are refused" {
	local hdr
	for hdr in 'PROXY TCP4 127.0.0.1 192.0.2.2 40000 8443\r\n' \
	    'PROXY TCP6 ::1 ::1 40001 8443\r\n' \
	    'PROXY TCP6 ::ffff:127.0.0.2 ::ffff:192.0.2.2 40002 8443\r\n'; do
		run ip netns exec "$LB" "$PP_CLIENT" --text "${hdr}hi\n" --shut --read 192.0.2.2:8443
		echo "$output"
		[ -z "$output" ]
	done
	wait_for "three loopback_source drops" eval '[ "$(grep -c "^drop id=[0-9]* peer=192\.0\.2\.1:[0-9]* src=.* reason=loopback_source$" "$MM_LOG")" -eq 3 ]'
	grep -q 'src=127\.0\.0\.1:40000 .*reason=loopback_source$' "$MM_LOG"
	grep -q 'src=\[::1\]:40001 .*reason=loopback_source$' "$MM_LOG"
	grep -q 'src=127\.0\.0\.2:40002 .*reason=loopback_source$' "$MM_LOG"
	refute_backend_connection
}

@test "HAProxy with examples/haproxy.cfg (send-proxy-v2): the backend sees the real client" {
	need haproxy haproxy
	cfg=$BATS_TEST_TMPDIR/haproxy.cfg
	sed -e 's/bind :25565/bind 127.0.0.1:8000/' \
	    -e 's/10\.0\.0\.5:25565/192.0.2.2:8443/' "$ROOT/examples/haproxy.cfg" >"$cfg"
	ip netns exec "$LB" haproxy -db -f "$cfg" >"$BATS_TEST_TMPDIR/haproxy.log" 2>&1 3>&- &
	wait_for "HAProxy to listen" lb_listening
	client_through_lb
	client_through_lb
	wait_log '^header id=[0-9]+ peer=192\.0\.2\.1:[0-9]+ version=2 src=198\.51\.100\.20:'
}

@test "HAProxy's health checks (v2 LOCAL) are answered from mmproxy's own address" {
	need haproxy haproxy
	cfg=$BATS_TEST_TMPDIR/haproxy.cfg
	sed -e 's/bind :25565/bind 127.0.0.1:8000/' \
	    -e 's/10\.0\.0\.5:25565/192.0.2.2:8443/' \
	    -e 's/ check$/ check inter 200ms/' "$ROOT/examples/haproxy.cfg" >"$cfg"
	ip netns exec "$LB" haproxy -db -f "$cfg" >"$BATS_TEST_TMPDIR/haproxy.log" 2>&1 3>&- &
	wait_log '^header id=[0-9]+ peer=192\.0\.2\.1:[0-9]+ version=2 addresses=none$'
	wait_log '^connect id=[0-9]+ peer=192\.0\.2\.1:[0-9]+ src=- target=127\.0\.0\.1:4430$'
}

@test "NGINX with examples/nginx.conf (proxy_protocol on): the backend sees the real client" {
	need nginx "nginx libnginx-mod-stream"
	module=/usr/lib/nginx/modules/ngx_stream_module.so
	[ -f "$module" ] || skip "the NGINX stream module is not installed (apt-get install libnginx-mod-stream)"
	sed -e 's/listen 25565;/listen 127.0.0.1:8000;/' \
	    -e 's/10\.0\.0\.5:25565/192.0.2.2:8443/' "$ROOT/examples/nginx.conf" \
	    >"$BATS_TEST_TMPDIR/stream.conf"
	cat >"$BATS_TEST_TMPDIR/nginx.conf" <<-CONF
	load_module $module;
	daemon off;
	master_process off;
	pid $BATS_TEST_TMPDIR/nginx.pid;
	error_log stderr;
	events {}
	include $BATS_TEST_TMPDIR/stream.conf;
	CONF
	ip netns exec "$LB" nginx -e stderr -p "$BATS_TEST_TMPDIR" -c "$BATS_TEST_TMPDIR/nginx.conf" \
	    >"$BATS_TEST_TMPDIR/nginx.log" 2>&1 3>&- &
	wait_for "NGINX to listen" lb_listening
	client_through_lb
	client_through_lb
	wait_log '^header id=[0-9]+ peer=192\.0\.2\.1:[0-9]+ version=1 src=198\.51\.100\.20:'
}
