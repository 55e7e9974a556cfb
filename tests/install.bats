#!/usr/bin/env bats
# make install and make install-units, into a DESTDIR: what the units
# reference is there, an existing allowed-subnets file is never touched.

load helpers

ROOT=$BATS_TEST_DIRNAME/..

@test "make install puts the binary, mmproxy-routes, the man page and a commented /etc/mmproxy/allowed-subnets; never over an existing one" {
	[[ "$MMPROXY_BUILD" == */build ]] || skip "checked once, on the default build"
	d=$BATS_TEST_TMPDIR/root
	make -s -C "$ROOT" install DESTDIR="$d" BUILD="$MMPROXY_BUILD"
	[ -x "$d/usr/local/sbin/mmproxy" ]
	[ -x "$d/usr/local/sbin/mmproxy-routes" ]
	[ -f "$d/usr/local/share/man/man8/mmproxy.8" ]
	f=$d/etc/mmproxy/allowed-subnets
	# Every subnet commented out: mmproxy refuses it until one is named.
	! grep -q '^[0-9a-f]' "$f"
	grep -q '^# 10\.0\.0\.0/8$' "$f"
	run "$d/usr/local/sbin/mmproxy" -allowed-subnets "$f" -l 127.0.0.1:1
	[ "$status" -eq 1 ]
	[[ "$output" == *"no subnet in file"* ]]
	echo '192.0.2.0/24' >"$f"
	make -s -C "$ROOT" install DESTDIR="$d" BUILD="$MMPROXY_BUILD"
	[ "$(cat "$f")" = "192.0.2.0/24" ]
}

@test "make install-units writes every unit with ExecStart= where SBINDIR says" {
	d=$BATS_TEST_TMPDIR/root
	make -s -C "$ROOT" install-units DESTDIR="$d" SBINDIR=/opt/mmproxy/sbin
	for u in "$ROOT"/examples/*.service "$ROOT"/examples/*.socket; do
		[ -f "$d/etc/systemd/system/$(basename "$u")" ]
	done
	grep -q '^ExecStart=/opt/mmproxy/sbin/mmproxy -worker-jobs 1 ' "$d/etc/systemd/system/mmproxy.service"
	grep -q '^ExecStart=/opt/mmproxy/sbin/mmproxy-routes up$' "$d/etc/systemd/system/mmproxy-routes.service"
	! grep -rq '/usr/local/sbin' "$d/etc/systemd/system"
	grep -q '^Requires=mmproxy-routes.service$' "$d/etc/systemd/system/mmproxy.service"
}
