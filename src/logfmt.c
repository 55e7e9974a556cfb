/*
 * How a log line is written: `event key=value ...` (logfmt), a value that
 * holds a space, '"', '\' or '=' (or any byte that is not printable
 * ASCII) in double quotes with '"' and '\' escaped and other bytes as
 * \xNN; or, with -log-format json, the same line as one JSON object with
 * ts, level, msg (the event) and the fields, as go-mmproxy logs.  Pure:
 * strings in, strings out; no I/O, no allocation, nothing a filter could
 * refuse (the calendar is computed, not looked up).
 */
#include <stdio.h>
#include <string.h>

#include "logfmt.h"

static int
bare_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

/*
 * s as a logfmt value in buf (len bytes): as it is if it needs no quotes,
 * else quoted; cut short (still closed) if buf is too small.  Returns buf.
 */
const char *
logfmt_quote(char *buf, size_t len, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, i;
	int bare = *p != '\0';

	for (i = 0; p[i] != '\0'; i++)
		bare &= bare_ok(p[i]);
	if (len < 3) {
		if (len > 0)
			buf[0] = '\0';
		return buf;
	}
	if (bare) {
		snprintf(buf, len, "%s", s);
		return buf;
	}
	buf[o++] = '"';
	for (; *p != '\0' && o + 5 < len; p++) {
		if (*p == '"' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*p;
		} else if (*p < 0x20 || *p >= 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *p);
		else
			buf[o++] = (char)*p;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian, UTC). */
static void
civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	int64_t era, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	yoe = z - era * 146097;
	yoe = (yoe - yoe / 1460 + yoe / 36524 - yoe / 146096) / 365;
	doy = z - era * 146097 - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* ms since the epoch as RFC 3339 UTC with milliseconds, into buf. */
void
logfmt_timestamp(char *buf, size_t len, int64_t ms)
{
	int64_t s = ms / 1000, days = s / 86400, sod = s % 86400;
	unsigned m, d;
	int y;

	civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", y, m, d,
	    (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60),
	    (unsigned)(sod % 60), (unsigned)(ms % 1000));
}

/* Append s (n bytes) to out as a JSON string's contents. */
static size_t
json_chars(char *out, size_t o, size_t cap, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && o + 7 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		else
			out[o++] = (char)c;
	}
	return o;
}

static size_t
json_str(char *out, size_t o, size_t cap, const char *s, size_t n)
{
	if (o + 2 < cap)
		out[o++] = '"';
	o = json_chars(out, o, cap, s, n);
	if (o + 2 < cap)
		out[o++] = '"';
	return o;
}

/* A quoted logfmt value at s (n bytes) unescaped into val.  Returns its
 * length in val; *used: the bytes of s it took. */
static size_t
unquote(const char *s, size_t n, char *val, size_t cap, size_t *used)
{
	size_t i = 1, v = 0;
	unsigned x;

	while (i < n && s[i] != '"' && v + 1 < cap) {
		if (s[i] == '\\' && i + 1 < n && s[i + 1] == 'x' && i + 3 < n &&
		    sscanf(s + i + 2, "%2x", &x) == 1) {
			val[v++] = (char)x;
			i += 4;
		} else if (s[i] == '\\' && i + 1 < n) {
			val[v++] = s[i + 1];
			i += 2;
		} else
			val[v++] = s[i++];
	}
	*used = i < n ? i + 1 : i;
	return v;
}

/* 1 if line is `event key=value ...` with a lowercase event word. */
static int
is_event(const char *line, size_t n)
{
	size_t i;

	for (i = 0; i < n && line[i] != ' '; i++)
		if (!((line[i] >= 'a' && line[i] <= 'z') || line[i] == '_' ||
		    (line[i] >= '0' && line[i] <= '9')))
			return 0;
	return i > 0;
}

/*
 * The JSON object for one line (n bytes, no newline) into out (cap
 * bytes): {"ts":ts,"level":level,"msg":event, key: value...}; a line that
 * is not an event (a fatal error's text) is all msg.  Values stay strings.
 * Returns its length (0 if cap is too small for anything).
 */
size_t
logfmt_to_json(const char *line, size_t n, const char *ts, const char *level,
    char *out, size_t cap)
{
	char val[1024];
	size_t o, i, k, v, used;

	if (cap < 64)
		return 0;
	o = (size_t)snprintf(out, cap, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":",
	    ts, level);
	if (!is_event(line, n))
		i = n;
	else
		for (i = 0; i < n && line[i] != ' '; i++)
			;
	o = json_str(out, o, cap, line, i);
	while (i < n) {
		while (i < n && line[i] == ' ')
			i++;
		for (k = i; k < n && line[k] != '=' && line[k] != ' '; k++)
			;
		if (k == i)
			break;
		if (o + 2 < cap)
			out[o++] = ',';
		o = json_str(out, o, cap, line + i, k - i);
		if (o + 2 < cap)
			out[o++] = ':';
		if (k >= n || line[k] != '=') {
			/* A word with no value: true, as logfmt reads it. */
			if (o + 6 < cap)
				o += (size_t)snprintf(out + o, cap - o, "true");
			i = k;
			continue;
		}
		k++;
		if (k < n && line[k] == '"') {
			v = unquote(line + k, n - k, val, sizeof(val), &used);
			o = json_str(out, o, cap, val, v);
			i = k + used;
		} else {
			for (i = k; i < n && line[i] != ' '; i++)
				;
			o = json_str(out, o, cap, line + k, i - k);
		}
	}
	if (o + 1 < cap)
		out[o++] = '}';
	out[o] = '\0';
	return o;
}
