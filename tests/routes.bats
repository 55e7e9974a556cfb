#!/usr/bin/env bats
# contrib/mmproxy-routes: the local-delivery routes, set up and taken down
# idempotently, in a namespace of their own (no routes to start with).

load helpers

ROUTES=$BATS_TEST_DIRNAME/../contrib/mmproxy-routes

setup() {
	require_root
	BARE=mmproxy-routes-$$-$BATS_TEST_NUMBER
	ip netns add "$BARE"
	ip -n "$BARE" link set lo up
}

teardown() {
	netns_remove "$BARE"
}

in_bare() {
	ip netns exec "$BARE" "$@"
}

rules_for() {	# rules_for -4|-6 TABLE: how many rules look up TABLE
	in_bare ip "$1" rule show | grep -c "lookup $2\$" || true
}

@test "mmproxy-routes up twice, check, down, check: one rule a family, mmproxy is then content, and down removes them" {
	run in_bare "$ROUTES" check
	[ "$status" -eq 1 ]
	[[ "$output" == *"the -4 routes to table 123 are missing: run mmproxy-routes up 123"* ]]
	in_bare "$ROUTES" up
	in_bare "$ROUTES" up
	[ "$(rules_for -4 123)" -eq 1 ]
	[ "$(rules_for -6 123)" -eq 1 ]
	in_bare ip route show table 123 | grep -q '^local default dev lo'
	run in_bare "$ROUTES" check
	[ "$status" -eq 0 ]
	# mmproxy's own startup check agrees: no warning.
	in_bare "$MMPROXY" -l 127.0.0.1:8443 >"$BATS_TEST_TMPDIR/mm.log" 2>&1 3>&- &
	wait_log '^start ' "$BATS_TEST_TMPDIR/mm.log"
	! grep -q '^warning ' "$BATS_TEST_TMPDIR/mm.log"
	in_bare "$ROUTES" down
	[ "$(rules_for -4 123)" -eq 0 ]
	[ "$(rules_for -6 123)" -eq 0 ]
	run in_bare "$ROUTES" check
	[ "$status" -eq 1 ]
	# Another table, and a bad one.
	in_bare "$ROUTES" up 200
	[ "$(rules_for -4 200)" -eq 1 ]
	run in_bare "$ROUTES" up x
	[ "$status" -eq 2 ]
}

@test "mmproxy-routes on a host with IPv6 disabled: IPv4 only, said in one line" {
	in_bare sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	run in_bare "$ROUTES" up
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "mmproxy-routes: IPv6 is disabled on this host: its routes are skipped (IPv6 clients will be dropped)" ]
	[ "$(rules_for -4 123)" -eq 1 ]
	run in_bare "$ROUTES" check
	[ "$status" -eq 0 ]
}
