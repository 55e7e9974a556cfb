# Shared by every .bats file.  Each test gets its own network namespace
# with the routes mmproxy needs (the same ones README.md documents), a
# backend on 127.0.0.1:4430 and [::1]:4430, and mmproxy on 127.0.0.1:8443.
# Waits are for a condition with a generous bound, never a bare sleep.

MMPROXY_BUILD=${MMPROXY_BUILD:-$BATS_TEST_DIRNAME/../build}
MMPROXY=$MMPROXY_BUILD/mmproxy
PP_CLIENT=$MMPROXY_BUILD/tests/pp_client
UDP_CLIENT=$MMPROXY_BUILD/tests/udp_client
BACKEND=$MMPROXY_BUILD/tests/backend
WAIT_SECONDS=${WAIT_SECONDS:-30}
SIG='0d0a0d0a000d0a515549540a'

. "$BATS_TEST_DIRNAME/../contrib/netns.sh"

require_root() {
	[ "$(id -u)" = 0 ] || skip "needs root for network namespaces (run: sudo make check)"
}

nsx() {
	ip netns exec "$NS" "$@"
}

ns_setup() {
	require_root
	NS="mmproxy-test-$$-${BATS_TEST_NUMBER}"
	netns_create "$NS"
}

# lb_setup: a load balancer's namespace, $LB, with a client address
# 198.51.100.20 on its loopback, joined to mmproxy's ($NS) by a veth pair:
# the balancer is 192.0.2.1, mmproxy 192.0.2.2.
lb_setup() {
	LB=$NS-lb
	ip netns add "$LB"
	ip -n "$LB" link set lo up
	ip -n "$NS" link add mm0 type veth peer name lb0 netns "$LB"
	ip -n "$NS" addr add 192.0.2.2/24 dev mm0
	ip -n "$LB" addr add 192.0.2.1/24 dev lb0
	ip -n "$LB" addr add 198.51.100.20/32 dev lo
	ip -n "$NS" link set mm0 up
	ip -n "$LB" link set lb0 up
}

# A sanitizer report anywhere (a worker's lands in mmproxy's log) fails
# the test, even if the client never noticed.
assert_no_sanitizer_report() {
	local f
	for f in "${MM_LOG:-}" "${BE4_LOG:-}" "${BE6_LOG:-}"; do
		[ -n "$f" ] && [ -f "$f" ] || continue
		if grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f"; then
			echo "sanitizer report in $f" >&2
			return 1
		fi
	done
}

ns_teardown() {
	[ -n "${NS:-}" ] || return 0
	netns_remove "$NS"
	assert_no_sanitizer_report
}

# wait_for DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local what=$1 i
	shift
	for i in $(seq 1 $((WAIT_SECONDS * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	echo "timed out after ${WAIT_SECONDS}s waiting for $what" >&2
	return 1
}

port_listening() {
	[ -n "$(nsx ss -Htln "sport = :$1")" ]
}

wait_port() {
	wait_for "port $1 to listen" port_listening "$1"
}

log_has() {
	grep -qE -- "$2" "$1" 2>/dev/null
}

# wait_log PATTERN [FILE]: an extended regex, in mmproxy's log by default.
wait_log() {
	wait_for "log line /$1/ in ${2:-$MM_LOG}" log_has "${2:-$MM_LOG}" "$1" || {
		echo "--- ${2:-$MM_LOG}" >&2
		cat "${2:-$MM_LOG}" >&2
		return 1
	}
}

# start_backends [MODE]: echo (default), drain or hello.
start_backends() {
	BE4_LOG=$BATS_TEST_TMPDIR/backend4.log
	BE6_LOG=$BATS_TEST_TMPDIR/backend6.log
	nsx "$BACKEND" --listen 127.0.0.1:4430 --mode "${1:-echo}" >"$BE4_LOG" 2>&1 3>&- &
	nsx "$BACKEND" --listen '[::1]:4430' --mode "${1:-echo}" >"$BE6_LOG" 2>&1 3>&- &
	wait_port 4430
}

# start_mmproxy [FLAGS...]: on 127.0.0.1:8443, -v 2, backends above.
start_mmproxy() {
	MM_LOG=$BATS_TEST_TMPDIR/mmproxy.log
	# Not through nsx: $! must be mmproxy itself, not a subshell.
	# MM_WRAP: a command to run it under, such as prlimit.
	ip netns exec "$NS" ${MM_WRAP:-} "$MMPROXY" -l 127.0.0.1:8443 -4 127.0.0.1:4430 \
	    -6 '[::1]:4430' -v 2 "$@" >"$MM_LOG" 2>&1 3>&- &
	MM_PID=$!
	# MM_START: the start line's pattern (-log-format json has its own).
	wait_log "${MM_START:-^start }"
	wait_port 8443
}

# stop_mmproxy: SIGTERM, and wait until it has exited (nothing to drain).
stop_mmproxy() {
	kill -TERM "$MM_PID"
	wait "$MM_PID" || true
}

# pp [pp_client options...]: a client connection to mmproxy.
pp() {
	nsx "$PP_CLIENT" "$@" 127.0.0.1:8443
}

backend_saw() {
	grep -q -- "accept peer=$1\$" "$BE4_LOG" "$BE6_LOG"
}

# Nothing reached either backend: not a connection, so not a byte.
refute_backend_connection() {
	if grep -h accept "$BE4_LOG" "$BE6_LOG"; then
		echo "the backend got a connection it should not have" >&2
		return 1
	fi
}

# A well-formed connection still works: the proxy survived what came before.
assert_still_serving() {
	run pp --text 'PROXY TCP4 203.0.113.9 127.0.0.1 41000 8443\r\nstill here\n' --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "still here" ]
	backend_saw 203.0.113.9:41000
}

worker_pids() {
	pgrep -P "$MM_PID" | xargs
}

# All of the pids have exited.  A zombie counts as gone: in some sandboxes
# pid 1 does not reap the orphans it inherits.
processes_gone() {
	local p state
	for p in "$@"; do
		state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$p/stat" 2>/dev/null || true)
		[ -z "$state" ] || [ "$state" = Z ] || return 1
	done
}

# The number of connections waiting in the listener's accept queue.
accept_queue() {
	nsx ss -Htln "sport = :$1" | awk '{ n += $2 } END { print n + 0 }'
}

# ---- UDP (-p udp) ----

udp_port_bound() {
	[ -n "$(nsx ss -Hlun "sport = :$1")" ]
}

# start_udp_backends [MODE]: hello (default), echo or drain, on UDP 4430.
start_udp_backends() {
	BE4_LOG=$BATS_TEST_TMPDIR/backend4.log
	BE6_LOG=$BATS_TEST_TMPDIR/backend6.log
	nsx "$BACKEND" --udp --listen 127.0.0.1:4430 --mode "${1:-hello}" >"$BE4_LOG" 2>&1 3>&- &
	nsx "$BACKEND" --udp --listen '[::1]:4430' --mode "${1:-hello}" >"$BE6_LOG" 2>&1 3>&- &
	wait_for "UDP backends on 4430" eval '[ "$(nsx ss -Hlun "sport = :4430" | wc -l)" -eq 2 ]'
}

# start_udp_mmproxy [FLAGS...]: -p udp on 127.0.0.1:8443 (unless -l is
# given), -v 2, the backends above.
start_udp_mmproxy() {
	local listen=(-l 127.0.0.1:8443)
	[[ " $* " == *" -l "* ]] && listen=()
	MM_LOG=$BATS_TEST_TMPDIR/mmproxy.log
	ip netns exec "$NS" "$MMPROXY" -p udp "${listen[@]}" -4 127.0.0.1:4430 \
	    -6 '[::1]:4430' -v 2 "$@" >"$MM_LOG" 2>&1 3>&- &
	MM_PID=$!
	wait_log '^start '
	wait_for "UDP port 8443" udp_port_bound 8443
}

# udp [udp_client options...]: datagrams to mmproxy (127.0.0.1:8443).
udp() {
	nsx "$UDP_CLIENT" "$@" 127.0.0.1:8443
}

# The backends got no datagram at all.
refute_backend_datagram() {
	if grep -h '^dgram ' "$BE4_LOG" "$BE6_LOG"; then
		echo "a backend got a datagram it should not have" >&2
		return 1
	fi
}
