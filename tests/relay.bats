#!/usr/bin/env bats
# The relay: half-close is propagated, a reset closes both sides, and
# nothing is lost or reordered.

load helpers

setup() {
	ns_setup
}

teardown() {
	ns_teardown
}

@test "half-close: a client that shuts down writing still gets the reply" {
	# The drain backend answers only after it has seen EOF: if the client's
	# FIN were not passed on it would never answer, and if mmproxy closed
	# both ways on that FIN the client would never read the answer.
	start_backends drain
	start_mmproxy
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\n' --text 'twelve bytes' --shut --read
	[ "$status" -eq 0 ]
	[ "$output" = "received 12 bytes" ]
	wait_log '^close id=1 .* up=12 down=18 end=eof$'
}

@test "half-close: the backend's FIN reaches the client while the client keeps sending" {
	# hello then echo: the client reads the greeting and echo until the
	# backend's EOF, which only comes after the client's own FIN.
	start_backends hello
	start_mmproxy
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40001 8443\r\n' --text 'one\n' --text 'two\n' --shut --read
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "one" ]
	[ "${lines[2]}" = "two" ]
}

@test "a reset from the client closes the upstream connection too" {
	start_backends echo
	start_mmproxy
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40002 8443\r\nbye\n' --hold-ms 300 --reset
	[ "$status" -eq 0 ]
	wait_log '^close id=1 .* end=error side=client error=' 
	wait_log '^close peer=198\.51\.100\.7:40002 in=4 out=4$' "$BE4_LOG"
}

@test "64 MiB both ways arrive complete and in order (checksums match)" {
	start_backends echo
	start_mmproxy
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40003 8443\r\n' --bulk 67108864 --timeout-ms 600000
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^sent=67108864\ sent_sum=([0-9a-f]{16})\ recv=67108864\ recv_sum=([0-9a-f]{16})$ ]]
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
	wait_log '^close id=1 .* up=67108864 down=67108864 end=eof$'
	wait_log '^close peer=198\.51\.100\.7:40003 in=67108864 out=67108864$' "$BE4_LOG"
}

@test "without a free fd for pipes the relay copies through a buffer, and loses nothing" {
	start_backends echo
	# 7 fds: the worker has stdio, its channel, the client and the upstream
	# socket, and no room for a pipe's two ends.
	MM_WRAP="prlimit --nofile=7:7 $MMPROXY_BUILD/tests/closefds" start_mmproxy -workers 1 -max-conns 1
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40004 8443\r\n' --bulk 4194304 --timeout-ms 120000
	echo "$output"
	[[ "$output" =~ ^sent=4194304\ sent_sum=([0-9a-f]{16})\ recv=4194304\ recv_sum=([0-9a-f]{16})$ ]]
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
	wait_log '^close id=1 .* relay=copy up=4194304 down=4194304 end=eof$'
}

@test "with pipes available the relay splices" {
	start_backends echo
	start_mmproxy
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40005 8443\r\n' --bulk 1048576 --timeout-ms 120000
	[ "$status" -eq 0 ]
	wait_log '^close id=1 .* relay=splice up=1048576 down=1048576 end=eof$'
}
