/*
 * Bytes given on a test client's command line, shared by pp_client and
 * udp_client: hex (white space and '|' ignored) and escaped text (\r \n
 * \\ \xNN).  Each appends to out (cap bytes) at *len and returns NULL, or
 * what is wrong with its argument.
 */
#ifndef MMPROXY_TEST_BYTES_H
#define MMPROXY_TEST_BYTES_H

#include <stddef.h>

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static const char *
bytes_hex(const char *s, unsigned char *out, size_t cap, size_t *len)
{
	int hi = -1;

	for (; *s; s++) {
		int v;

		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '|')
			continue;
		if ((v = hexval((unsigned char)*s)) == -1)
			return "bad hex digit";
		if (hi == -1) {
			hi = v;
			continue;
		}
		if (*len == cap)
			return "too many bytes";
		out[(*len)++] = (unsigned char)(hi << 4 | v);
		hi = -1;
	}
	return hi == -1 ? NULL : "odd number of hex digits";
}

static const char *
bytes_text(const char *s, unsigned char *out, size_t cap, size_t *len)
{
	for (; *s; s++) {
		int c = (unsigned char)*s;

		if (c == '\\' && s[1]) {
			s++;
			if (*s == 'r')
				c = '\r';
			else if (*s == 'n')
				c = '\n';
			else if (*s == 'x' && hexval((unsigned char)s[1]) >= 0 &&
			    hexval((unsigned char)s[2]) >= 0) {
				c = hexval((unsigned char)s[1]) << 4 |
				    hexval((unsigned char)s[2]);
				s += 2;
			} else
				c = (unsigned char)*s;
		}
		if (*len == cap)
			return "too many bytes";
		out[(*len)++] = (unsigned char)c;
	}
	return NULL;
}

#endif
