#!/bin/sh
# What `make check` needs.  As root on Debian/Ubuntu, installs what is
# missing with apt-get; otherwise says in one line what is missing.
set -u
missing=""
command -v bats >/dev/null 2>&1 || missing="$missing bats"
command -v clang >/dev/null 2>&1 || missing="$missing clang"
command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
command -v ss >/dev/null 2>&1 || missing="$missing iproute2"
command -v groff >/dev/null 2>&1 || missing="$missing groff"
command -v pgrep >/dev/null 2>&1 || missing="$missing procps"
# libFuzzer's runtime ships apart from clang on Debian.
if command -v clang >/dev/null 2>&1; then
	t=$(mktemp -d)
	echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}' >"$t/f.c"
	clang -fsanitize=fuzzer "$t/f.c" -o "$t/f" >/dev/null 2>&1 || missing="$missing libclang-rt-dev"
	rm -rf "$t"
fi
missing=$(printf '%s\n' $missing | sort -u | xargs)
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "installing test tools: $missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null && exit 0
	echo "mmproxy: apt-get install failed for: $missing" >&2
	exit 1
fi
echo "mmproxy: missing test tools: $missing (as root: apt-get install $missing)" >&2
exit 1
