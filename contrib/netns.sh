# Network namespaces for the demo, the benchmark and the tests (sourced).

# netns_create NAME: a namespace with loopback up and the routes every
# mmproxy host needs: the backend's replies to a client's (foreign) address
# are delivered locally, to mmproxy's transparent socket.
netns_create() {
	ip netns add "$1"
	ip -n "$1" link set lo up
	ip netns exec "$1" ip rule add from 127.0.0.1/8 iif lo table 123
	ip netns exec "$1" ip route add local 0.0.0.0/0 dev lo table 123
	ip netns exec "$1" ip -6 rule add from ::1/128 iif lo table 123
	ip netns exec "$1" ip -6 route add local ::/0 dev lo table 123
}

# netns_remove NAME: kill everything in the namespace, then delete it.
netns_remove() {
	local pids i
	for i in $(seq 1 50); do
		pids=$(ip netns pids "$1" 2>/dev/null || true)
		[ -z "$pids" ] && break
		kill -9 $pids 2>/dev/null || true
		sleep 0.1
	done
	ip netns del "$1" 2>/dev/null || true
	# What `ip netns exec` mounts over /etc for it (a test's hosts file).
	rm -rf "/etc/netns/$1"
	rmdir /etc/netns 2>/dev/null || true
}

# netns_wait_listening NAME PORT [udp]: wait (10 s at most) for a TCP
# listener (or a bound UDP socket) on PORT in the namespace.  Returns 0, or
# 1 if none came.
netns_wait_listening() {
	local i flags=-Htln
	[ "${3:-tcp}" = udp ] && flags=-Hlun
	for i in $(seq 1 100); do
		[ -n "$(ip netns exec "$1" ss $flags "sport = :$2")" ] && return 0
		sleep 0.1
	done
	return 1
}
