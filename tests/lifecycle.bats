#!/usr/bin/env bats
# Lifecycle: SIGTERM drains (listeners closed, live connections and UDP
# flows finish, -drain-timeout), SIGHUP reloads -allowed-subnets,
# readiness for systemd (NOTIFY_SOCKET) and s6 (-notify-fd), and the
# startup check for CAP_NET_ADMIN.

load helpers

UDP4="$SIG 21 12 000c c6336407 7f000001 9c40 20fb"
SINK=$MMPROXY_BUILD/tests/syslog_sink

setup() {
	ns_setup
}

# FILE holds exactly one newline.
is_newline() {
	[ "$(wc -c <"$1")" -eq 1 ] && [ -z "$(tr -d '\n' <"$1")" ]
}

teardown() {
	[ -z "${BARE:-}" ] || netns_remove "$BARE"
	ns_teardown
}

@test "SIGTERM: a live TCP connection finishes, new ones are refused, exit 0 after it ends" {
	start_backends echo
	start_mmproxy
	nsx "$PP_CLIENT" --text 'PROXY TCP4 198.51.100.1 127.0.0.1 40001 8443\r\nbefore\n' \
	    --pause-ms 3000 --text 'after\n' --shut --read 127.0.0.1:8443 >"$BATS_TEST_TMPDIR/a.out" 3>&- &
	wait_log '^connect id=1 '
	kill -TERM "$MM_PID"
	wait_log '^drain busy=1 drain_timeout=30$'
	# The listener is closed at once: a new client is refused.
	wait_for "the listener to close" eval '! port_listening 8443'
	run pp --text 'PROXY TCP4 198.51.100.2 127.0.0.1 40002 8443\r\nnew\n' --shut --read
	[ "$status" -ne 0 ]
	rc=0
	wait "$MM_PID" || rc=$?
	[ "$rc" -eq 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR/a.out")" = "$(printf 'before\nafter')" ]
	grep -q '^close id=1 .* end=eof$' "$MM_LOG"
	grep -q '^drain_end closed=0 reason=done$' "$MM_LOG"
}

@test "SIGTERM to the supervisor and every worker (systemd's control group) still drains" {
	start_backends echo
	start_mmproxy
	nsx "$PP_CLIENT" --text 'PROXY TCP4 198.51.100.1 127.0.0.1 40001 8443\r\nbefore\n' \
	    --pause-ms 3000 --text 'after\n' --shut --read 127.0.0.1:8443 >"$BATS_TEST_TMPDIR/a.out" 3>&- &
	wait_log '^connect id=1 '
	kill -TERM "$MM_PID" $(worker_pids)
	rc=0
	wait "$MM_PID" || rc=$?
	[ "$rc" -eq 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR/a.out")" = "$(printf 'before\nafter')" ]
}

@test "SIGTERM: a live UDP flow goes on until it expires, a new balancer socket gets no worker" {
	start_udp_backends hello
	start_udp_mmproxy -close-after 3
	run udp --bind 127.0.0.1:50001 --hex "$UDP4" --text 'one'
	[ "$output" = "hello 198.51.100.7:40000 one" ]
	kill -TERM "$MM_PID"
	wait_log '^drain busy=1 '
	run udp --bind 127.0.0.1:50001 --hex "$UDP4" --text 'two'
	[ "$output" = "hello 198.51.100.7:40000 two" ]
	run udp --bind 127.0.0.1:50002 --hex "$UDP4" --text 'new' --timeout-ms 1000
	[ "$status" -eq 3 ]
	rc=0
	wait "$MM_PID" || rc=$?
	[ "$rc" -eq 0 ]
	grep -q '^flow_close id=1 .* up=2 down=2 reason=idle$' "$MM_LOG"
	! grep -q '^accept id=2 ' "$MM_LOG"
	grep -q '^drain_end closed=0 reason=done$' "$MM_LOG"
}

@test "SIGTERM: a UDP flow idle for more than a second ends at once, not at -drain-timeout" {
	start_udp_backends hello
	start_udp_mmproxy -drain-timeout 60
	run udp --bind 127.0.0.1:50003 --hex "$UDP4" --text 'one'
	[ "$output" = "hello 198.51.100.7:40000 one" ]
	wait_log '^sync id=1 '
	# The flow's idleness is the condition: let it pass a second.
	sleep 1.5
	kill -TERM "$MM_PID"
	# Gone well before the 60 s drain and the 60 s -close-after.
	WAIT_SECONDS=5 wait_for "mmproxy to exit" processes_gone "$MM_PID"
	rc=0
	wait "$MM_PID" || rc=$?
	[ "$rc" -eq 0 ]
	grep -q '^flow_close id=1 .* up=1 down=1 reason=drain$' "$MM_LOG"
	grep -q '^drain_end closed=0 reason=done$' "$MM_LOG"
}

@test "-drain-timeout: connections still open then are closed, logged, and mmproxy exits 0" {
	start_backends echo
	start_mmproxy -drain-timeout 1
	nsx "$PP_CLIENT" --text 'PROXY TCP4 198.51.100.1 127.0.0.1 40001 8443\r\n' \
	    --hold-ms 60000 --read 127.0.0.1:8443 >"$BATS_TEST_TMPDIR/a.out" 3>&- &
	CLIENT=$!
	wait_log '^connect id=1 '
	kill -TERM "$MM_PID"
	rc=0
	wait "$MM_PID" || rc=$?
	[ "$rc" -eq 0 ]
	grep -q '^drain busy=1 drain_timeout=1$' "$MM_LOG"
	grep -q '^drain_end closed=1 reason=drain_timeout$' "$MM_LOG"
	# The backend's side of it is closed too.
	wait_log '^close peer=198\.51\.100\.1:40001 ' "$BE4_LOG"
}

@test "SIGHUP re-reads -allowed-subnets: adding and removing a subnet, and a broken file keeps the old list" {
	start_backends echo
	list=$BATS_TEST_TMPDIR/allowed
	printf '10.0.0.0/8\n' >"$list"
	start_mmproxy -allowed-subnets "$list"
	client() {
		run pp --text "PROXY TCP4 198.51.100.1 127.0.0.1 $1 8443\r\nhi\n" --shut --read
	}
	client 40001
	[ -z "$output" ]
	wait_log '^drop id=1 peer=127\.0\.0\.1:[0-9]+ reason=not_allowed$'
	printf '10.0.0.0/8\n127.0.0.0/8\n' >"$list"
	kill -HUP "$MM_PID"
	wait_log "^reload allowed_subnets=$list subnets=2\$"
	client 40002
	[ "$output" = "hi" ]
	printf '127.0.0.0/8\nnot a subnet\n' >"$list"
	kill -HUP "$MM_PID"
	wait_log "^reload allowed_subnets=$list kept=2 error=\".*:2: "
	client 40003
	[ "$output" = "hi" ]
	printf '10.0.0.0/8\n' >"$list"
	kill -HUP "$MM_PID"
	wait_log "^reload allowed_subnets=$list subnets=1\$"
	client 40004
	[ -z "$output" ]
	wait_log '^drop id=4 peer=127\.0\.0\.1:[0-9]+ reason=not_allowed$'
	kill -0 "$MM_PID"
}

@test "NOTIFY_SOCKET: READY=1 once serving, RELOADING=1 and READY=1 on SIGHUP, STOPPING=1 on SIGTERM" {
	start_backends echo
	sock=$BATS_TEST_TMPDIR/notify
	"$SINK" "$sock" >"$BATS_TEST_TMPDIR/notify.log" 2>&1 3>&- &
	SINK_PID=$!
	wait_for "the notify socket" test -S "$sock"
	NOTIFY_SOCKET=$sock start_mmproxy
	wait_log '^READY=1$' "$BATS_TEST_TMPDIR/notify.log"
	assert_still_serving
	kill -HUP "$MM_PID"
	wait_log '^MONOTONIC_USEC=[0-9]+$' "$BATS_TEST_TMPDIR/notify.log"
	wait_for "READY=1 again" eval '[ "$(grep -c "^READY=1$" "$BATS_TEST_TMPDIR/notify.log")" -eq 2 ]'
	grep -q '^RELOADING=1$' "$BATS_TEST_TMPDIR/notify.log"
	kill -TERM "$MM_PID"
	wait "$MM_PID"
	wait_log '^STOPPING=1$' "$BATS_TEST_TMPDIR/notify.log"
	kill "$SINK_PID"
	# Workers never see the variable.
	! grep -q NOTIFY_SOCKET "$MM_LOG"
}

@test "-notify-fd: a newline once serving, then the fd is closed (s6 notification-fd)" {
	start_backends echo
	start_mmproxy -notify-fd 5 5>"$BATS_TEST_TMPDIR/ready"
	wait_for "the readiness newline" is_newline "$BATS_TEST_TMPDIR/ready"
	[ ! -e "/proc/$MM_PID/fd/5" ]
	assert_still_serving
}

@test "-notify-fd naming a closed fd is a startup error" {
	run nsx "$MMPROXY" -l 127.0.0.1:8443 -notify-fd 9
	[ "$status" -eq 1 ]
	[[ "$output" == "mmproxy: -notify-fd 9: Bad file descriptor" ]]
}

@test "without CAP_NET_ADMIN mmproxy stops at startup with one line saying what to do, with CAP_NET_RAW (Docker's default) too" {
	run nsx setpriv --reuid=65534 --regid=65534 --clear-groups "$MMPROXY" -l 127.0.0.1:8443
	echo "$output"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "mmproxy: IP_TRANSPARENT: Operation not permitted: mmproxy needs CAP_NET_ADMIN: "* ]]
	! port_listening 8443
	# CAP_NET_RAW sets IP_TRANSPARENT too, but mmproxy keeps CAP_NET_ADMIN:
	# the same line, as a user with only CAP_NET_RAW and as a root
	# whose bounding set lacks CAP_NET_ADMIN.
	for wrap in "--reuid=65534 --regid=65534 --clear-groups --inh-caps=+net_raw --ambient-caps=+net_raw" \
	    "--bounding-set=-net_admin --inh-caps=-net_admin"; do
		run nsx setpriv $wrap "$MMPROXY" -l 127.0.0.1:8443
		echo "$output"
		[ "$status" -eq 1 ]
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" == "mmproxy: IP_TRANSPARENT: Operation not permitted: mmproxy needs CAP_NET_ADMIN: "* ]]
	done
	! port_listening 8443
}

@test "as an unprivileged user with only CAP_NET_ADMIN mmproxy serves transparently" {
	start_backends hello
	MM_WRAP="setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+net_admin --ambient-caps=+net_admin" \
	    start_mmproxy
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$MM_PID/status")" = 65534 ]
	run pp --text 'PROXY TCP4 198.51.100.9 127.0.0.1 40009 8443\r\n' --shut --read
	[ "$output" = "hello 198.51.100.9:40009" ]
	backend_saw 198.51.100.9:40009
}

@test "without the local-delivery routes mmproxy warns once per family, with the commands to run" {
	start_backends echo
	start_mmproxy
	! grep -q '^warning ' "$MM_LOG"
	kill -TERM "$MM_PID"
	wait "$MM_PID"
	# The same, in a namespace that lacks the README's ip rule / ip route.
	BARE=$NS-bare
	ip netns add "$BARE"
	ip -n "$BARE" link set lo up
	ip netns exec "$BARE" "$MMPROXY" -l 127.0.0.1:8443 >"$BATS_TEST_TMPDIR/bare.log" 2>&1 3>&- &
	wait_log '^start ' "$BATS_TEST_TMPDIR/bare.log"
	wait_log "^warning msg=\"the backend \[::1\]:443's " "$BATS_TEST_TMPDIR/bare.log"
	cat "$BATS_TEST_TMPDIR/bare.log"
	grep -qx "warning msg=\"the backend 127.0.0.1:443's replies to client addresses are not delivered to mmproxy; run: ip rule add from 127.0.0.1/8 iif lo table 123; ip route add local 0.0.0.0/0 dev lo table 123\"" "$BATS_TEST_TMPDIR/bare.log"
	grep -q "^warning msg=\"the backend \[::1\]:443's replies .* ip -6 route add local ::/0 dev lo table 123\"$" "$BATS_TEST_TMPDIR/bare.log"
	[ "$(grep -c '^warning ' "$BATS_TEST_TMPDIR/bare.log")" -eq 2 ]
}

@test "a second mmproxy on an address already in use exits 1 with one line, -listeners 1 or 4, TCP and UDP; the first keeps serving" {
	start_backends echo
	start_mmproxy -listeners 4
	for n in 1 4; do
		run nsx "$MMPROXY" -l 127.0.0.1:8443 -listeners $n
		echo "$output"
		[ "$status" -eq 1 ]
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" == "mmproxy: -l 127.0.0.1:8443: address already in use: another process listens there"* ]]
	done
	# The wildcard overlaps it too.
	run nsx "$MMPROXY" -l 0.0.0.0:8443
	[ "$status" -eq 1 ]
	assert_still_serving
	[ "$(nsx ss -Htln 'sport = :8443' | wc -l)" -eq 4 ]
	stop_mmproxy
	# Any other process, UDP: a bound socket is enough.
	nsx "$BACKEND" --udp --listen 127.0.0.1:8444 --mode hello >/dev/null 2>&1 3>&- &
	wait_for "a UDP socket on 8444" udp_port_bound 8444
	run nsx "$MMPROXY" -p udp -l 127.0.0.1:8444 -listeners 2
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == "mmproxy: -l 127.0.0.1:8444: address already in use"* ]]
}

# What ps shows for PID: its command line, NULs as spaces, trimmed.
title_of() {
	tr '\0' ' ' <"/proc/$1/cmdline" | sed 's/ *$//'
}

@test "SIGUSR1 logs one status line (live, workers, totals), SIGUSR2 changes nothing, ps names each busy worker's client and target" {
	start_backends echo
	printf '127.0.0.0/8\n' >"$BATS_TEST_TMPDIR/allowed"
	start_mmproxy -workers 2 -allowed-subnets "$BATS_TEST_TMPDIR/allowed"
	[ "$(title_of "$MM_PID")" = "mmproxy: supervisor tcp 127.0.0.1:8443" ]
	# One connection held open, one finished.
	nsx "$PP_CLIENT" --text 'PROXY TCP4 203.0.113.9 127.0.0.1 40000 8443\r\n' \
	    --hold-ms 60000 127.0.0.1:8443 >/dev/null 2>&1 3>&- &
	hold=$!
	wait_log '^connect id=1 '
	run pp --text 'PROXY TCP4 203.0.113.10 127.0.0.1 40001 8443\r\nhi\n' --shut --read
	[ "$output" = "hi" ]
	wait_log '^close id=2 '
	w=$(sed -n 's/^accept id=1 .* worker=\([0-9]*\)$/\1/p' "$MM_LOG")
	[ "$(title_of "$w")" = "mmproxy: 203.0.113.9:40000 -> 127.0.0.1:4430" ]
	# A peer refused by the supervisor: counted by its word.
	nsx ip addr add 192.0.2.77/32 dev lo
	ip netns exec "$NS" "$PP_CLIENT" --bind 192.0.2.77 --text 'x' --read --timeout-ms 5000 127.0.0.1:8443 >/dev/null 2>&1 || true
	wait_log '^drop id=3 .* reason=not_allowed$'
	kill -USR2 "$MM_PID"
	kill -USR1 "$MM_PID"
	wait_log '^status '
	grep -Eq '^status proto=tcp conns=1 workers_busy=1 workers_idle=[0-9]+ accepted=2 closed=1 drop_not_allowed=1$' "$MM_LOG"
	kill -0 "$MM_PID"
	kill -0 "$w"
	kill "$hold"
	stop_mmproxy
	grep -Eq '^stop signal=TERM workers=[0-9]+ accepted=2 closed=[12] drop_not_allowed=1$' "$MM_LOG"
}

@test "the startup route check: a backend on another of this host's addresses needs a rule from it; a host without IPv6 says so once" {
	nsx ip addr add 10.9.9.9/32 dev lo
	ip netns exec "$NS" "$MMPROXY" -l 127.0.0.1:8443 -4 10.9.9.9:4430 >"$BATS_TEST_TMPDIR/a.log" 2>&1 3>&- &
	first=$!
	wait_log '^warning msg="the backend 10\.9\.9\.9:4430 is on this host: .* run: mmproxy-routes up; ip rule add from 10\.9\.9\.9 iif lo table 123"$' "$BATS_TEST_TMPDIR/a.log"
	kill "$first"
	wait "$first" || true
	nsx ip rule add from 10.9.9.9 iif lo table 123
	nsx "$MMPROXY" -l 127.0.0.1:8444 -4 10.9.9.9:4430 >"$BATS_TEST_TMPDIR/b.log" 2>&1 3>&- &
	wait_log '^start ' "$BATS_TEST_TMPDIR/b.log"
	wait_port 8444
	! grep -q '^warning ' "$BATS_TEST_TMPDIR/b.log"
	# No IPv6 at all: one line, not a command that would fail.
	nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	nsx "$MMPROXY" -l 127.0.0.1:8445 >"$BATS_TEST_TMPDIR/c.log" 2>&1 3>&- &
	wait_log '^start ' "$BATS_TEST_TMPDIR/c.log"
	wait_port 8445
	grep -qx 'warning msg="IPv6 is disabled on this host: IPv6 clients will be dropped"' "$BATS_TEST_TMPDIR/c.log"
	[ "$(grep -c '^warning ' "$BATS_TEST_TMPDIR/c.log")" -eq 1 ]
}
