#!/usr/bin/env bats
# mmproxy under the real service managers: systemd socket activation
# (Accept=yes and no, through systemd-socket-activate), ucspi tcpserver,
# xinetd and the s6 example.  Each serves two consecutive connections and
# the backend sees both PROXY sources.

load helpers

ROOT=$BATS_TEST_DIRNAME/..
ARGS=(-v 2 -4 127.0.0.1:4430 -6 '[::1]:4430')

setup() {
	ns_setup
	start_backends hello
	MM_LOG=$BATS_TEST_TMPDIR/manager.log
}

teardown() {
	ns_teardown
}

need() {
	command -v "$1" >/dev/null || skip "$1 is not installed (apt-get install $2)"
}

# Start a manager in the namespace, output to MM_LOG, and wait for 8443.
manager() {
	ip netns exec "$NS" "$@" >"$MM_LOG" 2>&1 3>&- &
	MANAGER_PID=$!
	wait_port 8443
}

two_clients_seen() {
	run pp --text 'PROXY TCP4 198.51.100.1 127.0.0.1 40001 8443\r\n' --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "hello 198.51.100.1:40001" ]
	run pp --hex "$SIG 21 21 0024 20010db8000000000000000000000002 00000000000000000000000000000001 9c42 20fb" --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "hello [2001:db8::2]:40002" ]
	backend_saw 198.51.100.1:40001
	backend_saw '\[2001:db8::2\]:40002'
}

@test "systemd Accept=yes: each connection on fd 3 is served by its own mmproxy" {
	need systemd-socket-activate systemd
	manager systemd-socket-activate --accept -l 127.0.0.1:8443 "$MMPROXY" "${ARGS[@]}"
	two_clients_seen
	wait_log '^accept id=[0-9]+ peer=127\.0\.0\.1:[0-9]+ mode=systemd-accept$'
	[ "$(grep -c 'mode=systemd-accept' "$MM_LOG")" -eq 2 ]
	# Each process ends with its connection, exit status 0.
	wait_for "two clean exits" eval '[ "$(grep -c "^Child [0-9]* died with code 0$" "$MM_LOG")" -eq 2 ]'
}

@test "systemd Accept=yes in inetd style (StandardInput=socket) is detected without -inetd" {
	need systemd-socket-activate systemd
	manager systemd-socket-activate --accept --inetd -l 127.0.0.1:8443 "$MMPROXY" "${ARGS[@]}"
	two_clients_seen
	wait_log 'mode=inetd$'
}

@test "systemd Accept=no: mmproxy accepts on the passed listening socket; its name, logfmt-quoted, forges no field" {
	need systemd-socket-activate systemd
	# FileDescriptorName= may hold a space, '"' and '=' (not ':').
	manager systemd-socket-activate --fdname='game "x" proto=udp' -l 127.0.0.1:8443 "$MMPROXY" "${ARGS[@]}"
	two_clients_seen
	wait_log '^start .* mode=systemd-listen listen="systemd:game \\"x\\" proto=udp" proto=tcp listeners=1 '
	# One supervisor served both: a pool, not a process per connection.
	[ "$(grep -c '^start ' "$MM_LOG")" -eq 1 ]
}

@test "systemd Accept=no with a datagram socket: mmproxy -p udp serves it" {
	need systemd-socket-activate systemd
	start_udp_backends hello
	manager_udp() {
		ip netns exec "$NS" "$@" >"$MM_LOG" 2>&1 3>&- &
		MANAGER_PID=$!
		wait_for "UDP port 8443" udp_port_bound 8443
	}
	manager_udp systemd-socket-activate --datagram --fdname=game-udp -l 127.0.0.1:8443 \
	    "$MMPROXY" -p udp "${ARGS[@]}"
	# systemd starts mmproxy on the first datagram, which it must serve too.
	run udp --hex "$SIG 21 12 000c c6336401 7f000001 9c41 20fb" --text 'first'
	[ "$status" -eq 0 ]
	[ "$output" = "hello 198.51.100.1:40001 first" ]
	run udp --hex "$SIG 21 22 0024 20010db8000000000000000000000002 00000000000000000000000000000001 9c42 20fb" --text 'second'
	[ "$output" = "hello [2001:db8::2]:40002 second" ]
	wait_log '^start .* mode=systemd-listen listen=systemd:game-udp proto=udp listeners=1 '
	[ "$(grep -c '^start ' "$MM_LOG")" -eq 1 ]
}

@test "LISTEN_FDS naming a TCP socket with -p udp is a clear error" {
	run nsx bash -c 'exec 3<>/dev/tcp/127.0.0.1/4430; LISTEN_FDS=1 LISTEN_PID=$$ exec "$0" -p udp' "$MMPROXY"
	[ "$status" -eq 1 ]
	[ "$output" = "mmproxy: LISTEN_FDS: fd 3 is a TCP socket, but -p is udp" ]
}

@test "ucspi tcpserver runs mmproxy -inetd on fd 0/1" {
	need tcpserver ucspi-tcp
	manager tcpserver -v -R -H -l 0 127.0.0.1 8443 "$MMPROXY" -inetd "${ARGS[@]}"
	two_clients_seen
	wait_for "two clean exits" eval '[ "$(grep -c "^tcpserver: end [0-9]* status 0$" "$MM_LOG")" -eq 2 ]'
	grep -q 'mode=inetd$' "$MM_LOG"
}

@test "xinetd passes the connection on fds 0-2: mmproxy logs to syslog, never to the client" {
	need xinetd xinetd
	conf=$BATS_TEST_TMPDIR/xinetd.conf
	SYSLOG=$BATS_TEST_TMPDIR/syslog
	# examples/xinetd/mmproxy as shipped, with this test's port and paths.
	cat >"$conf" <<-CONF
	defaults
	{
		log_type	= FILE $BATS_TEST_TMPDIR/xinetd.log
		log_on_success	= PID EXIT
	}
	CONF
	sed -e 's/= 2222$/= 8443/' -e 's/= 0\.0\.0\.0$/= 127.0.0.1/' \
	    -e "s#= /usr/local/sbin/mmproxy\$#= $MMPROXY#" \
	    -e "s#^\(\tserver_args\t= \).*#\1${ARGS[*]}#" \
	    "$ROOT/examples/xinetd/mmproxy" >>"$conf"
	grep -q "port		= 8443" "$conf"
	grep -q "server_args	= -v 2 " "$conf"
	# A private /dev (mount namespace) whose /dev/log is our own sink, so
	# the host's syslog is neither needed nor touched.  The sink runs in
	# the test's network namespace, so the teardown ends it with xinetd.
	unshare -m bash -c '
		mount -t tmpfs -o size=1m tmpfs /dev &&
		mknod -m 666 /dev/null c 1 3 || exit 1
		ip netns exec "$3" "$1" /dev/log >"$2" 2>&1 &
		for i in $(seq 100); do [ -S /dev/log ] && break; sleep 0.1; done
		exec ip netns exec "$3" xinetd -dontfork -f "$4" -pidfile "$5"' \
	    _ "$MMPROXY_BUILD/tests/syslog_sink" "$SYSLOG" "$NS" "$conf" \
	    "$BATS_TEST_TMPDIR/xinetd.pid" >"$MM_LOG" 2>&1 3>&- &
	wait_port 8443
	# At -v 2 mmproxy logs every step: written to stderr, the client's
	# socket, they would show up in the exact answers checked here.
	two_clients_seen
	wait_log 'mmproxy\[[0-9]+\]: close id=[0-9]+ .*src=198\.51\.100\.1:40001 .*end=eof$' "$SYSLOG"
	wait_log 'mmproxy\[[0-9]+\]: close id=[0-9]+ .*src=\[2001:db8::2\]:40002 .*end=eof$' "$SYSLOG"
	grep -qE '^<30>.*mmproxy\[[0-9]+\]: accept id=[0-9]+ peer=127\.0\.0\.1:[0-9]+ mode=inetd$' "$SYSLOG"
	wait_for "two clean exits" eval '[ "$(grep -c "EXIT: mmproxy status=0" "$BATS_TEST_TMPDIR/xinetd.log")" -eq 2 ]'
}

@test "the s6 example run script serves connections through tcpserver" {
	need tcpserver ucspi-tcp
	MMPROXY_LISTEN_HOST=127.0.0.1 MMPROXY_LISTEN_PORT=8443 MMPROXY_BIN=$MMPROXY \
	    MMPROXY_ROUTES=$ROOT/contrib/mmproxy-routes \
	    MMPROXY_ARGS="${ARGS[*]}" manager "$ROOT/examples/s6/mmproxy/run"
	two_clients_seen
	wait_log 'mode=inetd$'
}

@test "the allow-list applies in inetd mode" {
	need tcpserver ucspi-tcp
	printf '10.0.0.0/8\n' >"$BATS_TEST_TMPDIR/allowed"
	manager tcpserver -v -R -H -l 0 127.0.0.1 8443 "$MMPROXY" -inetd "${ARGS[@]}" \
	    -allowed-subnets "$BATS_TEST_TMPDIR/allowed"
	run pp --text 'PROXY TCP4 198.51.100.1 127.0.0.1 40001 8443\r\n' --read --timeout-ms 20000
	[ -z "$output" ]
	wait_log '^drop id=[0-9]+ peer=127\.0\.0\.1:[0-9]+ reason=not_allowed$'
	refute_backend_connection
}

@test "inetd mode: a connection without PROXY header is closed, exit status 0; an unreachable backend exits 1" {
	need tcpserver ucspi-tcp
	manager tcpserver -v -R -H -l 0 127.0.0.1 8443 "$MMPROXY" -inetd -v 1 -4 127.0.0.1:4999
	run pp --text 'SSH-2.0-OpenSSH_9.2\r\n' --read --timeout-ms 20000
	[ -z "$output" ]
	wait_log 'reason=bad_signature$'
	wait_log '^tcpserver: end [0-9]+ status 0$'
	refute_backend_connection
	run pp --text 'PROXY TCP4 198.51.100.1 127.0.0.1 40001 8443\r\n' --read --timeout-ms 20000
	wait_log 'reason=dial_failed error="Connection refused"$'
	# tcpserver prints the raw wait(2) status: 256 is exit status 1.
	wait_log '^tcpserver: end [0-9]+ status 256$'
}

@test "LISTEN_FDS naming a file instead of a socket is a clear error" {
	run nsx bash -c 'exec 3</etc/hostname; LISTEN_FDS=1 LISTEN_PID=$$ exec "$0"' "$MMPROXY"
	[ "$status" -eq 1 ]
	[ "$output" = "mmproxy: LISTEN_FDS: fd 3 is not a socket" ]
}

@test "LISTEN_FDS naming a UDP socket with -p tcp is a clear error" {
	run nsx bash -c 'exec 3<>/dev/udp/127.0.0.1/9; LISTEN_FDS=1 LISTEN_PID=$$ exec "$0"' "$MMPROXY"
	[ "$status" -eq 1 ]
	[ "$output" = "mmproxy: LISTEN_FDS: fd 3 is a UDP socket, but -p is tcp" ]
}

@test "LISTEN_FDS naming a closed fd, or an invalid count, is a clear error" {
	run nsx bash -c 'exec 3<&-; LISTEN_FDS=1 LISTEN_PID=$$ exec "$0"' "$MMPROXY"
	[ "$status" -eq 1 ]
	[ "$output" = "mmproxy: LISTEN_FDS: fd 3 is not open" ]
	run nsx bash -c 'LISTEN_FDS=x LISTEN_PID=$$ exec "$0"' "$MMPROXY"
	[ "$status" -eq 1 ]
	[ "$output" = 'mmproxy: LISTEN_FDS: invalid value "x"' ]
}

@test "LISTEN_FDS meant for another process is ignored: mmproxy binds -l" {
	MM_LOG=$BATS_TEST_TMPDIR/mmproxy.log
	LISTEN_FDS=1 LISTEN_PID=1 ip netns exec "$NS" "$MMPROXY" -l 127.0.0.1:8443 \
	    "${ARGS[@]}" >"$MM_LOG" 2>&1 3>&- &
	wait_log '^start .* mode=standalone listen=127\.0\.0\.1:8443 '
	wait_port 8443
	two_clients_seen
}

@test "-inetd with standard input that is not a socket is a clear error" {
	run nsx "$MMPROXY" -inetd </dev/null
	[ "$status" -eq 1 ]
	[ "$output" = "mmproxy: -inetd: standard input is not a socket, not a connected TCP socket" ]
}

@test "a real s6 tree with examples/s6/mmproxy-pool: ready on notification-fd, s6-svc -d drains" {
	need s6-svscan s6
	scan=$BATS_TEST_TMPDIR/scan
	mkdir -p "$scan"
	cp -r "$ROOT/examples/s6/mmproxy-pool" "$scan/mmproxy"
	ip netns exec "$NS" env MMPROXY_BIN="$MMPROXY" MMPROXY_ROUTES="$ROOT/contrib/mmproxy-routes" \
	    MMPROXY_ARGS="-l 127.0.0.1:8443 ${ARGS[*]}" s6-svscan "$scan" >"$MM_LOG" 2>&1 3>&- &
	# Up and ready: mmproxy wrote its newline to the notification fd.
	wait_for "s6-supervise" s6-svok "$scan/mmproxy"
	run s6-svwait -U -t 30000 "$scan/mmproxy"
	echo "$output"
	[ "$status" -eq 0 ]
	port_listening 8443
	two_clients_seen
	grep -q '^start .* mode=standalone listen=127\.0\.0\.1:8443 proto=tcp ' "$MM_LOG"
	# A live connection, then the service goes down: it is drained.
	nsx "$PP_CLIENT" --text 'PROXY TCP4 198.51.100.3 127.0.0.1 40003 8443\r\nbefore\n' \
	    --pause-ms 2000 --text 'after\n' --shut --read 127.0.0.1:8443 >"$BATS_TEST_TMPDIR/a.out" 3>&- &
	wait_for "the live connection" eval '[ "$(grep -c "^close peer=" "$BE4_LOG")" -ge 1 ] && grep -q "src=198.51.100.3:40003" "$MM_LOG"'
	s6-svc -d "$scan/mmproxy"
	run s6-svwait -D -t 30000 "$scan/mmproxy"
	[ "$status" -eq 0 ]
	wait_log '^drain busy=1 '
	wait_log '^drain_end closed=0 reason=done$'
	[ "$(cat "$BATS_TEST_TMPDIR/a.out")" = "hello 198.51.100.3:40003
before
after" ]
	! port_listening 8443
	s6-svscanctl -t "$scan"
}

@test "every example unit file passes systemd-analyze verify" {
	need systemd-analyze systemd
	dir=$BATS_TEST_TMPDIR/units
	mkdir -p "$dir" "$BATS_TEST_TMPDIR/man/man8"
	cp "$ROOT/man/mmproxy.8" "$BATS_TEST_TMPDIR/man/man8/"
	# verify checks that binaries and Documentation= man pages exist.
	for u in "$ROOT"/examples/*.service "$ROOT"/examples/*.socket; do
		sed -e "s#/usr/local/sbin/mmproxy-routes#$ROOT/contrib/mmproxy-routes#" \
		    -e "s#/usr/local/sbin/mmproxy#$MMPROXY#" "$u" >"$dir/$(basename "$u")"
	done
	cp "$dir/mmproxy@.service" "$dir/mmproxy@1.service"
	cd "$dir"
	MANPATH=$BATS_TEST_TMPDIR/man run systemd-analyze verify mmproxy.service \
	    mmproxy.socket mmproxy@1.service mmproxy-listen.socket mmproxy-listen.service \
	    mmproxy-udp.socket mmproxy-udp.service mmproxy-routes.service
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}
