#!/usr/bin/env bash
# make bench: the same load against no proxy, mmproxy and go-mmproxy, in
# one run, in a network namespace; medians of --runs runs.
#
#   contrib/bench/run.sh BUILD_DIR [--lean DIR | --glibc DIR] [--duration S]
#       [--conns N] [--runs R] [--idle "N ..."] [--scale "C ..."]
#       [--scale-runs R] [--targets "direct mmproxy mmproxy-lean go-mmproxy"]
#
# --lean DIR (target mmproxy-lean) or --glibc DIR (target mmproxy-glibc):
# the other image's build, beside BUILD_DIR's, with a floor of its own.
#       [--modes "stream pingpong connect udp udp-spp"] [--pin] [--out FILE]
#
# Unpinned by default: the proxy, the echo backend and the load generator
# share every CPU, as mmproxy shares its host with its backend in
# production (HAZARDS 20: a pinned run hides what spinning costs the
# backend).  --pin gives the proxy a CPU of its own, labelled as such.
# Every run of every mode gets a fresh proxy, and each row carries the
# proxy's CPU per unit of work: the utime+stime of the proxy, its workers
# and the workers it reaped, over the run.
#
# Prints a table (like go-mmproxy's README) with each row's ratio to no
# proxy and mmproxy's ratio to go-mmproxy, then a scaling table: memory
# per idle connection at each --idle count (beside the floor of a bare
# process of each image) and ping-pong at each --scale count of
# connections.  The first --idle count and --conns are the main table's,
# with --runs runs; the other idle counts get --scale-runs.  Writes every
# number to FILE (JSON, default BUILD_DIR/bench/results.json) and, when
# gnuplot is installed, the scaling charts next to it as PNG.
set -euo pipefail

BUILD=${1:?usage: run.sh BUILD_DIR [options]}
shift
DURATION=3 CONNS=50 RUNS=3 IDLES="1000 10000" SCALE="1 10 50 200" SCALE_RUNS=1
ALT_DIR=	# the other image's build directory
ALT=mmproxy-lean ALT_FLOOR=floor-lean
TARGETS=
MODES="stream pingpong connect udp udp-spp"
OUT=$BUILD/bench/results.json
PIN=0
while [ $# -gt 0 ]; do
	case $1 in
	--pin) PIN=1; shift; continue ;;
	--lean) ALT_DIR=$2 ALT=mmproxy-lean ALT_FLOOR=floor-lean ;;
	--glibc) ALT_DIR=$2 ALT=mmproxy-glibc ALT_FLOOR=floor-glibc ;;
	--duration) DURATION=$2 ;;
	--conns) CONNS=$2 ;;
	--runs) RUNS=$2 ;;
	--idle) IDLES=$2 ;;
	--scale) SCALE=$2 ;;
	--scale-runs) SCALE_RUNS=$2 ;;
	--targets) TARGETS=$2 ;;
	--modes) MODES=$2 ;;
	--out) OUT=$2 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift 2
done

if [ -z "$TARGETS" ]; then
	TARGETS="direct mmproxy${ALT_DIR:+ $ALT} go-mmproxy"
fi
for t in $TARGETS; do
	case $t in direct|mmproxy|go-mmproxy) ;;
	"$ALT") [ -x "$ALT_DIR/mmproxy" ] || { echo "run.sh: $ALT needs --lean or --glibc DIR with DIR/mmproxy" >&2; exit 2; } ;;
	*) echo "run.sh: unknown target $t" >&2; exit 2 ;; esac
done
IDLE=${IDLES%% *}	# the main table's
IDLE_MAX=0
for n in $IDLES; do [ "$n" -gt "$IDLE_MAX" ] && IDLE_MAX=$n; done
for m in $MODES; do
	case $m in stream|pingpong|connect|udp|udp-spp) ;; *) echo "run.sh: unknown mode $m" >&2; exit 2 ;; esac
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
# --pin, with two cores or more: the proxy gets its own; the load and the
# backend share the other, as tcpkali and bpf-echo shared one machine for
# go-mmproxy's own numbers.  Not how users run it: labelled as such.
PIN_LOAD="" PIN_PROXY=""
PINNING="unpinned: proxy, backend and load generator share all $(nproc) CPUs, as in production"
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ]; then
	PIN_LOAD="taskset -c 0" PIN_PROXY="taskset -c 1"
	PINNING="PINNED (--pin, not the production shape): load generator and echo backend on CPU 0, proxy on CPU 1"
elif [ "$PIN" = 1 ]; then
	PINNING="one CPU: --pin ignored"
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
# go-mmproxy holds two fds a connection, mmproxy's supervisor one a worker.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# Not through in_ns: a backgrounded function is a subshell that would
# report the backend's death at cleanup.
ip netns exec "$NS" $PIN_LOAD "$ECHO" 127.0.0.1:$PORT_DIRECT &
ECHO_PID=$!
disown
wait_port $PORT_DIRECT

# The binary of an mmproxy target: the build's, or the other image's.
mmproxy_of() {
	case $1 in "$ALT") echo "$ALT_DIR/mmproxy" ;; *) echo "$BUILD/mmproxy" ;; esac
}

PROXY_PID=
start_target() {
	case $1 in
	direct) TARGET_PORT=$PORT_DIRECT; PROXY_PID=; return ;;
	# Not through in_ns: $! must be the proxy itself (ip and taskset exec).
	mmproxy|"$ALT") ip netns exec "$NS" $PIN_PROXY "$(mmproxy_of "$1")" \
	    -l 127.0.0.1:$PORT_PROXY -4 127.0.0.1:$PORT_DIRECT -max-conns $((IDLE_MAX + 100)) \
	    -drain-timeout 0 \
	    ${MMPROXY_FLAGS:-} >"$TMP/proxy.log" 2>&1 & ;;
	go-mmproxy) ip netns exec "$NS" $PIN_PROXY "$GO_MMPROXY" -l 127.0.0.1:$PORT_PROXY \
	    -4 127.0.0.1:$PORT_DIRECT >"$TMP/proxy.log" 2>&1 & ;;
	esac
	PROXY_PID=$!
	TARGET_PORT=$PORT_PROXY
	wait_port $PORT_PROXY
}

# The same proxy for UDP (-p udp; MODE udp-spp: -udp-framing spp).
# Returns 1, with the proxy's first line in $TMP/proxy.log, when it does
# not serve UDP (so framed).
start_udp_target() {	# start_udp_target TARGET MODE
	local i framing=()
	[ "$2" = udp-spp ] && framing=(-udp-framing spp)
	case $1 in
	direct) TARGET_PORT=$PORT_DIRECT; PROXY_PID=; return 0 ;;
	mmproxy|"$ALT") ip netns exec "$NS" $PIN_PROXY "$(mmproxy_of "$1")" -p udp \
	    "${framing[@]}" -l 127.0.0.1:$PORT_PROXY -4 127.0.0.1:$PORT_DIRECT -drain-timeout 0 \
	    ${MMPROXY_FLAGS:-} >"$TMP/proxy.log" 2>&1 & ;;
	go-mmproxy)
		if [ "$2" = udp-spp ]; then
			echo "go-mmproxy has no SPP" >"$TMP/proxy.log"
			PROXY_PID=
			return 1
		fi
		ip netns exec "$NS" $PIN_PROXY "$GO_MMPROXY" -p udp \
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

# mmproxy runs with -drain-timeout 0: like go-mmproxy, it stops at once
# (a UDP flow of the run would otherwise hold the drain for its 30 s).
stop_target() {
	local i
	[ -n "$PROXY_PID" ] || return 0
	kill "$PROXY_PID" 2>/dev/null || true
	wait "$PROXY_PID" 2>/dev/null || true
	# mmproxy's workers too: the next row must not see them exit.
	for i in $(seq 1 600); do
		[ -z "$(ip netns pids "$NS" | grep -vx "$ECHO_PID")" ] && break
		sleep 0.1
	done
	for i in $(seq 1 100); do
		[ -z "$(in_ns ss -Htln "sport = :$PORT_PROXY")" ] && break
		sleep 0.1
	done
	PROXY_PID=
}

# The proxy's CPU time in microseconds: utime+stime of the proxy and of
# every live descendant (mmproxy's workers), plus cutime+cstime, the time
# of the children it has already reaped.  Parents are read before their
# children: a child reaped between the two reads is missed (a few ticks at
# most, and only while workers exit), never counted twice.
CLK_TCK=$(getconf CLK_TCK)
proxy_cpu_us() {
	local pids frontier kids p f ticks=0
	[ -n "$PROXY_PID" ] || { echo 0; return; }
	pids=$PROXY_PID frontier=$PROXY_PID
	while [ -n "$frontier" ]; do
		kids=$(for p in $frontier; do pgrep -P "$p" || true; done | xargs)
		pids="$pids $kids" frontier=$kids
	done
	for p in $pids; do
		# Fields after the command's ")": utime is the 12th, then
		# stime, cutime, cstime.
		f=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
		# shellcheck disable=SC2086
		set -- $f
		ticks=$((ticks + ${12} + ${13} + ${14} + ${15}))
	done
	echo $((ticks * 1000000 / CLK_TCK))
}

# cpu_per_op MODE LINE CPU_US: the proxy's CPU per unit of work: us per
# request (pingpong), per connection (connect), per datagram (udp), per MB
# both ways (stream).
cpu_per_op() {
	awk -v m="$1" -v cpu="$3" -v s="$(field seconds "$2")" -v ops="$(field ops "$2")" \
	    -v up="$(field up_mbps "$2")" -v down="$(field down_mbps "$2")" 'BEGIN {
		work = (m == "stream") ? (up + down) * s / 8 : ops * s
		if (work > 0) printf "%.1f", cpu / work; else print "-"
	}'
}

# Each run claims fresh client sources (see loadgen.c).
UID_BASE=0
UID_FILE=$TMP/uids

# loadgen MODE [CONNS] -> its key=value line
loadgen() {
	local proxy=v1 mode=$1 line cpu0
	[ "$mode" = udp-spp ] && mode=udp proxy=spp
	[ "$TARGET_PORT" = $PORT_DIRECT ] && proxy=none
	cpu0=$(proxy_cpu_us)
	if ! line=$(in_ns $PIN_LOAD "$LOADGEN" --target 127.0.0.1:$TARGET_PORT --mode "$mode" \
	    --conns "${2:-$CONNS}" --duration "$DURATION" --proxy $proxy --uid-base "$UID_BASE") ||
	    [ -z "$(field uids "$line")" ]; then
		echo "mmproxy bench: the load generator failed in mode $1: $line" >&2
		exit 1
	fi
	echo $((UID_BASE + $(field uids "$line"))) >"$UID_FILE"
	[ "$proxy" != spp ] || line="$line framing=spp"
	if [ -n "$PROXY_PID" ]; then
		cpu0=$(($(proxy_cpu_us) - cpu0))
		line="$line cpu_us=$cpu0 cpu_per_op=$(cpu_per_op "$1" "$line" "$cpu0")"
	fi
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

# Memory per idle connection: N connections that sent their header.
idle_memory() {	# idle_memory N
	local n=$1 before pss_before acct_before after pss_after acct_after i lg up
	before=$(settled_mem_kb)
	echo "$before" >"$TMP/mem_before"
	acct_before=$(accounted_kb)
	pss_before=$(proxy_pss_kb)
	local proxy=v1
	[ "$TARGET_PORT" = $PORT_DIRECT ] && proxy=none
	ip netns exec "$NS" $PIN_LOAD "$LOADGEN" --target 127.0.0.1:$TARGET_PORT \
	    --mode idle --conns "$n" --proxy $proxy --uid-base "$UID_BASE" \
	    >"$TMP/idle.out" 2>&1 &
	lg=$!	# the loadgen itself: it must really stop before the next row
	# 30 s, and more for more connections (a worker each to start).
	for i in $(seq 1 $((300 + n / 10))); do
		grep -q '^ready' "$TMP/idle.out" && [ "$(upstream_conns)" -ge "$n" ] && break
		sleep 0.1
	done
	after=$(settled_mem_kb)
	acct_after=$(accounted_kb)
	pss_after=$(proxy_pss_kb)
	up=$(upstream_conns)
	kill "$lg"
	wait "$lg" 2>/dev/null || true
	# Connections that never reached the backend make the row meaningless:
	# keep the proxy's last word on why.
	[ "$up" -ge "$n" ] || tail -1 "$TMP/proxy.log" 2>/dev/null | cut -c1-160 >"$TMP/short-$n"
	echo "mem_drop_kb=$((before - after)) accounted_kb=$((acct_after - acct_before))" \
	    "pss_kb=$((pss_after - pss_before)) upstream=$up"
}

# The floor: N bare sleeping processes, each a fresh image of the build's
# floor tool (contrib/bench/floor.c), built like mmproxy.
floor_memory() {	# floor_memory BUILD_DIR N
	local before acct_before after acct_after i fl
	before=$(settled_mem_kb)
	echo "$before" >"$TMP/mem_before"
	acct_before=$(accounted_kb)
	$PIN_PROXY "$1/bench/floor" "$2" >"$TMP/floor.out" 2>&1 &
	fl=$!
	for i in $(seq 1 $((300 + $2 / 10))); do
		grep -q '^ready' "$TMP/floor.out" && break
		sleep 0.1
	done
	after=$(settled_mem_kb)
	acct_after=$(accounted_kb)
	kill "$fl"
	wait "$fl" 2>/dev/null || true
	grep -q '^ready' "$TMP/floor.out" || { echo "mmproxy bench: $1/bench/floor $2 did not start" >&2; exit 1; }
	echo "mem_drop_kb=$((before - after)) accounted_kb=$((acct_after - acct_before))"
}

field() {	# field KEY LINE
	sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A RAW SHORT
echo "mmproxy bench: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $PINNING"
echo "  $CONNS connections, ${DURATION}s per mode, median of $RUNS runs, $IDLE idle connections; $(date -u +%Y-%m-%d)"
echo "  scaling: idle connections $IDLES, ping-pong connections $SCALE (median of $SCALE_RUNS run(s) beyond the main table's)"
FLOORS="floor${ALT_DIR:+ $ALT_FLOOR}"
floor_dir() {
	case $1 in "$ALT_FLOOR") echo "$ALT_DIR" ;; *) echo "$BUILD" ;; esac
}
# Memory first, on a quiet system: the connect-rate rows leave tens of
# thousands of sockets in TIME_WAIT, and MemAvailable would climb under the
# measurement as they expire.
for n in $IDLES; do
	runs=$RUNS
	[ "$n" = "$IDLE" ] || runs=$SCALE_RUNS
	for run in $(seq 1 "$runs"); do
		for t in $TARGETS; do
			start_target "$t"
			RAW[$t,idle$n,$run]=$(idle_memory "$n")
			if [ -f "$TMP/short-$n" ]; then
				SHORT[$t,$n]="$(field upstream "${RAW[$t,idle$n,$run]}") of $n connections reached the backend; the proxy's last line: $(cat "$TMP/short-$n")"
				rm -f "$TMP/short-$n"
			fi
			UID_BASE=$((UID_BASE + n))
			printf '  run %d %-12s idle %s\n' "$run" "$t" "${RAW[$t,idle$n,$run]}"
			stop_target
			mem_recovered
		done
		for f in $FLOORS; do
			RAW[$f,idle$n,$run]=$(floor_memory "$(floor_dir "$f")" "$n")
			printf '  run %d %-12s idle %s\n' "$run" "$f" "${RAW[$f,idle$n,$run]}"
			mem_recovered
		done
	done
done
for run in $(seq 1 "$RUNS"); do
	[ -n "$MODES$SCALE" ] || break
	for t in $TARGETS; do
		# A fresh proxy for each: no run inherits another's workers,
		# backlog or CPU time.
		for m in $MODES; do
			[[ $m != udp* ]] || continue
			start_target "$t"
			line=$(loadgen $m)
			UID_BASE=$(cat "$UID_FILE")
			RAW[$t,$m,$run]=$line
			printf '  run %d %-12s %s\n' "$run" "$t" "$line"
			stop_target
		done
		# Ping-pong at the other scaling counts (the main table has --conns).
		for c in $SCALE; do
			[ "$c" != "$CONNS" ] || [[ " $MODES " != *" pingpong "* ]] || continue
			start_target "$t"
			line=$(loadgen pingpong "$c")
			UID_BASE=$(cat "$UID_FILE")
			RAW[$t,pp$c,$run]=$line
			printf '  run %d %-12s %s\n' "$run" "$t" "$line"
			stop_target
		done
		for m in $MODES; do
			[[ $m == udp* ]] || continue
			if start_udp_target "$t" "$m"; then
				line=$(loadgen "$m")
				UID_BASE=$(cat "$UID_FILE")
			else
				line="unsupported: $(head -1 "$TMP/proxy.log")"
			fi
			RAW[$t,$m,$run]=$line
			printf '  run %d %-12s %s\n' "$run" "$t" "$line"
			stop_target
		done
	done
done

declare -A MED
# idle_median TARGET KEY: the median of KEY over the main idle count's
# runs; "-" when --idle "" measured none.
idle_median() {
	[ -n "$IDLE" ] || { echo -; return; }
	for run in $(seq 1 "$RUNS"); do field "$2" "${RAW[$1,idle$IDLE,$run]}"; done | median
}
metrics="stream:up_mbps stream:down_mbps stream:up_msgs stream:down_msgs pingpong:ops pingpong:p50_us pingpong:p99_us connect:ops connect:p50_us connect:p99_us udp:ops udp:p99_us udp:lost stream:cpu_per_op pingpong:cpu_per_op connect:cpu_per_op udp:cpu_per_op udp-spp:ops udp-spp:lost udp-spp:cpu_per_op"
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
	# The proxy's CPU per unit of work: "-" for no proxy.
	for m in stream pingpong connect udp; do
		if [ "$t" = direct ] || [ "${MED[$t,udp_dps]}" = - -a $m = udp ]; then
			MED[$t,$m,cpu]=-
		else
			MED[$t,$m,cpu]=${MED[$t,$m,cpu_per_op]}
		fi
	done
	MED[$t,both_mbps]=$(awk -v a="${MED[$t,stream,up_mbps]}" -v b="${MED[$t,stream,down_mbps]}" 'BEGIN { print a + b }')
	MED[$t,mem_kb]=$(idle_median "$t" mem_drop_kb)
	MED[$t,pss_kb]=$(idle_median "$t" pss_kb)
	MED[$t,acct_kb]=$(idle_median "$t" accounted_kb)
done

# Scaling: per idle connection at each count (net of no proxy; the floors
# per process), and ping-pong at each count of connections.
runs_of() {	# runs_of N: the runs an idle count got
	[ "$1" = "$IDLE" ] && echo "$RUNS" || echo "$SCALE_RUNS"
}
per_conn() {	# per_conn ROW N KEY: median KB per connection (or process), or -
	local r=$1 n=$2 k=$3 v b=0 run
	[ -z "${SHORT[$r,$n]:-}" ] || { echo -; return; }
	v=$(for run in $(seq 1 "$(runs_of "$n")"); do field "$k" "${RAW[$r,idle$n,$run]:-}"; done | median)
	if [[ $r != floor* ]] && [[ " $TARGETS " == *" direct "* ]]; then
		b=$(for run in $(seq 1 "$(runs_of "$n")"); do field "$k" "${RAW[direct,idle$n,$run]:-}"; done | median)
	fi
	awk -v a="$v" -v b="$b" -v n="$n" 'BEGIN { printf "%.1f", (a - b) / n }'
}
for r in $TARGETS $FLOORS; do
	for n in $IDLES; do
		MED[$r,kern$n]=$(per_conn "$r" "$n" accounted_kb)
		MED[$r,avail$n]=$(per_conn "$r" "$n" mem_drop_kb)
	done
done
for t in $TARGETS; do
	for c in $SCALE; do
		for k in ops p99_us cpu_per_op; do
			if [ "$c" = "$CONNS" ] && [[ " $MODES " == *" pingpong "* ]]; then
				MED[$t,pp$c,$k]=${MED[$t,pingpong,$k]}
			else
				MED[$t,pp$c,$k]=$(for run in $(seq 1 "$RUNS"); do field "$k" "${RAW[$t,pp$c,$run]:-}"; done | median)
			fi
		done
	done
done
if [[ " $TARGETS " == *" direct "* ]]; then
	base=${MED[direct,mem_kb]}
	for t in $TARGETS; do
		MED[$t,mem_net]=$(awk -v a="${MED[$t,mem_kb]}" -v b="$base" -v n="$IDLE" 'BEGIN { printf "%.1f", (a - b) / n }')
		MED[$t,acct_net]=$(awk -v a="${MED[$t,acct_kb]}" -v b="${MED[direct,acct_kb]}" -v n="$IDLE" 'BEGIN { printf "%.1f", (a - b) / n }')
	done
fi

name() {
	case $1 in
	direct) echo "no proxy" ;;
	floor) echo "floor (default image)" ;;
	floor-lean) echo "floor (lean image)" ;;
	floor-glibc) echo "floor (glibc image)" ;;
	*) echo "$1" ;;
	esac
}

echo
# Each rate has the proxy's CPU per unit of work beside it (us of CPU per
# MB both ways, per request, per connection, per datagram).
printf '| %-12s | %9s | %9s | %9s | %10s | %10s | %8s | %9s | %8s | %7s | %7s | %8s | %8s | %8s | %8s | %9s | %8s | %8s | %9s | %8s | %6s |\n' \
    "" "⇅ Mbps" "↓ Mbps" "↑ Mbps" "↓ msg/s" "↑ msg/s" "CPU us/MB" "req/s" "CPU us/req" "p50 us" "p99 us" "conn/s" "CPU us/conn" "TTFB us" "p99 us" "idle KB" "kern KB" "PSS KB" "UDP dg/s" "CPU us/dg" "lost"
printf '|%s|\n' "--------------|-----------|-----------|-----------|------------|------------|----------|-----------|----------|---------|---------|----------|----------|----------|----------|-----------|----------|----------|-----------|----------|--------"
for t in $TARGETS; do
	printf '| %-12s | %9.0f | %9.0f | %9.0f | %10.0f | %10.0f | %8s | %9.0f | %8s | %7.0f | %7.0f | %8.0f | %8s | %8.0f | %8.0f | %9s | %8s | %8s | %9s | %8s | %6s |\n' \
	    "$(name "$t")" "${MED[$t,both_mbps]}" "${MED[$t,stream,down_mbps]}" "${MED[$t,stream,up_mbps]}" \
	    "${MED[$t,stream,down_msgs]}" "${MED[$t,stream,up_msgs]}" "${MED[$t,stream,cpu]}" "${MED[$t,pingpong,ops]}" \
	    "${MED[$t,pingpong,cpu]}" "${MED[$t,pingpong,p50_us]}" "${MED[$t,pingpong,p99_us]}" "${MED[$t,connect,ops]}" \
	    "${MED[$t,connect,cpu]}" "${MED[$t,connect,p50_us]}" "${MED[$t,connect,p99_us]}" "${MED[$t,mem_net]:--}" \
	    "${MED[$t,acct_net]:--}" "$(awk -v p="${MED[$t,pss_kb]}" -v n="$IDLE" 'BEGIN { printf "%.1f", p / n }')" \
	    "${MED[$t,udp_dps]}" "${MED[$t,udp,cpu]}" "${MED[$t,udp_lost]}"
done
echo
ratio() {	# ratio A B
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "null" || b == "null" || a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'
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
# SPP against v2, the same load: what wrapping every reply costs.
for t in mmproxy "$ALT"; do
	[[ " $TARGETS " == *" $t "* && " $MODES " == *" udp-spp "* && " $MODES " == *" udp "* ]] || continue
	[[ "${RAW[$t,udp-spp,1]:-unsupported}" != unsupported* ]] || continue
	printf '  %-24s UDP v2 %.0f dg/s (CPU %s us/dg, lost %s), spp %.0f dg/s (CPU %s us/dg, lost %s): spp/v2 rate %s, CPU per datagram %s\n' \
	    "$(name "$t") framings:" "${MED[$t,udp,ops]}" "${MED[$t,udp,cpu_per_op]}" "${MED[$t,udp,lost]}" \
	    "${MED[$t,udp-spp,ops]}" "${MED[$t,udp-spp,cpu_per_op]}" "${MED[$t,udp-spp,lost]}" \
	    "$(ratio "${MED[$t,udp-spp,ops]}" "${MED[$t,udp,ops]}")" \
	    "$(ratio "${MED[$t,udp-spp,cpu_per_op]}" "${MED[$t,udp,cpu_per_op]}")"
done
for t in mmproxy "$ALT"; do
	if [[ " $TARGETS " == *" $t "* && " $TARGETS " == *" go-mmproxy "* ]]; then
		ratios_of "$t" go-mmproxy
		printf '  %-24s CPU us/MB %s  us/req %s  us/conn %s  us/dg %s (below 1: less CPU per unit of work)\n' \
		    "$(name "$t") / go-mmproxy:" \
		    "$(ratio "${MED[$t,stream,cpu]}" "${MED[go-mmproxy,stream,cpu]}")" \
		    "$(ratio "${MED[$t,pingpong,cpu]}" "${MED[go-mmproxy,pingpong,cpu]}")" \
		    "$(ratio "${MED[$t,connect,cpu]}" "${MED[go-mmproxy,connect,cpu]}")" \
		    "$(ratio "${MED[$t,udp,cpu]}" "${MED[go-mmproxy,udp,cpu]}")"
	fi
done

echo
echo "Scaling: kern KB per idle connection (AnonPages+KernelStack+PageTables+Slab, net of no proxy;"
echo "a floor row is one bare sleeping process of that image), ping-pong req/s, p99 us and the proxy's"
echo "CPU us per request by connections:"
hdr="| %-22s" cols=""
for n in $IDLES; do hdr="$hdr | %11s"; cols="$cols kern@$n"; done
for c in $SCALE; do hdr="$hdr | %11s"; cols="$cols req/s@$c"; done
for c in $SCALE; do hdr="$hdr | %11s"; cols="$cols p99@$c"; done
for c in $SCALE; do hdr="$hdr | %11s"; cols="$cols cpu/req@$c"; done
# shellcheck disable=SC2086
printf "$hdr |\n" "" $cols
printf '|%s' "------------------------" $(for x in $cols; do echo -------------; done)
printf '|\n'
for r in $TARGETS $FLOORS; do
	vals=""
	for n in $IDLES; do vals="$vals ${MED[$r,kern$n]}"; done
	for c in $SCALE; do
		if [[ $r == floor* ]]; then vals="$vals -"; else vals="$vals $(printf '%.0f' "${MED[$r,pp$c,ops]}")"; fi
	done
	for c in $SCALE; do
		if [[ $r == floor* ]]; then vals="$vals -"; else vals="$vals $(printf '%.0f' "${MED[$r,pp$c,p99_us]}")"; fi
	done
	for c in $SCALE; do
		if [[ $r == floor* || $r == direct ]]; then vals="$vals -"; else vals="$vals ${MED[$r,pp$c,cpu_per_op]}"; fi
	done
	# shellcheck disable=SC2086
	printf "$hdr |\n" "$(name "$r")" $vals
done
scaling_ratios() {	# scaling_ratios X Y
	local line="  $(name "$1") / $(name "$2"):" n c
	for n in $IDLES; do line="$line  kern@$n $(ratio "${MED[$1,kern$n]}" "${MED[$2,kern$n]}")"; done
	for c in $SCALE; do line="$line  req/s@$c $(ratio "${MED[$1,pp$c,ops]}" "${MED[$2,pp$c,ops]}")"; done
	for c in $SCALE; do line="$line  p99@$c $(ratio "${MED[$1,pp$c,p99_us]}" "${MED[$2,pp$c,p99_us]}")"; done
	for c in $SCALE; do line="$line  cpu/req@$c $(ratio "${MED[$1,pp$c,cpu_per_op]}" "${MED[$2,pp$c,cpu_per_op]}")"; done
	echo "$line"
}
above_floor() {	# above_floor TARGET FLOOR
	local line="  $(name "$1") above $(name "$2"):" n
	for n in $IDLES; do
		line="$line  @$n $(awk -v a="${MED[$1,kern$n]}" -v b="${MED[$2,kern$n]}" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%+.1f KB", a - b }')"
	done
	echo "$line"
}
echo "Scaling ratios (medians):"
for t in mmproxy "$ALT"; do
	if [[ " $TARGETS " == *" $t "* && " $TARGETS " == *" go-mmproxy "* ]]; then
		scaling_ratios "$t" go-mmproxy
	fi
done
[[ " $TARGETS " != *" mmproxy "* ]] || above_floor mmproxy floor
[[ " $TARGETS " != *" $ALT "* ]] || above_floor "$ALT" "$ALT_FLOOR"
for key in "${!SHORT[@]}"; do
	echo "  - $(name "${key%,*}") at ${key#*,} idle connections: ${SHORT[$key]}"
done

json_num() {	# "-" (not measured) is null
	if [ "$1" = - ]; then echo null; else echo "$1"; fi
}
mkdir -p "$(dirname "$OUT")"
{
	printf '{\n  "date": "%s",\n  "cpus": %d,\n  "pinned": %s,\n  "pinning": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" "$([ -n "$PIN_PROXY" ] && echo true || echo false)" "$PINNING"
	printf '  "conns": %d, "duration_s": %s, "runs": %d, "idle_conns": %d,\n  "medians": {\n' "$CONNS" "$DURATION" "$RUNS" "$IDLE"
	first=1
	for t in $TARGETS; do
		[ $first -eq 1 ] || printf ',\n'
		first=0
		printf '    "%s": {"stream_up_mbps": %s, "stream_down_mbps": %s, "pingpong_rps": %s, "pingpong_p50_us": %s, "pingpong_p99_us": %s, "connect_cps": %s, "connect_p50_us": %s, "connect_p99_us": %s, "idle_memavailable_kb_per_conn": %s, "idle_accounted_kb_per_conn": %s, "idle_pss_kb_per_conn": %s, "udp_dps": %s, "udp_p99_us": %s, "udp_lost": %s, "cpu_us_per_mb": %s, "cpu_us_per_request": %s, "cpu_us_per_connection": %s, "cpu_us_per_datagram": %s, "udp_spp_dps": %s, "cpu_us_per_datagram_spp": %s}' \
		    "$t" "${MED[$t,stream,up_mbps]}" "${MED[$t,stream,down_mbps]}" "${MED[$t,pingpong,ops]}" \
		    "${MED[$t,pingpong,p50_us]}" "${MED[$t,pingpong,p99_us]}" "${MED[$t,connect,ops]}" \
		    "${MED[$t,connect,p50_us]}" "${MED[$t,connect,p99_us]}" "${MED[$t,mem_net]:-null}" \
		    "${MED[$t,acct_net]:-null}" "$(awk -v p="${MED[$t,pss_kb]}" -v n="$IDLE" 'BEGIN { printf "%.1f", p / n }')" \
		    "${MED[$t,udp_json]}" "$([ "${MED[$t,udp_json]}" = null ] && echo null || echo "${MED[$t,udp,p99_us]}")" \
		    "$([ "${MED[$t,udp_json]}" = null ] && echo null || echo "${MED[$t,udp,lost]}")" \
		    "$(json_num "${MED[$t,stream,cpu]}")" "$(json_num "${MED[$t,pingpong,cpu]}")" \
		    "$(json_num "${MED[$t,connect,cpu]}")" "$(json_num "${MED[$t,udp,cpu]}")" \
		    "$([[ "${RAW[$t,udp-spp,1]:-unsupported}" == unsupported* ]] && echo null || echo "${MED[$t,udp-spp,ops]}")" \
		    "$([[ "$t" == direct || "${RAW[$t,udp-spp,1]:-unsupported}" == unsupported* ]] && echo null || echo "${MED[$t,udp-spp,cpu_per_op]}")"
	done
	printf '\n  },\n  "scaling": {\n'
	first=1
	for r in $TARGETS $FLOORS; do
		[ $first -eq 1 ] || printf ',\n'
		first=0
		printf '    "%s": {' "$r"
		sf=1
		for n in $IDLES; do
			[ $sf -eq 1 ] || printf ', '
			sf=0
			printf '"idle%s_accounted_kb_per_conn": %s, "idle%s_memavailable_kb_per_conn": %s' \
			    "$n" "$(json_num "${MED[$r,kern$n]}")" "$n" "$(json_num "${MED[$r,avail$n]}")"
		done
		if [[ $r != floor* ]]; then
			for c in $SCALE; do
				printf ', "pingpong%s_rps": %s, "pingpong%s_p99_us": %s, "pingpong%s_cpu_us_per_request": %s' \
				    "$c" "${MED[$r,pp$c,ops]}" "$c" "${MED[$r,pp$c,p99_us]}" "$c" \
				    "$([ "$r" = direct ] && echo null || json_num "${MED[$r,pp$c,cpu_per_op]}")"
			done
		fi
		printf '}'
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

# The charts, when gnuplot is there: memory per idle connection and
# ping-pong requests per second, each by connections.
CHARTS=$(dirname "$OUT")
if ! command -v gnuplot >/dev/null; then
	echo "charts: skipped (no gnuplot; apt-get install gnuplot-nox)"
	exit 0
fi
{
	printf 'connections'
	for r in $TARGETS $FLOORS; do printf ' "%s"' "$(name "$r")"; done
	printf '\n'
	for n in $IDLES; do
		printf '%s' "$n"
		for r in $TARGETS $FLOORS; do printf ' %s' "${MED[$r,kern$n]}"; done
		printf '\n'
	done
} >"$CHARTS/idle-memory.dat"
# scaling_dat KEY ROWS...: gnuplot columns of the ping-pong scaling
# medians KEY (ops, cpu_per_op), one column a row, one line a count.
scaling_dat() {
	local key=$1 t c
	shift
	printf 'connections'
	for t in "$@"; do printf ' "%s"' "$(name "$t")"; done
	printf '\n'
	for c in $SCALE; do
		printf '%s' "$c"
		for t in "$@"; do printf ' %s' "${MED[$t,pp$c,$key]}"; done
		printf '\n'
	done
}
# shellcheck disable=SC2086
scaling_dat ops $TARGETS >"$CHARTS/pingpong.dat"
# The proxies only: no proxy spends no proxy CPU.
PROXIES=$(tr ' ' '\n' <<<"$TARGETS" | grep -vx direct | xargs)
# shellcheck disable=SC2086
scaling_dat cpu_per_op $PROXIES >"$CHARTS/pingpong-cpu.dat"
nmem=$(($(wc -w <<<"$TARGETS $FLOORS") + 1))
npp=$(($(wc -w <<<"$TARGETS") + 1))
ncpu=$(($(wc -w <<<"$PROXIES") + 1))
when="$(date -u +%Y-%m-%d), $(nproc) CPUs, $([ -n "$PIN_PROXY" ] && echo pinned || echo unpinned)"
if gnuplot <<EOF 2>"$TMP/gnuplot.err"
set terminal pngcairo size 900,520 noenhanced font ",11"
set key outside right top
set grid
set datafile missing "-"
set logscale x
set xlabel "connections"
set output "$CHARTS/idle-memory.png"
set title "memory per idle connection (kernel counters, KB), $when"
set ylabel "KB per connection"
set yrange [0:*]
plot for [i=2:$nmem] "$CHARTS/idle-memory.dat" using 1:i with linespoints lw 2 pt 7 title columnheader(i)
set output "$CHARTS/pingpong.png"
set title "ping-pong requests per second, $when"
set ylabel "requests/s"
plot for [i=2:$npp] "$CHARTS/pingpong.dat" using 1:i with linespoints lw 2 pt 7 title columnheader(i)
set output "$CHARTS/pingpong-cpu.png"
set title "proxy CPU per ping-pong request (us), $when"
set ylabel "us of CPU per request"
plot for [i=2:$ncpu] "$CHARTS/pingpong-cpu.dat" using 1:i with linespoints lw 2 pt 7 title columnheader(i)
EOF
then
	echo "charts: $CHARTS/idle-memory.png $CHARTS/pingpong.png $CHARTS/pingpong-cpu.png"
else
	echo "charts: gnuplot failed: $(head -1 "$TMP/gnuplot.err")" >&2
fi
