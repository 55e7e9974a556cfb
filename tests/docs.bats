#!/usr/bin/env bats
# README.md, the man page and `mmproxy -h` say the same thing, and the
# shipped examples work.

load helpers

ROOT=$BATS_TEST_DIRNAME/..

flags_from_help() {
	"$MMPROXY" -h | sed -n 's/^  -\([a-z0-9-]*\).*/\1/p'
}

@test "the man page passes mandoc lint (groff -mdoc -ww prints nothing)" {
	run groff -mdoc -ww -z "$ROOT/man/mmproxy.8"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "every flag in -h is documented in README.md and the man page" {
	local f
	for f in $(flags_from_help); do
		grep -q -- "\`-$f" "$ROOT/README.md" || { echo "README lacks -$f"; return 1; }
		grep -q -- "^\.It Fl $f\( \|$\)" "$ROOT/man/mmproxy.8" || { echo "man page lacks -$f"; return 1; }
	done
}

@test "the man page SYNOPSIS lists the same flags as the usage line" {
	usage=$("$MMPROXY" -h | sed -n '/^usage:/,/^$/p' | grep -o '\[-[a-z0-9-]*' | tr -d '[' | sort | xargs)
	synopsis=$(sed -n '/^\.Sh SYNOPSIS/,/^\.Sh DESCRIPTION/p' "$ROOT/man/mmproxy.8" | sed -n 's/^\.Op Fl \([a-z0-9-]*\).*/-\1/p' | sort | xargs)
	echo "usage:    $usage"
	echo "synopsis: $synopsis"
	[ -n "$usage" ]
	[ "$usage" = "$synopsis" ]
}

@test "the defaults in -h match the README's flag table" {
	"$MMPROXY" -h | grep -q 'default "0.0.0.0:8443"'
	grep -q '| `-l addr` | `0.0.0.0:8443` |' "$ROOT/README.md"
	"$MMPROXY" -h | grep -q 'header to arrive (default 5)'
	grep -q '| `-header-timeout seconds` | `5` |' "$ROOT/README.md"
	"$MMPROXY" -h | grep -q 'served at once (default 1024)'
	grep -q '| `-max-conns n` | `1024` |' "$ROOT/README.md"
	"$MMPROXY" -h | grep -q 'may have (default 256)'
	grep -q '| `-max-flows n` | `256` |' "$ROOT/README.md"
	"$MMPROXY" -h | grep -q 'UDP flow is closed (default 60)'
	grep -q '| `-close-after seconds` | `60` |' "$ROOT/README.md"
	"$MMPROXY" -h | grep -q 'kept ready (default 8)'
	grep -q '| `-workers n` | `8` |' "$ROOT/README.md"
}

@test "README.md opens with the two commands, and .ci/run calls the second" {
	head -6 "$ROOT/README.md" | grep -q '^sudo make demo '
	head -6 "$ROOT/README.md" | grep -q '^sudo make check '
	grep -q '^\s*exec make check$' "$ROOT/.ci/run"
}

@test "every drop reason in the code is listed in the man page (README.md points there)" {
	local r n=0
	for r in $(sed -n 's/.*X(\(PP_R\|DROP\)_[A-Z0-9_]*,[[:space:]]*"\([a-z0-9_]*\)").*/\2/p' \
	    "$ROOT/src/proxy_protocol.h" "$ROOT/src/drop.h"); do
		n=$((n + 1))
		[ "$r" = none ] || grep -q "^\.Cm $r\( \|\$\)" "$ROOT/man/mmproxy.8" || { echo "man page lacks $r"; return 1; }
	done
	# The list was read: the code has dozens of words.
	[ "$n" -gt 30 ]
}

@test "README.md gets to the point: under 25 KB, and every flag of -h has a row in its flag table" {
	size=$(wc -c <"$ROOT/README.md")
	echo "README.md: $size bytes"
	[ "$size" -lt $((25 * 1024)) ]
	local f
	for f in $(flags_from_help); do
		case $f in h|help|version) grep -q '^| `-h`, `-version`' "$ROOT/README.md" ;;
		*) grep -q -- "^| \`-$f[ \`\[]" "$ROOT/README.md" || { echo "no table row for -$f"; return 1; } ;;
		esac
	done
}

@test "examples/allowed-subnets is accepted by mmproxy" {
	ns_setup
	start_backends echo
	start_mmproxy -allowed-subnets "$ROOT/examples/allowed-subnets"
	grep -q "allowed_subnets=$ROOT/examples/allowed-subnets" "$MM_LOG"
}

teardown() {
	ns_teardown
}

@test "make demo shows what the backend saw for every client, the SPP reply's header included, and leaves nothing behind" {
	require_root
	before=$(ip netns list | grep -c '^mmproxy-demo-' || true)
	run "$ROOT/contrib/demo.sh" "$MMPROXY_BUILD"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^  backend answered: hello 198\.51\.100\.7:40000$' <<<"$output"
	grep -q '^  backend answered: hello \[2001:db8::7\]:40001$' <<<"$output"
	grep -q '^  backend answered: hello 198\.51\.100\.9:27015 ping$' <<<"$output"
	grep -q '^  the reply came back behind the same 38-byte header: yes$' <<<"$output"
	grep -q '^  backend answered: hello 198\.51\.100\.10:27016 pong$' <<<"$output"
	[ "$(ip netns list | grep -c '^mmproxy-demo-' || true)" -eq "$before" ]
}
