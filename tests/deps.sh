#!/bin/sh
# What `make check` needs.  As root on Debian/Ubuntu, installs what is
# missing with apt-get; otherwise says in one line what is missing.
# The service managers are optional: their tests skip, saying why, when
# they cannot be installed.
set -u

# missing_of "command:package ..." prints the packages whose command is absent.
missing_of() {
	out=""
	for pair in $1; do
		command -v "${pair%%:*}" >/dev/null 2>&1 && continue
		case " $out " in
		*" ${pair#*:} "*) ;;
		*) out="${out:+$out }${pair#*:}" ;;
		esac
	done
	echo "$out"
}

required=$(missing_of "bats:bats clang:clang musl-gcc:musl-tools ip:iproute2 ss:iproute2 groff:groff pgrep:procps strace:strace prlimit:util-linux unshare:util-linux")
# libFuzzer's runtime ships apart from clang on Debian.
if command -v clang >/dev/null 2>&1; then
	t=$(mktemp -d)
	echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}' >"$t/f.c"
	clang -fsanitize=fuzzer "$t/f.c" -o "$t/f" >/dev/null 2>&1 || required="${required:+$required }libclang-rt-dev"
	rm -rf "$t"
fi
optional=$(missing_of "systemd-socket-activate:systemd systemd-analyze:systemd tcpserver:ucspi-tcp xinetd:xinetd haproxy:haproxy nginx:nginx dnsdist:dnsdist s6-svscan:s6 gnuplot:gnuplot-nox nft:nftables")
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] ||
	optional="${optional:+$optional }libnginx-mod-stream"

install() {
	[ -n "$1" ] || return 0
	[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
	echo "installing test tools: $1"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null 2>&1
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $1 >/dev/null
}

if ! install "$required"; then
	echo "mmproxy: missing test tools: $required (as root: apt-get install $required)" >&2
	exit 1
fi
install "$optional" ||
	echo "mmproxy: cannot install $optional: the tests that need it will be skipped" >&2
exit 0
