#!/usr/bin/env bats
# go-mmproxy's command line: same flags, one or two dashes, -flag value
# or -flag=value; a bad value is one line naming the flag and exit 2.

load helpers

bad_flag() {
	run "$MMPROXY" "$@"
	echo "$output"
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 1 ]
}

@test "-h prints the usage and exits 0" {
	run "$MMPROXY" -h
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == usage:\ mmproxy* ]]
	[[ "$output" == *"-allowed-subnets file"* ]]
}

@test "--help and -help print the usage too" {
	run "$MMPROXY" --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == usage:* ]]
	run "$MMPROXY" -help
	[ "$status" -eq 0 ]
}

@test "-version prints the version" {
	run "$MMPROXY" -version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^mmproxy\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "an unknown flag exits 2 naming it" {
	bad_flag -bogus 1
	[[ "$output" == *'unknown flag "-bogus"'* ]]
}

@test "an unparsable -l exits 2 naming -l" {
	bad_flag -l 127.0.0.1
	[[ "$output" == *'-l: invalid address "127.0.0.1"'* ]]
	bad_flag -l 300.0.0.1:80
	[[ "$output" == *'-l: invalid address'* ]]
	bad_flag -l 127.0.0.1:65536
	[[ "$output" == *'-l: invalid address'* ]]
	bad_flag -l ::1:80
	[[ "$output" == *'-l: invalid address'* ]]
}

@test "-4 that is not IPv4 and -6 that is not IPv6 exit 2" {
	bad_flag -4 '[::1]:443'
	[[ "$output" == *'-4: invalid address "[::1]:443": want IPv4:port'* ]]
	bad_flag -6 127.0.0.1:443
	[[ "$output" == *'-6: invalid address "127.0.0.1:443": want [IPv6]:port'* ]]
}

@test "-listeners 0, a negative -mark and a bad -v exit 2" {
	bad_flag -listeners 0
	[[ "$output" == *'-listeners: invalid value "0"'* ]]
	bad_flag -mark -1
	[[ "$output" == *'-mark: invalid value "-1"'* ]]
	bad_flag -mark 4294967296
	[[ "$output" == *'-mark: invalid value'* ]]
	bad_flag -v x
	[[ "$output" == *'-v: invalid value "x"'* ]]
	bad_flag -close-after -5
	[[ "$output" == *'-close-after: invalid value'* ]]
	bad_flag -header-timeout 0
	[[ "$output" == *'-header-timeout: invalid value "0"'* ]]
	bad_flag -max-conns 0
	[[ "$output" == *'-max-conns: invalid value "0"'* ]]
}

@test "a bad -p exits 2" {
	bad_flag -p sctp
	[[ "$output" == *'-p: invalid protocol "sctp": want tcp or udp'* ]]
}

@test "-close-after 0 with -p udp exits 2, naming the flag" {
	bad_flag -p udp -close-after 0
	[[ "$output" == *'-close-after: 0 is not allowed with -p udp'* ]]
	bad_flag -close-after=0 --p=udp
	[[ "$output" == *'-close-after: 0 is not allowed with -p udp'* ]]
}

@test "a bad -max-flows exits 2" {
	bad_flag -max-flows 0
	[[ "$output" == *'-max-flows: invalid value "0"'* ]]
	bad_flag -max-flows 65537
	[[ "$output" == *'-max-flows: invalid value "65537"'* ]]
}

@test "-inetd with -p udp is a bad command line: exit 2, one line" {
	run "$MMPROXY" -inetd -p udp </dev/null
	[ "$status" -eq 2 ]
	[ "$output" = "mmproxy: -inetd: not with -p udp: run mmproxy -p udp standalone or with systemd ListenDatagram= (Accept=no) (see mmproxy -h)" ]
}

@test "a bad -relay exits 2" {
	bad_flag -relay zerocopy
	[[ "$output" == *'-relay: invalid value "zerocopy": want copy or splice'* ]]
}

@test "a flag without its value exits 2" {
	bad_flag -l
	[[ "$output" == *'-l needs a value'* ]]
}

@test "a stray argument exits 2" {
	bad_flag stray
	[[ "$output" == *'unexpected argument "stray"'* ]]
}

@test "a bad flag starts nothing: no listening socket appears" {
	ns_setup
	run nsx "$MMPROXY" -l 127.0.0.1:8443 -mark -1
	[ "$status" -eq 2 ]
	! port_listening 8443
}

@test "single dash, double dash, -flag value and -flag=value all work" {
	ns_setup
	start_backends
	MM_LOG=$BATS_TEST_TMPDIR/mmproxy.log
	nsx "$MMPROXY" --l=127.0.0.1:8443 -4=127.0.0.1:4430 --6 '[::1]:4430' \
	    -v=2 --mark 7 -listeners=2 >"$MM_LOG" 2>&1 3>&- &
	wait_log '^start .*listen=127.0.0.1:8443 .*listeners=2 target4=127.0.0.1:4430 target6=\[::1\]:4430'
	wait_port 8443
	run pp --text 'PROXY TCP4 192.0.2.5 127.0.0.1 40005 8443\r\nhi\n' --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "hi" ]
	backend_saw 192.0.2.5:40005
}

@test "go-mmproxy's numbers are Go's: a sign, 0x, 0o, 0b, a leading 0 (octal) and _ between digits; anything else exits 2" {
	ns_setup
	MM_LOG=$BATS_TEST_TMPDIR/mmproxy.log
	ip netns exec "$NS" "$MMPROXY" -p udp -l 127.0.0.1:8443 -listeners 0x_3 -close-after 0o1_7 \
	    -mark +0b101 -v 010 >"$MM_LOG" 2>&1 3>&- &
	MM_PID=$!
	# -v 010 is octal 8: any level past 2 means 2.
	wait_log '^start .*proto=udp listeners=3 .*close_after=15 '
	stop_mmproxy
	for bad in _1 1_ 1__0 0x 0b2 08 -1 0x1g 18446744073709551616; do
		bad_flag -mark "$bad"
		[[ "$output" == *"-mark: invalid value \"$bad\""* ]]
	done
	# Our own flags stay plain decimal.
	bad_flag -workers 0x10
	[[ "$output" == *'-workers: invalid value "0x10"'* ]]
}

@test "go-mmproxy's -l :PORT listens on every address, IPv4 and IPv6 (whatever bindv6only says); -4 :PORT and -6 :PORT are this host" {
	ns_setup
	nsx sysctl -qw net.ipv6.bindv6only=1
	start_backends
	MM_LOG=$BATS_TEST_TMPDIR/mmproxy.log
	ip netns exec "$NS" "$MMPROXY" -l :8443 -4 :4430 -6 :4430 -v 2 >"$MM_LOG" 2>&1 3>&- &
	MM_PID=$!
	wait_log '^start .*listen=\[::\]:8443 .*target4=127\.0\.0\.1:4430 target6=\[::1\]:4430'
	wait_port 8443
	run pp --text 'PROXY TCP4 192.0.2.5 127.0.0.1 40005 8443\r\nfour\n' --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "four" ]
	backend_saw 192.0.2.5:40005
	run nsx "$PP_CLIENT" --text 'PROXY TCP6 2001:db8::5 ::1 40006 8443\r\nsix\n' --shut --read '[::1]:8443'
	[ "$status" -eq 0 ]
	[ "$output" = "six" ]
	backend_saw '\[2001:db8::5\]:40006'
	stop_mmproxy
	bad_flag -l :
	[[ "$output" == *'-l: invalid address ":"'* ]]
	bad_flag -4 :65536
	[[ "$output" == *'-4: invalid address ":65536"'* ]]
}

@test "host names in -l, -4 and -6 are resolved at startup and logged; SIGHUP resolves -4/-6 again; a name that does not resolve exits 1" {
	ns_setup
	# `ip netns exec` mounts /etc/netns/NS/hosts over /etc/hosts
	# (netns_remove deletes it); written in place, so mmproxy sees changes.
	mkdir -p "/etc/netns/$NS"
	printf '127.0.0.1 mm.test\n127.0.0.1 backend.test\n::1 backend6.test\n' >"/etc/netns/$NS/hosts"
	start_backends
	BE2_LOG=$BATS_TEST_TMPDIR/backend2.log
	nsx "$BACKEND" --listen 127.0.0.2:4430 --mode echo >"$BE2_LOG" 2>&1 3>&- &
	wait_for "a backend on 127.0.0.2" eval '[ "$(nsx ss -Htln "sport = :4430" | wc -l)" -eq 3 ]'
	MM_LOG=$BATS_TEST_TMPDIR/mmproxy.log
	ip netns exec "$NS" "$MMPROXY" -l mm.test:8443 -4 backend.test:4430 -6 backend6.test:04430 -v 2 >"$MM_LOG" 2>&1 3>&- &
	MM_PID=$!
	wait_log '^start .*listen=127\.0\.0\.1:8443 .*target4=127\.0\.0\.1:4430 target6=\[::1\]:4430 .* listen_name=mm\.test:8443 target4_name=backend\.test:4430 target6_name=backend6\.test:04430'
	wait_port 8443
	run pp --text 'PROXY TCP4 192.0.2.5 127.0.0.1 40005 8443\r\none\n' --shut --read
	[ "$output" = "one" ]
	backend_saw 192.0.2.5:40005
	# The name moves: SIGHUP, and the next client goes to the new address.
	printf '127.0.0.1 mm.test\n127.0.0.2 backend.test\n::1 backend6.test\n' >"/etc/netns/$NS/hosts"
	kill -HUP "$MM_PID"
	wait_log '^reload target4_name=backend\.test:4430 target4=127\.0\.0\.2:4430 was=127\.0\.0\.1:4430$'
	run pp --text 'PROXY TCP4 192.0.2.6 127.0.0.1 40006 8443\r\ntwo\n' --shut --read
	[ "$output" = "two" ]
	grep -q '^accept peer=192\.0\.2\.6:40006$' "$BE2_LOG"
	! grep -q '192\.0\.2\.6' "$BE4_LOG"
	# The name goes away: the address in use is kept, and that is said.
	printf '127.0.0.1 mm.test\n::1 backend6.test\n' >"/etc/netns/$NS/hosts"
	kill -HUP "$MM_PID"
	wait_log '^reload target4_name=backend\.test:4430 kept=127\.0\.0\.2:4430 error="'
	run pp --text 'PROXY TCP4 192.0.2.7 127.0.0.1 40007 8443\r\nthree\n' --shut --read
	[ "$output" = "three" ]
	grep -q '^accept peer=192\.0\.2\.7:40007$' "$BE2_LOG"
	stop_mmproxy
	# At startup a name that does not resolve is one line and exit 1.
	run nsx "$MMPROXY" -l 127.0.0.1:8443 -4 nosuch.invalid:443
	echo "$output"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "mmproxy: -4 nosuch.invalid:443: cannot resolve: "* ]]
	! port_listening 8443
}

teardown() {
	ns_teardown
}
