#!/usr/bin/env bats
# -v 0: startup, shutdown, fatal errors only; -v 1: plus per-connection
# errors and drops; -v 2: every state change.  One line an event, key=value,
# the connection id on each.

load helpers

setup() {
	ns_setup
	start_backends echo
}

teardown() {
	ns_teardown
}

one_good_one_bad() {
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\nok\n' --shut --read
	[ "$output" = "ok" ]
	run pp --text 'PROXY TCP9 x\r\n' --read --timeout-ms 20000
	[ -z "$output" ]
}

@test "-v 0 logs the start line and no per-connection line" {
	start_mmproxy -v 0
	one_good_one_bad
	kill -TERM "$MM_PID"
	wait "$MM_PID"
	[ "$(grep -cv '^\(start\|stop\) ' "$MM_LOG")" -eq 0 ]
	grep -q '^stop signal=TERM' "$MM_LOG"
}

@test "-v 1 logs drops with the parser's reason but not state changes" {
	start_mmproxy -v 1
	one_good_one_bad
	wait_log '^drop id=2 peer=127\.0\.0\.1:[0-9]+ src=- target=- reason=v1_bad_proto$'
	! log_has "$MM_LOG" '^(accept|header|connect|close|spawn) '
}

@test "-v 2 logs every state change with id, peer, source and target" {
	start_mmproxy -v 2
	one_good_one_bad
	wait_log '^close id=1 peer=127\.0\.0\.1:[0-9]+ src=198\.51\.100\.7:40000 target=127\.0\.0\.1:4430 duration=[0-9]+\.[0-9]{3} relay=copy up=3 down=3 end=eof$'
	wait_log '^drop id=2 .*reason=v1_bad_proto$'
	grep -qE '^accept id=1 peer=127\.0\.0\.1:[0-9]+ worker=[0-9]+$' "$MM_LOG"
	grep -qE '^header id=1 peer=127\.0\.0\.1:[0-9]+ version=1 src=198\.51\.100\.7:40000 dst=127\.0\.0\.1:8443$' "$MM_LOG"
	grep -qE '^connect id=1 peer=127\.0\.0\.1:[0-9]+ src=198\.51\.100\.7:40000 target=127\.0\.0\.1:4430$' "$MM_LOG"
}

@test "every log line is key=value after the event name" {
	start_mmproxy -v 2
	one_good_one_bad
	wait_log '^drop id=2 '
	# event, then key=value pairs (values may be quoted)
	! grep -vE '^[a-z_]+( [a-z_0-9]+=("[^"]*"|[^ "]*))+$' "$MM_LOG"
}

@test "a health check (LOCAL, then a reset) logs nothing at -v 1 and end=check_reset at -v 2; a real client's reset still logs" {
	start_mmproxy -v 1
	# v2 | LOCAL | UNSPEC | len 0, then a byte's echo, then a reset, as
	# HAProxy's `check` ends; and a v1 UNKNOWN one.
	run pp --hex "$SIG 20 00 0000" --text 'x' --hold-ms 300 --reset
	run pp --text 'PROXY UNKNOWN\r\nx' --hold-ms 300 --reset
	# A client's connection reset the same way is an error.
	run pp --text 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 8443\r\nx' --hold-ms 300 --reset
	wait_log '^close id=3 .* end=error side=client error="Connection reset by peer"$'
	[ "$(grep -c '^close ' "$MM_LOG")" -eq 1 ]
	! grep -q ' id=[12] ' "$MM_LOG"
	stop_mmproxy
	start_mmproxy -v 2
	run pp --hex "$SIG 20 00 0000" --text 'x' --hold-ms 300 --reset
	wait_log '^close id=1 peer=127\.0\.0\.1:[0-9]+ src=- target=127\.0\.0\.1:4430 duration=[0-9]+\.[0-9]{3} relay=copy up=1 down=1 end=check_reset$'
}

# Every line of FILE is one JSON object with ts, level and msg; prints
# them as "level msg key=value..." lines for the test to grep.
json_lines() {
	python3 -c '
import json, re, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o.pop("ts")), line
    level, msg = o.pop("level"), o.pop("msg")
    assert level in ("debug", "info", "warn", "error"), line
    print(level, msg, " ".join("%s=%s" % kv for kv in o.items()))
' "$1"
}

@test "-log-format json: every line, the supervisor's and the workers', is one JSON object with ts, level, msg and the fields" {
	MM_START='"msg":"start"' start_mmproxy -log-format json
	one_good_one_bad
	stop_mmproxy
	run json_lines "$MM_LOG"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^info start version=.* listen=127.0.0.1:8443 ' <<<"$output"
	# A worker's lines: the connection's, and the bad header's drop.
	grep -q '^debug connect id=1 peer=127.0.0.1:[0-9]* src=198.51.100.7:40000 target=127.0.0.1:4430$' <<<"$output"
	grep -q '^warn drop id=2 .* reason=v1_bad_proto$' <<<"$output"
	grep -q '^info stop signal=TERM ' <<<"$output"
}

@test "-log-time: text lines carry ts= right after the event word" {
	start_mmproxy -log-time
	one_good_one_bad
	grep -Eq '^start ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z version=' "$MM_LOG"
	grep -Eq '^connect ts=[0-9-]+T[0-9:.]+Z id=1 ' "$MM_LOG"
}

@test "values are logfmt-quoted: a reload error naming a path with a space and quotes parses, in text and in JSON" {
	ALLOWED=$BATS_TEST_TMPDIR/'my "lb" list'
	printf '127.0.0.0/8\n' >"$ALLOWED"
	MM_START='"msg":"start"' start_mmproxy -allowed-subnets "$ALLOWED" -log-format json
	printf '127.0.0.0/8\nbanana/8\n' >"$ALLOWED"
	kill -HUP "$MM_PID"
	wait_log '"msg":"reload"'
	run python3 -c '
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["msg"] == "reload":
        print(o["allowed_subnets"]); print(o["kept"]); print(o["error"])
' "$MM_LOG"
	echo "$output"
	[ "${lines[0]}" = "$ALLOWED" ]
	[ "${lines[1]}" = 1 ]
	[ "${lines[2]}" = "$ALLOWED:2: invalid address: \"banana/8\"" ]
	stop_mmproxy
	# The same line in text: one logfmt value each.
	printf '127.0.0.0/8\n' >"$ALLOWED"
	start_mmproxy -allowed-subnets "$ALLOWED"
	printf 'banana/8\n' >"$ALLOWED"
	kill -HUP "$MM_PID"
	wait_log '^reload '
	# The path's quotes escaped as \" in each value.
	q=$(sed 's/"/\\"/g' <<<"$ALLOWED")
	want="reload allowed_subnets=\"$q\" kept=1 error=\"$q:1: invalid address: \\\"banana/8\\\"\""
	echo "want: $want"
	grep '^reload ' "$MM_LOG"
	grep -qxF "$want" "$MM_LOG"
}
