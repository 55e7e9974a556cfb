#!/usr/bin/env bash
# make bench: the same load against no proxy, mmproxy and go-mmproxy, in
# one run, in a network namespace; medians of --runs runs.
#
#   contrib/bench/run.sh BUILD_DIR [--duration S] [--conns N] [--runs R]
#       [--idle N] [--targets "direct mmproxy go-mmproxy"]
#       [--modes "stream pingpong connect udp"] [--out FILE]
#
# Prints a table (like go-mmproxy's README) with each row's ratio to no
# proxy and mmproxy's ratio to go-mmproxy, and writes every number to
# FILE (JSON, default BUILD_DIR/bench/results.json).
set -euo pipefail

BUILD=${1:?usage: run.sh BUILD_DIR [options]}
shift
DURATION=3 CONNS=50 RUNS=3 IDLE=1000
TARGETS="direct mmproxy go-mmproxy"
MODES="stream pingpong connect udp"
OUT=$BUILD/bench/results.json
while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=$2 ;;
	--conns) CONNS=$2 ;;
	--runs) RUNS=$2 ;;
	--idle) IDLE=$2 ;;
	--targets) TARGETS=$2 ;;
	--modes) MODES=$2 ;;
	--out) OUT=$2 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift 2
done

for t in $TARGETS; do
	case $t in direct|mmproxy|go-mmproxy) ;; *) echo "run.sh: unknown target $t" >&2; exit 2 ;; esac
done
for m in $MODES; do
	case $m in stream|pingpong|connect|udp) ;; *) echo "run.sh: unknown mode $m" >&2; exit 2 ;; esac
done

if [ "$(id -u)" -ne 0 ]; then
	echo "mmproxy bench: needs root for a network namespace: run sudo make bench" >&2
	exit 1
fi
GO_MMPROXY=/usr/bin/go-mmproxy
if [[ " $TARGETS " == *" go-mmproxy "* ]] && [ ! -x "$GO_MMPROXY" ]; then
	if command -v apt-get >/dev/null; then
		echo "installing go-mmproxy for the comparison (apt-get install go-mmproxy)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq go-mmproxy >/dev/null 2>&1 || true
	fi
	if [ ! -x "$GO_MMPROXY" ]; then
		echo "mmproxy bench: no $GO_MMPROXY: its row is left out" >&2
		TARGETS=${TARGETS/go-mmproxy/}
	fi
fi

NS=mmproxy-bench-$$
TMP=$(mktemp -d)
LOADGEN=$BUILD/bench/loadgen
ECHO=$BUILD/bench/echo
PORT_DIRECT=4430 PORT_PROXY=8443
# Two cores or more: the proxy gets its own.  The load and the backend
# share the other, as tcpkali and bpf-echo shared one machine for
# go-mmproxy's own numbers.
if [ "$(nproc)" -ge 2 ]; then
	PIN_LOAD="taskset -c 0" PIN_PROXY="taskset -c 1"
	PINNING="load generator and echo backend on CPU 0, proxy on CPU 1"
else
	PIN_LOAD="" PIN_PROXY=""
	PINNING="one CPU: no pinning"
fi

. "$(dirname "$0")/../netns.sh"

cleanup() {
	netns_remove "$NS"
	[ -n "${BENCH_KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT

in_ns() {
	ip netns exec "$NS" "$@"
}

wait_port() {
	netns_wait_listening "$NS" "$1" && return 0
	echo "mmproxy bench: nothing listens on port $1" >&2
	exit 1
}

netns_create "$NS"
# connect-rate closes thousands of connections a second.  Ephemeral ports
# stay above the PROXY sources' ports (see loadgen.c).
in_ns sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="32768 65535"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true	# go-mmproxy holds two fds a connection
# Not through in_ns: a backgrounded function is a subshell that would
# report the backend's death at cleanup.
ip netns exec "$NS" $PIN_LOAD "$ECHO" 127.0.0.1:$PORT_DIRECT &
ECHO_PID=$!
disown
wait_port $PORT_DIRECT

PROXY_PID=
start_target() {
	case $1 in
	direct) TARGET_PORT=$PORT_DIRECT; PROXY_PID=; return ;;
	# Not through in_ns: $! must be the proxy itself (ip and taskset exec).
	mmproxy) ip netns exec "$NS" $PIN_PROXY "$BUILD/mmproxy" -l 127.0.0.1:$PORT_PROXY \
	    -4 127.0.0.1:$PORT_DIRECT -max-conns $((IDLE + 100)) ${MMPROXY_FLAGS:-} \
	    >"$TMP/proxy.log" 2>&1 & ;;
	go-mmproxy) ip netns exec "$NS" $PIN_PROXY "$GO_MMPROXY" -l 127.0.0.1:$PORT_PROXY \
	    -4 127.0.0.1:$PORT_DIRECT >"$TMP/proxy.log" 2>&1 & ;;
	esac
	PROXY_PID=$!
	TARGET_PORT=$PORT_PROXY
	wait_port $PORT_PROXY
}

# The same proxy for UDP (-p udp).  Returns 1, with the proxy's first
# line in $TMP/proxy.log, when it does not serve UDP.
start_udp_target() {
	local i
	case $1 in
	direct) TARGET_PORT=$PORT_DIRECT; PROXY_PID=; return 0 ;;
	mmproxy) ip netns exec "$NS" $PIN_PROXY "$BUILD/mmproxy" -p udp \
	    -l 127.0.0.1:$PORT_PROXY -4 127.0.0.1:$PORT_DIRECT >"$TMP/proxy.log" 2>&1 & ;;
	go-mmproxy) ip netns exec "$NS" $PIN_PROXY "$GO_MMPROXY" -p udp \
	    -l 127.0.0.1:$PORT_PROXY -4 127.0.0.1:$PORT_DIRECT >"$TMP/proxy.log" 2>&1 & ;;
	esac
	PROXY_PID=$!
	TARGET_PORT=$PORT_PROXY
	for i in $(seq 1 100); do
		[ -n "$(in_ns ss -Hlun "sport = :$PORT_PROXY")" ] && return 0
		if ! kill -0 "$PROXY_PID" 2>/dev/null; then
			wait "$PROXY_PID" 2>/dev/null || true
			PROXY_PID=
			return 1
		fi
		sleep 0.1
	done
	echo "mmproxy bench: $1 -p udp does not listen on port $PORT_PROXY" >&2
	exit 1
}

stop_target() {
	local i
	[ -n "$PROXY_PID" ] || return 0
	kill "$PROXY_PID" 2>/dev/null || true
	wait "$PROXY_PID" 2>/dev/null || true
	# mmproxy's workers too: the next row must not see them exit.
	for i in $(seq 1 100); do
		[ -z "$(ip netns pids "$NS" | grep -vx "$ECHO_PID")" ] && break
		sleep 0.1
	done
	for i in $(seq 1 100); do
		[ -z "$(in_ns ss -Htln "sport = :$PORT_PROXY")" ] && break
		sleep 0.1
	done
	PROXY_PID=
}

# Each run claims fresh client sources (see loadgen.c).
UID_BASE=0
UID_FILE=$TMP/uids

# loadgen MODE -> its key=value line
loadgen() {
	local proxy=v1 line
	[ "$TARGET_PORT" = $PORT_DIRECT ] && proxy=none
	if ! line=$(in_ns $PIN_LOAD "$LOADGEN" --target 127.0.0.1:$TARGET_PORT --mode "$1" \
	    --conns "$CONNS" --duration "$DURATION" --proxy $proxy --uid-base "$UID_BASE") ||
	    [ -z "$(field uids "$line")" ]; then
		echo "mmproxy bench: the load generator failed in mode $1: $line" >&2
		exit 1
	fi
	echo $((UID_BASE + $(field uids "$line"))) >"$UID_FILE"
	echo "$line"
}

# MemAvailable moves with the page cache: average five samples.
mem_available_kb() {
	local i sum=0
	for i in 1 2 3 4 5; do
		sum=$((sum + $(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)))
		sleep 0.1
	done
	echo $((sum / 5))
}

# MemAvailable once it holds still: memory of the previous row (exited
# processes, closed sockets) comes back through deferred work for a while.
settled_mem_kb() {
	local a b i
	a=$(mem_available_kb)
	for i in $(seq 1 20); do
		sleep 0.5
		b=$(mem_available_kb)
		[ $((a > b ? a - b : b - a)) -lt 512 ] && break
		a=$b
	done
	echo "$b"
}

# After a row: wait (30 s at most) until MemAvailable is back where it was
# before that row's connections.  A thousand exiting processes give their
# memory back late, and the next row would count it as its own saving.
mem_recovered() {
	local before i
	before=$(cat "$TMP/mem_before")
	for i in $(seq 1 60); do
		[ "$(mem_available_kb)" -ge $((before - 2048)) ] && return 0
		sleep 0.4
	done
}

# What processes and sockets hold, by the kernel's own counters: user
# pages, kernel stacks, page tables and slab.  Unlike MemAvailable it does
# not move with the page cache: a cross-check of mem_drop_kb.
accounted_kb() {
	awk '/^(AnonPages|KernelStack|PageTables|Slab):/ { s += $2 } END { print s }' /proc/meminfo
}

# The proxy's own PSS: the process and its children (mmproxy's workers).
proxy_pss_kb() {
	local pids="" total=0 p v
	[ -n "$PROXY_PID" ] || { echo 0; return; }
	pids="$PROXY_PID $(pgrep -P "$PROXY_PID" | xargs)"
	for p in $pids; do
		v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
		total=$((total + ${v:-0}))
	done
	echo $total
}

upstream_conns() {
	in_ns ss -Htn state established "dst 127.0.0.1:$PORT_DIRECT" | wc -l
}

# Memory per idle connection: IDLE connections that sent their header.
idle_memory() {
	local before pss_before acct_before after pss_after acct_after i lg up
	before=$(settled_mem_kb)
	echo "$before" >"$TMP/mem_before"
	acct_before=$(accounted_kb)
	pss_before=$(proxy_pss_kb)
	local proxy=v1
	[ "$TARGET_PORT" = $PORT_DIRECT ] && proxy=none
	ip netns exec "$NS" $PIN_LOAD "$LOADGEN" --target 127.0.0.1:$TARGET_PORT \
	    --mode idle --conns "$IDLE" --proxy $proxy --uid-base "$UID_BASE" \
	    >"$TMP/idle.out" 2>&1 &
	lg=$!	# the loadgen itself: it must really stop before the next row
	for i in $(seq 1 300); do
		grep -q '^ready' "$TMP/idle.out" && [ "$(upstream_conns)" -ge "$IDLE" ] && break
		sleep 0.1
	done
	after=$(settled_mem_kb)
	acct_after=$(accounted_kb)
	pss_after=$(proxy_pss_kb)
	up=$(upstream_conns)
	kill "$lg"
	wait "$lg" 2>/dev/null || true
	echo "mem_drop_kb=$((before - after)) accounted_kb=$((acct_after - acct_before))" \
	    "pss_kb=$((pss_after - pss_before)) upstream=$up"
}

field() {	# field KEY LINE
	sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A RAW
echo "mmproxy bench: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $PINNING"
echo "  $CONNS connections, ${DURATION}s per mode, median of $RUNS runs, $IDLE idle connections; $(date -u +%Y-%m-%d)"
# Memory first, on a quiet system: the connect-rate rows leave tens of
# thousands of sockets in TIME_WAIT, and MemAvailable would climb under the
# measurement as they expire.
for run in $(seq 1 "$RUNS"); do
	for t in $TARGETS; do
		start_target "$t"
		RAW[$t,idle,$run]=$(idle_memory)
		UID_BASE=$((UID_BASE + IDLE))
		printf '  run %d %-10s idle %s\n' "$run" "$t" "${RAW[$t,idle,$run]}"
		stop_target
		mem_recovered
	done
done
for run in $(seq 1 "$RUNS"); do
	[ -n "$MODES" ] || break
	for t in $TARGETS; do
		start_target "$t"
		for m in $MODES; do
			[ "$m" != udp ] || continue
			line=$(loadgen $m)
			UID_BASE=$(cat "$UID_FILE")
			RAW[$t,$m,$run]=$line
			printf '  run %d %-10s %s\n' "$run" "$t" "$line"
		done
		stop_target
		[[ " $MODES " == *" udp "* ]] || continue
		if start_udp_target "$t"; then
			line=$(loadgen udp)
			UID_BASE=$(cat "$UID_FILE")
		else
			line="unsupported: $(head -1 "$TMP/proxy.log")"
		fi
		RAW[$t,udp,$run]=$line
		printf '  run %d %-10s %s\n' "$run" "$t" "$line"
		stop_target
	done
done

declare -A MED
metrics="stream:up_mbps stream:down_mbps stream:up_msgs stream:down_msgs pingpong:ops pingpong:p50_us pingpong:p99_us connect:ops connect:p50_us connect:p99_us udp:ops udp:p99_us udp:lost"
for t in $TARGETS; do
	for mk in $metrics; do
		m=${mk%%:*} k=${mk#*:}
		MED[$t,$m,$k]=$(for run in $(seq 1 "$RUNS"); do field "$k" "${RAW[$t,$m,$run]:-}"; done | median)
	done
	# "-" where the proxy does not serve UDP.
	if [[ "${RAW[$t,udp,1]:-unsupported}" == unsupported* ]]; then
		MED[$t,udp_dps]=- MED[$t,udp_lost]=- MED[$t,udp_json]=null
	else
		MED[$t,udp_dps]=$(printf '%.0f' "${MED[$t,udp,ops]}") MED[$t,udp_lost]=${MED[$t,udp,lost]}
		MED[$t,udp_json]=${MED[$t,udp,ops]}
	fi
	MED[$t,both_mbps]=$(awk -v a="${MED[$t,stream,up_mbps]}" -v b="${MED[$t,stream,down_mbps]}" 'BEGIN { print a + b }')
	MED[$t,mem_kb]=$(for run in $(seq 1 "$RUNS"); do field mem_drop_kb "${RAW[$t,idle,$run]}"; done | median)
	MED[$t,pss_kb]=$(for run in $(seq 1 "$RUNS"); do field pss_kb "${RAW[$t,idle,$run]}"; done | median)
	MED[$t,acct_kb]=$(for run in $(seq 1 "$RUNS"); do field accounted_kb "${RAW[$t,idle,$run]}"; done | median)
done
if [[ " $TARGETS " == *" direct "* ]]; then
	base=${MED[direct,mem_kb]}
	for t in $TARGETS; do
		MED[$t,mem_net]=$(awk -v a="${MED[$t,mem_kb]}" -v b="$base" -v n="$IDLE" 'BEGIN { printf "%.1f", (a - b) / n }')
		MED[$t,acct_net]=$(awk -v a="${MED[$t,acct_kb]}" -v b="${MED[direct,acct_kb]}" -v n="$IDLE" 'BEGIN { printf "%.1f", (a - b) / n }')
	done
fi

name() {
	case $1 in direct) echo "no proxy" ;; *) echo "$1" ;; esac
}

echo
printf '| %-10s | %9s | %9s | %9s | %10s | %10s | %9s | %7s | %7s | %8s | %8s | %8s | %9s | %8s | %8s | %9s | %6s |\n' \
    "" "⇅ Mbps" "↓ Mbps" "↑ Mbps" "↓ msg/s" "↑ msg/s" "req/s" "p50 us" "p99 us" "conn/s" "TTFB us" "p99 us" "idle KB" "kern KB" "PSS KB" "UDP dg/s" "lost"
printf '|%s|\n' "------------|-----------|-----------|-----------|------------|------------|-----------|---------|---------|----------|----------|----------|-----------|----------|----------|-----------|--------"
for t in $TARGETS; do
	printf '| %-10s | %9.0f | %9.0f | %9.0f | %10.0f | %10.0f | %9.0f | %7.0f | %7.0f | %8.0f | %8.0f | %8.0f | %9s | %8s | %8s | %9s | %6s |\n' \
	    "$(name "$t")" "${MED[$t,both_mbps]}" "${MED[$t,stream,down_mbps]}" "${MED[$t,stream,up_mbps]}" \
	    "${MED[$t,stream,down_msgs]}" "${MED[$t,stream,up_msgs]}" "${MED[$t,pingpong,ops]}" \
	    "${MED[$t,pingpong,p50_us]}" "${MED[$t,pingpong,p99_us]}" "${MED[$t,connect,ops]}" \
	    "${MED[$t,connect,p50_us]}" "${MED[$t,connect,p99_us]}" "${MED[$t,mem_net]:--}" \
	    "${MED[$t,acct_net]:--}" "$(awk -v p="${MED[$t,pss_kb]}" -v n="$IDLE" 'BEGIN { printf "%.1f", p / n }')" \
	    "${MED[$t,udp_dps]}" "${MED[$t,udp_lost]}"
done
echo
ratio() {	# ratio A B
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "null" || b == "null" || b == 0) print "-"; else printf "%.2f", a / b }'
}
ratios_of() {	# ratios_of X Y: X's numbers over Y's
	printf '  %-24s ⇅ %s  ↓ %s  ↑ %s  req/s %s  p99 %s  conn/s %s  idle KB %s  kern KB %s  PSS %s  UDP dg/s %s\n' "$(name "$1") / $(name "$2"):" \
	    "$(ratio "${MED[$1,both_mbps]}" "${MED[$2,both_mbps]}")" \
	    "$(ratio "${MED[$1,stream,down_mbps]}" "${MED[$2,stream,down_mbps]}")" \
	    "$(ratio "${MED[$1,stream,up_mbps]}" "${MED[$2,stream,up_mbps]}")" \
	    "$(ratio "${MED[$1,pingpong,ops]}" "${MED[$2,pingpong,ops]}")" \
	    "$(ratio "${MED[$1,pingpong,p99_us]}" "${MED[$2,pingpong,p99_us]}")" \
	    "$(ratio "${MED[$1,connect,ops]}" "${MED[$2,connect,ops]}")" \
	    "$(ratio "${MED[$1,mem_net]:-0}" "${MED[$2,mem_net]:-0}")" \
	    "$(ratio "${MED[$1,acct_net]:-0}" "${MED[$2,acct_net]:-0}")" \
	    "$(ratio "${MED[$1,pss_kb]}" "${MED[$2,pss_kb]}")" \
	    "$(ratio "${MED[$1,udp_json]}" "${MED[$2,udp_json]}")"
}
echo "Ratios (medians):"
for t in $TARGETS; do
	[ "$t" = direct ] || [[ " $TARGETS " != *" direct "* ]] || ratios_of "$t" direct
done
if [[ " $TARGETS " == *" mmproxy "* && " $TARGETS " == *" go-mmproxy "* ]]; then
	ratios_of mmproxy go-mmproxy
fi

mkdir -p "$(dirname "$OUT")"
{
	printf '{\n  "date": "%s",\n  "cpus": %d,\n  "pinning": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" "$PINNING"
	printf '  "conns": %d, "duration_s": %s, "runs": %d, "idle_conns": %d,\n  "medians": {\n' "$CONNS" "$DURATION" "$RUNS" "$IDLE"
	first=1
	for t in $TARGETS; do
		[ $first -eq 1 ] || printf ',\n'
		first=0
		printf '    "%s": {"stream_up_mbps": %s, "stream_down_mbps": %s, "pingpong_rps": %s, "pingpong_p50_us": %s, "pingpong_p99_us": %s, "connect_cps": %s, "connect_p50_us": %s, "connect_p99_us": %s, "idle_memavailable_kb_per_conn": %s, "idle_accounted_kb_per_conn": %s, "idle_pss_kb_per_conn": %s, "udp_dps": %s, "udp_p99_us": %s, "udp_lost": %s}' \
		    "$t" "${MED[$t,stream,up_mbps]}" "${MED[$t,stream,down_mbps]}" "${MED[$t,pingpong,ops]}" \
		    "${MED[$t,pingpong,p50_us]}" "${MED[$t,pingpong,p99_us]}" "${MED[$t,connect,ops]}" \
		    "${MED[$t,connect,p50_us]}" "${MED[$t,connect,p99_us]}" "${MED[$t,mem_net]:-null}" \
		    "${MED[$t,acct_net]:-null}" "$(awk -v p="${MED[$t,pss_kb]}" -v n="$IDLE" 'BEGIN { printf "%.1f", p / n }')" \
		    "${MED[$t,udp_json]}" "$([ "${MED[$t,udp_json]}" = null ] && echo null || echo "${MED[$t,udp,p99_us]}")" \
		    "$([ "${MED[$t,udp_json]}" = null ] && echo null || echo "${MED[$t,udp,lost]}")"
	done
	printf '\n  },\n  "raw": [\n'
	first=1
	for key in "${!RAW[@]}"; do
		[ $first -eq 1 ] || printf ',\n'
		first=0
		printf '    {"run": "%s", "result": "%s"}' "$key" "${RAW[$key]}"
	done
	printf '\n  ]\n}\n'
} >"$OUT"
echo "results: $OUT"
