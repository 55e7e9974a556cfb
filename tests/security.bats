#!/usr/bin/env bats
# The security model, checked on live processes: workers hold no
# capability and run under their seccomp filter (TCP, UDP, Accept=yes), a
# forbidden syscall kills only its worker, each worker is a fresh image,
# -user, -seccomp=false, and what the supervisor keeps.

load helpers

TRIGGER=$MMPROXY_BUILD/tests/mmproxy-trigger
UDP4="$SIG 21 12 000c c6336407 7f000001 9c40 20fb"
NO_CAPS=0000000000000000
NET_ADMIN=0000000000001000

setup() {
	ns_setup
}

teardown() {
	[ -z "${HOLD_PID:-}" ] || kill "$HOLD_PID" 2>/dev/null || true
	[ -z "${LB:-}" ] || netns_remove "$LB"
	ns_teardown
}

# status_field PID FIELD: one field of /proc/PID/status.
status_field() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# The worker serving connection id=N, from the supervisor's accept line.
worker_of() {
	sed -n "s/^accept id=$1 .* worker=\\([0-9]*\\)\$/\\1/p" "$MM_LOG" | head -1
}

# Hold one proxied TCP connection open (its worker stays busy).
hold_tcp() {
	nsx "$PP_CLIENT" --text "PROXY TCP4 198.51.100.$1 127.0.0.1 4000$1 8443\\r\\n" \
	    --hold-ms 60000 127.0.0.1:8443 >/dev/null 2>&1 3>&- &
	HOLD_PID=$!
}

assert_confined() {
	local pid=$1
	[ "$(status_field "$pid" Seccomp)" = 2 ]
	[ "$(status_field "$pid" NoNewPrivs)" = 1 ]
	[ "$(status_field "$pid" CapEff)" = $NO_CAPS ]
	[ "$(status_field "$pid" CapPrm)" = $NO_CAPS ]
	[ "$(status_field "$pid" CapAmb)" = $NO_CAPS ]
}

@test "a TCP worker serving a client: Seccomp 2, no capability; the supervisor keeps only CAP_NET_ADMIN" {
	start_backends echo
	start_mmproxy
	hold_tcp 1
	wait_log '^connect id=1 '
	w=$(worker_of 1)
	[ -n "$w" ]
	assert_confined "$w"
	[ "$(status_field "$MM_PID" CapEff)" = $NET_ADMIN ]
	[ "$(status_field "$MM_PID" CapPrm)" = $NET_ADMIN ]
	[ "$(status_field "$MM_PID" CapInh)" = $NO_CAPS ]
	[ "$(status_field "$MM_PID" Seccomp)" = 0 ]
	# A root supervisor's bounding set, and so its workers', holds
	# CAP_NET_ADMIN only: an exec can never give a worker more.
	[ "$(status_field "$MM_PID" CapBnd)" = $NET_ADMIN ]
	[ "$(status_field "$w" CapBnd)" = $NET_ADMIN ]
	# The worker never made a socket: its upstream came from the supervisor.
	grep -q '^connect id=1 peer=127\.0\.0\.1:[0-9]* src=198\.51\.100\.1:40001 ' "$MM_LOG"
}

@test "a UDP worker serving a flow: Seccomp 2, no capability" {
	start_udp_backends hello
	start_udp_mmproxy
	run udp --hex "$UDP4 70696e67"
	[ "$status" -eq 0 ]
	[ "$output" = "hello 198.51.100.7:40000 ping" ]
	wait_log '^flow_open id=1 '
	w=$(worker_of 1)
	[ -n "$w" ]
	assert_confined "$w"
	[ "$(status_field "$MM_PID" CapEff)" = 0000000000001400 ]
	[ "$(status_field "$MM_PID" CapBnd)" = 0000000000001400 ]
}

@test "Accept=yes: the one process serving a connection is confined before it reads the client" {
	command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate is not installed"
	start_backends echo
	MM_LOG=$BATS_TEST_TMPDIR/manager.log
	ip netns exec "$NS" systemd-socket-activate --accept -l 127.0.0.1:8443 "$MMPROXY" \
	    -v 2 -4 127.0.0.1:4430 -6 '[::1]:4430' >"$MM_LOG" 2>&1 3>&- &
	MM_PID=$!
	wait_port 8443
	hold_tcp 2
	wait_log '^connect id=[0-9]+ peer=127\.0\.0\.1:[0-9]+ src=198\.51\.100\.2:40002 '
	# mmproxy's process, which answers the dial, holds no capability; the
	# child that reads the client is confined.
	p=$(pgrep -P "$MM_PID" | head -1)
	[ -n "$p" ]
	[ "$(status_field "$p" CapEff)" = $NO_CAPS ]
	[ "$(status_field "$p" CapPrm)" = $NO_CAPS ]
	c=$(pgrep -P "$p" | head -1)
	[ -n "$c" ]
	assert_confined "$c"
}

@test "a worker that makes a forbidden syscall dies by SIGSYS, is logged, and the others are served" {
	start_backends echo
	MMPROXY=$TRIGGER start_mmproxy
	hold_tcp 3
	wait_log '^connect id=1 '
	run pp --text 'PROXY TCP4 198.51.100.4 127.0.0.1 40004 8443\r\nmmproxy-test: forbidden syscall\n' --shut --read
	wait_log '^worker_exit worker=[0-9]+ signal=31 id=2$'
	# The held client's worker is alive, and a new client is served.
	kill -0 "$(worker_of 1)"
	assert_still_serving
	kill -0 "$MM_PID"
}

@test "a worker that reports idle twice for one job is killed as misbehaving, and the others are served" {
	start_backends echo
	MMPROXY=$TRIGGER start_mmproxy
	hold_tcp 3
	wait_log '^connect id=1 '
	# The trigger makes the worker send two idle bytes while it serves:
	# the first ends its job, the second comes from a worker with none.
	run pp --text 'PROXY TCP4 198.51.100.4 127.0.0.1 40004 8443\r\nmmproxy-test: idle twice\n' --shut --read
	wait_log '^worker_misbehaved worker=[0-9]+ id=2 reason=idle_while_idle$'
	wait_log '^worker_exit worker=[0-9]+ signal=9 id=2$'
	[ "$(grep -c '^worker_misbehaved ' "$MM_LOG")" -eq 1 ]
	kill -0 "$(worker_of 1)"
	assert_still_serving
	kill -0 "$MM_PID"
}

@test "a worker cannot signal another process: its SIGABRT to the supervisor kills it by SIGSYS instead" {
	! grep -q __asan_init "$TRIGGER" || skip "the sanitizer build's filter lets its runtime signal (it is no sandbox)"
	start_backends echo
	MMPROXY=$TRIGGER start_mmproxy
	hold_tcp 3
	wait_log '^connect id=1 '
	run pp --text "PROXY TCP4 198.51.100.4 127.0.0.1 40004 8443\r\nmmproxy-test: abort $MM_PID\n" --shut --read
	wait_log '^worker_exit worker=[0-9]+ signal=31 id=2$'
	kill -0 "$MM_PID"
	! grep -q '^stop ' "$MM_LOG"
	kill -0 "$(worker_of 1)"
	# abort() itself still works: SIGABRT to its own thread.
	run pp --text 'PROXY TCP4 198.51.100.5 127.0.0.1 40005 8443\r\nmmproxy-test: abort self\n' --shut --read
	wait_log '^worker_exit worker=[0-9]+ signal=6 id=3$'
	assert_still_serving
}

# hex TEXT: TEXT as the hex digits udp_client's --hex takes.
hex() {
	printf '%s' "$1" | od -An -tx1 | tr -d ' \n'
}

@test "a hijacked TCP worker cannot point a socket anywhere (connect, bind, sends with an address) or forge a signal frame" {
	start_backends echo
	MMPROXY=$TRIGGER start_mmproxy
	hold_tcp 3
	wait_log '^connect id=1 '
	id=1
	acts=("connect unspec" "connect elsewhere" "bind" "sendto elsewhere" "sendmsg" "sendmmsg" "sigreturn" "kill" "fork" "open")
	# The sanitizer build's filter lets its runtime return from signal
	# handlers, signal, fork and open files (it is no sandbox).
	! grep -q __asan_init "$TRIGGER" || acts=("connect unspec" "connect elsewhere" "bind" "sendto elsewhere" "sendmsg" "sendmmsg")
	for act in "${acts[@]}"; do
		id=$((id + 1))
		run pp --text "PROXY TCP4 198.51.100.4 127.0.0.1 40004 8443\r\nmmproxy-test: $act\n" --shut --read
		wait_log "^worker_exit worker=[0-9]+ signal=31 id=$id\$"
	done
	kill -0 "$(worker_of 1)"
	assert_still_serving
	kill -0 "$MM_PID"
}

@test "a hijacked TCP worker finds nothing of its last client's bytes in the copy buffers it keeps" {
	start_backends echo
	MMPROXY=$TRIGGER start_mmproxy -workers 1
	# 48 KiB of an earlier client's secret both ways: a page of each
	# buffer is kept, the rest given back.
	run pp --text "PROXY TCP4 198.51.100.5 127.0.0.1 40005 8443\\r\\n" \
	    --text "$(printf 'secret-of-client-one;%.0s' $(seq 1 2400))" --shut --read
	[ "$status" -eq 0 ]
	[ "${#output}" -eq 50400 ]
	wait_log '^close id=1 '
	# The next client, served by the same worker, turns it.
	run pp --text 'PROXY TCP4 198.51.100.6 127.0.0.1 40006 8443\r\nmmproxy-test: scrape\n' --shut --read
	echo "$output"
	[ "$(worker_of 2)" = "$(worker_of 1)" ]
	# Both buffers were kept (64 KiB each), and hold nothing.
	[ "$output" = "scraped=131072 nonzero=0 sample=" ]
}

@test "a hijacked TCP worker gets one dial request of one shape: a second or a malformed one kills it" {
	start_backends echo
	MMPROXY=$TRIGGER start_mmproxy
	hold_tcp 3
	wait_log '^connect id=1 '
	run pp --text 'PROXY TCP4 198.51.100.4 127.0.0.1 40004 8443\r\nmmproxy-test: dial twice\n' --shut --read
	wait_log '^worker_misbehaved worker=[0-9]+ id=2 reason=dial_twice$'
	wait_log '^worker_exit worker=[0-9]+ signal=9 id=2$'
	id=2
	for act in "dial malformed" "dial unusable" "dial family"; do
		id=$((id + 1))
		run pp --text "PROXY TCP4 198.51.100.5 127.0.0.1 40005 8443\r\nmmproxy-test: $act\n" --shut --read
		wait_log "^worker_misbehaved worker=[0-9]+ id=$id reason=dial_request_malformed\$"
		wait_log "^worker_exit worker=[0-9]+ signal=9 id=$id\$"
	done
	[ "$(grep -c '^worker_misbehaved ' "$MM_LOG")" -eq 4 ]
	# The supervisor bound nothing for them: no connection from 0.0.0.0
	# or 198.51.100.4 reached the backend.
	! grep -q '^accept peer=\(0\.0\.0\.0\|198\.51\.100\.4\):40000$' "$BE4_LOG" "$BE6_LOG"
	kill -0 "$(worker_of 1)"
	assert_still_serving
	kill -0 "$MM_PID"
}

@test "a hijacked TCP worker serving a remote balancer cannot have its socket bound to loopback" {
	lb_setup
	start_backends echo
	MM_LOG=$BATS_TEST_TMPDIR/mmproxy.log
	ip netns exec "$NS" "$TRIGGER" -l 192.0.2.2:8443 -4 127.0.0.1:4430 \
	    -6 '[::1]:4430' -v 2 >"$MM_LOG" 2>&1 3>&- &
	MM_PID=$!
	wait_log '^start '
	wait_port 8443
	run ip netns exec "$LB" "$PP_CLIENT" --text 'PROXY TCP4 198.51.100.4 192.0.2.2 40004 8443\r\nmmproxy-test: dial loopback\n' \
	    --shut --read 192.0.2.2:8443
	wait_log '^worker_misbehaved worker=[0-9]+ id=1 reason=dial_request_loopback$'
	wait_log '^worker_exit worker=[0-9]+ signal=9 id=1$'
	! grep -q '^accept peer=127\.0\.0\.1:40000$' "$BE4_LOG"
	kill -0 "$MM_PID"
}

@test "a hijacked worker's socket() fails with EACCES, and it goes on" {
	start_backends echo
	MMPROXY=$TRIGGER start_mmproxy
	run pp --text 'PROXY TCP4 198.51.100.4 127.0.0.1 40004 8443\r\nmmproxy-test: socket\n' --shut --read
	[[ "$output" == "socket: EACCES"* ]]
	wait_log '^close id=1 .* end=eof$'
	! grep -Eq '^worker_exit worker=[0-9]+ signal' "$MM_LOG"
}

@test "a TCP worker holds no socket but its channel, its client and its upstream" {
	start_backends echo
	start_mmproxy
	hold_tcp 1
	wait_log '^connect id=1 '
	w=$(worker_of 1)
	[ -n "$w" ]
	# No spare socket of the other family, which it could connect anywhere.
	run bash -c "ls -l /proc/$w/fd | grep -c 'socket:'"
	[ "$output" -eq 3 ]
}

@test "a hijacked UDP worker cannot disconnect its balancer socket, forge a bounce or flood dial requests" {
	start_udp_backends hello
	MMPROXY=$TRIGGER start_udp_mmproxy
	# connect(AF_UNSPEC) on its balancer socket would make it a second
	# listener on the port: the filter kills it instead.
	run udp --hex "$UDP4 $(hex 'mmproxy-test: connect unspec')" --timeout-ms 300
	wait_log '^worker_exit worker=[0-9]+ signal=31 id=1$'
	# A datagram "bounced" for a privileged local port it was never given,
	# or from a peer that is no IP address: the supervisor binds nothing.
	run udp --hex "$UDP4 $(hex 'mmproxy-test: bounce local')" --timeout-ms 300
	wait_log '^worker_misbehaved worker=[0-9]+ id=2 reason=bounce_forged$'
	run udp --hex "$UDP4 $(hex 'mmproxy-test: bounce unix')" --timeout-ms 300
	wait_log '^worker_misbehaved worker=[0-9]+ id=3 reason=bounce_forged$'
	# Its own local address, but a peer it names (a loopback service):
	# the supervisor would connect a socket there, or pass the bytes to
	# another peer's worker.
	run udp --hex "$UDP4 $(hex 'mmproxy-test: bounce elsewhere')" --timeout-ms 300
	wait_log '^worker_misbehaved worker=[0-9]+ id=[0-9]+ reason=bounce_forged$'
	run udp --hex "$UDP4 $(hex 'mmproxy-test: bounce respelled')" --timeout-ms 300
	wait_for "four forged bounces" eval '[ "$(grep -c "reason=bounce_forged$" "$MM_LOG")" -eq 4 ]'
	! grep -q 'peer=127\.0\.0\.1:2 ' "$MM_LOG"
	# A second request before the first answer was read: one socket in
	# flight at most.
	run udp --hex "$UDP4 $(hex 'mmproxy-test: dial flood')" --timeout-ms 300
	wait_log '^worker_misbehaved worker=[0-9]+ id=[0-9]+ reason=dial_request_unanswered$'
	! nsx ss -Haun 'sport = :80' | grep -q .
	run udp --hex "$UDP4 70696e67"
	[ "$status" -eq 0 ]
	[ "$output" = "hello 198.51.100.7:40000 ping" ]
	kill -0 "$MM_PID"
}

@test "a UDP worker may bounce a datagram of the job before its current one, not of a job it never had" {
	start_udp_backends hello
	MMPROXY=$TRIGGER start_udp_mmproxy -workers 1 -max-conns 1 -close-after 1
	run udp --hex "$UDP4 70696e67"
	[ "$output" = "hello 198.51.100.7:40000 ping" ]
	wait_log '^peer_close id=1 '
	w=$(worker_of 1)
	# The same worker's next job sends back a datagram "of" job 1.
	run udp --hex "$UDP4 $(hex 'mmproxy-test: bounce previous')" --timeout-ms 300
	wait_log '^accept id=2 .* worker='"$w"'$'
	wait_log '^flow_open id=2 '
	wait_log '^peer_close id=2 '
	kill -0 "$w"
	! grep -q '^worker_misbehaved ' "$MM_LOG"
	run udp --hex "$UDP4 $(hex 'mmproxy-test: bounce stranger')" --timeout-ms 300
	wait_log '^worker_misbehaved worker='"$w"' id=[0-9]+ reason=bounce_forged$'
}

@test "the normal binary has no trigger: the same bytes are relayed like any others" {
	start_backends echo
	start_mmproxy
	run pp --text 'PROXY TCP4 198.51.100.4 127.0.0.1 40004 8443\r\nmmproxy-test: forbidden syscall\n' --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "mmproxy-test: forbidden syscall" ]
	! grep -q '^worker_exit ' "$MM_LOG"
}

@test "-seccomp=false: workers run without the filter, still without capabilities" {
	start_backends echo
	MMPROXY=$TRIGGER start_mmproxy -seccomp=false
	hold_tcp 5
	wait_log '^connect id=1 '
	w=$(worker_of 1)
	[ "$(status_field "$w" Seccomp)" = 0 ]
	[ "$(status_field "$w" CapEff)" = $NO_CAPS ]
	# Unfiltered, the trigger's exec succeeds: the worker becomes a shell
	# that exits, instead of dying by SIGSYS.
	run pp --text 'PROXY TCP4 198.51.100.4 127.0.0.1 40004 8443\r\nmmproxy-test: forbidden syscall\n' --shut --read
	wait_log '^worker_exit worker=[0-9]+ status=0$'
	! grep -q 'signal=31' "$MM_LOG"
}

@test "a sanitizer build's start line says it is no sandbox, and make install refuses such a build" {
	start_mmproxy
	if grep -q __asan_init "$MMPROXY"; then
		grep -q '^start .* build=sanitizer sandbox=none$' "$MM_LOG"
	else
		! grep -q 'sandbox=none' "$MM_LOG"
	fi
	run make -s -C "$BATS_TEST_DIRNAME/.." install SANITIZE=1 DESTDIR="$BATS_TEST_TMPDIR/root"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"refuses a SANITIZE=1 build"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/root" ]
}

@test "-seccomp takes only true or false, and only after =" {
	run "$MMPROXY" -seccomp=maybe
	[ "$status" -eq 2 ]
	[ "$output" = 'mmproxy: -seccomp: invalid value "maybe": want true or false (see mmproxy -h)' ]
	run "$MMPROXY" -seccomp false
	[ "$status" -eq 2 ]
	[ "$output" = 'mmproxy: unexpected argument "false" (see mmproxy -h)' ]
}

@test "each worker is a fresh image: two workers have different stack and binary addresses" {
	start_mmproxy -workers 2
	wait_for "two workers" eval '[ "$(worker_pids | wc -w)" -eq 2 ]'
	set -- $(worker_pids)
	# Each worker runs the worker's code: its title (ps) says it is idle.
	wait_for "worker titles" eval "[ \"\$(tr '\\0' ' ' </proc/$1/cmdline | xargs)\" = 'mmproxy: idle' ]"
	stack1=$(awk '/\[stack\]/ { print $1 }' "/proc/$1/maps")
	stack2=$(awk '/\[stack\]/ { print $1 }' "/proc/$2/maps")
	# The binary's first mapping (not the sanitizer's fixed shadow).
	bin1=$(awk -v exe="$(readlink "/proc/$1/exe")" '$6 == exe { print $1; exit }' "/proc/$1/maps")
	bin2=$(awk -v exe="$(readlink "/proc/$2/exe")" '$6 == exe { print $1; exit }' "/proc/$2/maps")
	echo "stacks $stack1 $stack2, images $bin1 $bin2"
	[ -n "$stack1" ]
	[ -n "$stack2" ]
	[ -n "$bin1" ]
	[ "$stack1" != "$stack2" ]
	[ "$bin1" != "$bin2" ]
	# A worker holds nothing but stdio and its channel.
	[ "$(ls "/proc/$1/fd" | sort -n | xargs)" = '0 1 2 3' ]
}

@test "a worker's environment holds nothing of the supervisor's" {
	MMPROXY_TEST_CANARY=only-the-supervisor start_mmproxy -workers 2
	# The supervisor has it, so a worker that inherited it would show it.
	tr '\0' '\n' <"/proc/$MM_PID/environ" | grep -qx 'MMPROXY_TEST_CANARY=only-the-supervisor'
	wait_for "two workers" eval '[ "$(worker_pids | wc -w)" -eq 2 ]'
	for w in $(worker_pids); do
		# A sanitizer build passes its runtime's options on, nothing else.
		left=$(tr '\0' '\n' <"/proc/$w/environ" | grep -v '^[A-Z]*SAN_OPTIONS=' || true)
		echo "worker $w environment: $left"
		[ -z "$left" ]
	done
}

@test "-user nobody: supervisor and workers run as nobody, the connection is still transparent" {
	start_backends hello
	start_mmproxy -user nobody
	run pp --text 'PROXY TCP4 198.51.100.6 127.0.0.1 40006 8443\r\n' --shut --read
	[ "$output" = "hello 198.51.100.6:40006" ]
	backend_saw 198.51.100.6:40006
	[ "$(status_field "$MM_PID" Uid)" = 65534 ]
	[ "$(status_field "$MM_PID" CapEff)" = $NET_ADMIN ]
	hold_tcp 7
	wait_log '^connect id=2 '
	w=$(worker_of 2)
	[ "$(status_field "$w" Uid)" = 65534 ]
	[ "$(awk '/^Gid:/ { print $2 }' "/proc/$w/status")" = "$(id -g nobody)" ]
	[ "$(status_field "$w" Groups)" = "" ]
	assert_confined "$w"
}

@test "-user with an unknown name stops mmproxy at startup with one line, exit 2 (a bad command line)" {
	run nsx "$MMPROXY" -l 127.0.0.1:8443 -user no-such-user-here
	echo "$output"
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == 'mmproxy: -user: no user "no-such-user-here"'* ]]
	! port_listening 8443
}

@test "a PROXY source port below 1024 keeps its address, takes an ephemeral port, and says why" {
	start_backends hello
	start_mmproxy
	run pp --text 'PROXY TCP4 198.51.100.8 127.0.0.1 123 8443\r\n' --shut --read
	echo "$output"
	[[ "$output" =~ ^hello\ 198\.51\.100\.8:([0-9]+)$ ]]
	[ "${BASH_REMATCH[1]}" -ge 1024 ]
	grep -q '^connect id=1 .* src=198\.51\.100\.8:123 .* source_port=ephemeral reason=privileged_port$' "$MM_LOG"
}
