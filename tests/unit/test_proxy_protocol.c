/*
 * Table-driven tests of the PROXY parser against PROXY-SPEC.md.  Each case
 * is checked whole, at every split offset (every proper prefix must be
 * NEED_MORE for a valid header, and never OK for an invalid one), and with
 * payload appended (the header must end where the spec says).
 *
 * Bytes are hex; spaces and '|' separate fields; "*N" is N zero bytes and
 * "'text'" is literal ASCII.  A case marked CRC has its CRC32C TLV value
 * (the last four bytes of the header) filled in before the test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "crc32c.h"
#include "proxy_protocol.h"

#define SIG	"0d0a0d0a000d0a515549540a "
#define MAXLEN	(PP_V2_MAX + 64)

enum { OK, BAD };
enum { NONE, CRC_GOOD, CRC_BAD };

struct tcase {
	const char		*name;
	const char		*bytes;
	int			 expect;	/* OK or BAD */
	const char		*src;		/* OK: "-" for real endpoints */
	enum pp_reason		 why;		/* BAD */
	enum pp_transport	 tr;
	int			 crc;
};

#define V1(n, text, src)	{ n, "'" text "'", OK, src, PP_R_NONE, PP_STREAM, NONE }
#define V1BAD(n, text, r)	{ n, "'" text "'", BAD, NULL, r, PP_STREAM, NONE }
#define V2(n, hex, src)		{ n, SIG hex, OK, src, PP_R_NONE, PP_STREAM, NONE }
#define V2BAD(n, hex, r)	{ n, SIG hex, BAD, NULL, r, PP_STREAM, NONE }

/* v4 addresses 192.0.2.1 -> 127.0.0.1, ports 40000 -> 443 */
#define A4	"c0000201 7f000001 9c40 01bb"
#define A6	"20010db8000000000000000000000001 00000000000000000000000000000001 9c40 01bb"

static const struct tcase cases[] = {
	/* v1, valid */
	V1("v1 TCP4", "PROXY TCP4 192.0.2.1 198.51.100.2 40000 443\r\n", "192.0.2.1:40000"),
	V1("v1 TCP6", "PROXY TCP6 2001:db8::1 2001:db8::2 40000 443\r\n", "[2001:db8::1]:40000"),
	V1("v1 TCP6 v4-mapped is IPv4", "PROXY TCP6 ::ffff:192.0.2.1 ::1 40000 443\r\n", "192.0.2.1:40000"),
	V1("v1 source port 0", "PROXY TCP4 192.0.2.1 127.0.0.1 0 443\r\n", "192.0.2.1:0"),
	V1("v1 loopback source", "PROXY TCP4 127.0.0.1 127.0.0.1 5000 443\r\n", "127.0.0.1:5000"),
	V1("v1 ports 65535", "PROXY TCP4 192.0.2.1 127.0.0.1 65535 65535\r\n", "192.0.2.1:65535"),
	V1("v1 UNKNOWN short", "PROXY UNKNOWN\r\n", "-"),
	V1("v1 UNKNOWN long", "PROXY UNKNOWN ffff:f:f:f:f:f:f:f ffff:f:f:f:f:f:f:f 65535 65535\r\n", "-"),
	V1("v1 107 bytes", "PROXY UNKNOWN aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", "-"),
	V1("v1 longest TCP6", "PROXY TCP6 efff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n", "[efff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),

	/* v1, invalid */
	V1BAD("not PROXY at all", "GET / HTTP/1.1\r\n", PP_R_BAD_SIGNATURE),
	V1BAD("lowercase proxy", "proxy TCP4 192.0.2.1 127.0.0.1 1 2\r\n", PP_R_BAD_SIGNATURE),
	V1BAD("PROXY without space", "PROXYTCP4 192.0.2.1 127.0.0.1 1 2\r\n", PP_R_BAD_SIGNATURE),
	V1BAD("lowercase tcp4", "PROXY tcp4 192.0.2.1 127.0.0.1 1 2\r\n", PP_R_V1_BAD_PROTO),
	V1BAD("TCP5", "PROXY TCP5 192.0.2.1 127.0.0.1 1 2\r\n", PP_R_V1_BAD_PROTO),
	V1BAD("UNKNOWNX", "PROXY UNKNOWNX\r\n", PP_R_V1_BAD_PROTO),
	V1BAD("PROXY alone", "PROXY\r\n", PP_R_V1_BAD_FIELDS),
	V1BAD("double space", "PROXY TCP4 192.0.2.1  127.0.0.1 1 2\r\n", PP_R_V1_BAD_FIELDS),
	V1BAD("double space after PROXY", "PROXY  TCP4 192.0.2.1 127.0.0.1 1 2\r\n", PP_R_V1_BAD_PROTO),
	V1BAD("trailing space", "PROXY TCP4 192.0.2.1 127.0.0.1 1 2 \r\n", PP_R_V1_BAD_FIELDS),
	V1BAD("five fields", "PROXY TCP4 192.0.2.1 127.0.0.1 1\r\n", PP_R_V1_BAD_FIELDS),
	V1BAD("seven fields", "PROXY TCP4 192.0.2.1 127.0.0.1 1 2 3\r\n", PP_R_V1_BAD_FIELDS),
	V1BAD("tab", "PROXY TCP4\t192.0.2.1 127.0.0.1 1 2\r\n", PP_R_V1_BAD_CHAR),
	V1BAD("NUL", "PROXY TCP4 192.0.2.1\\x00 127.0.0.1 1 2\r\n", PP_R_V1_BAD_CHAR),
	V1BAD("byte 0x80", "PROXY TCP4 192.0.2.1 127.0.0.1 1 2\\x80\r\n", PP_R_V1_BAD_CHAR),
	V1BAD("bare LF", "PROXY TCP4 192.0.2.1 127.0.0.1 1 2\n", PP_R_V1_BAD_CRLF),
	V1BAD("lone CR", "PROXY TCP4 192.0.2.1 127.0.0.1 1 2\rX\n", PP_R_V1_BAD_CRLF),
	V1BAD("108 bytes", "PROXY UNKNOWN aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", PP_R_V1_TOO_LONG),
	V1BAD("no CRLF in 107 bytes", "PROXY UNKNOWN aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", PP_R_V1_TOO_LONG),
	V1BAD("IPv4 leading zero", "PROXY TCP4 01.2.3.4 127.0.0.1 1 2\r\n", PP_R_V1_BAD_ADDR),
	V1BAD("IPv4 octet 256", "PROXY TCP4 192.0.2.256 127.0.0.1 1 2\r\n", PP_R_V1_BAD_ADDR),
	V1BAD("IPv4 three parts", "PROXY TCP4 192.0.2 127.0.0.1 1 2\r\n", PP_R_V1_BAD_ADDR),
	V1BAD("IPv4 five parts", "PROXY TCP4 192.0.2.1.1 127.0.0.1 1 2\r\n", PP_R_V1_BAD_ADDR),
	V1BAD("IPv4 empty part", "PROXY TCP4 192..2.1 127.0.0.1 1 2\r\n", PP_R_V1_BAD_ADDR),
	V1BAD("TCP4 with IPv6", "PROXY TCP4 2001:db8::1 127.0.0.1 1 2\r\n", PP_R_V1_BAD_ADDR),
	V1BAD("TCP6 with IPv4", "PROXY TCP6 192.0.2.1 ::1 1 2\r\n", PP_R_V1_BAD_ADDR),
	V1BAD("TCP4 with IPv6 destination", "PROXY TCP4 192.0.2.1 ::1 1 2\r\n", PP_R_V1_BAD_ADDR),
	V1BAD("IPv6 zone id", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", PP_R_V1_BAD_ADDR),
	V1BAD("IPv6 two ::", "PROXY TCP6 2001::db8::1 ::1 1 2\r\n", PP_R_V1_BAD_ADDR),
	V1BAD("IPv6 group too long", "PROXY TCP6 2001:db8:12345::1 ::1 1 2\r\n", PP_R_V1_BAD_ADDR),
	V1BAD("hostname", "PROXY TCP4 example.com 127.0.0.1 1 2\r\n", PP_R_V1_BAD_ADDR),
	V1BAD("port 65536", "PROXY TCP4 192.0.2.1 127.0.0.1 65536 2\r\n", PP_R_V1_BAD_PORT),
	V1BAD("port leading zero", "PROXY TCP4 192.0.2.1 127.0.0.1 0443 2\r\n", PP_R_V1_BAD_PORT),
	V1BAD("port with sign", "PROXY TCP4 192.0.2.1 127.0.0.1 +443 2\r\n", PP_R_V1_BAD_PORT),
	V1BAD("negative port", "PROXY TCP4 192.0.2.1 127.0.0.1 1 -2\r\n", PP_R_V1_BAD_PORT),
	V1BAD("source 0.0.0.0", "PROXY TCP4 0.0.0.0 127.0.0.1 1 2\r\n", PP_R_BAD_SOURCE),
	V1BAD("source broadcast", "PROXY TCP4 255.255.255.255 127.0.0.1 1 2\r\n", PP_R_BAD_SOURCE),
	V1BAD("source multicast", "PROXY TCP4 224.0.0.1 127.0.0.1 1 2\r\n", PP_R_BAD_SOURCE),
	V1BAD("source ::", "PROXY TCP6 :: ::1 1 2\r\n", PP_R_BAD_SOURCE),
	V1BAD("source ff02::1", "PROXY TCP6 ff02::1 ::1 1 2\r\n", PP_R_BAD_SOURCE),
	V1BAD("source ::ffff:0.0.0.0", "PROXY TCP6 ::ffff:0.0.0.0 ::1 1 2\r\n", PP_R_BAD_SOURCE),
	{ "v1 on a UDP listener", "'PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\n'", BAD, NULL,
	  PP_R_V1_ON_DGRAM, PP_DGRAM, NONE },

	/* v2, valid */
	V2("v2 TCP4", "21 11 000c " A4, "192.0.2.1:40000"),
	V2("v2 TCP6", "21 21 0024 " A6, "[2001:db8::1]:40000"),
	V2("v2 TCP6 v4-mapped is IPv4", "21 21 0024 00000000000000000000ffffc0000201 *16 9c40 01bb", "192.0.2.1:40000"),
	V2("v2 source port 0", "21 11 000c c0000201 7f000001 0000 01bb", "192.0.2.1:0"),
	V2("v2 LOCAL", "20 00 0000", "-"),
	V2("v2 LOCAL with INET and TLV", "20 11 0010 " A4 " 04 0001 00", "-"),
	V2("v2 LOCAL ignores a short address", "20 11 0004 7f000001", "-"),
	V2("v2 PROXY UNSPEC family", "21 01 0000", "-"),
	V2("v2 PROXY UNIX", "21 31 00d8 *216", "-"),
	V2("v2 TLVs ALPN AUTHORITY NOOP NETNS custom",
	    "21 11 0031 " A4 " 01 0002 6832 | 02 000b 'example.com' | 04 0000 | 30 0003 'abc' | e0 0002 ffff | ff 0001 01", "192.0.2.1:40000"),
	V2("v2 UNIQUE_ID of 128 bytes", "21 11 008f " A4 " 05 0080 *128", "192.0.2.1:40000"),
	V2("v2 SSL without sub-TLVs", "21 11 0014 " A4 " 20 0005 01 00000000", "192.0.2.1:40000"),
	V2("v2 SSL with a sub-TLV", "21 11 001a " A4 " 20 000b 01 00000000 21 0003 '1.3'", "192.0.2.1:40000"),
	V2("v2 1 KiB header", "21 11 03f4 " A4 " 04 03e5 *997", "192.0.2.1:40000"),
	V2("v2 largest header", "21 11 ffff " A4 " 04 fff0 *65520", "192.0.2.1:40000"),
	{ "v2 CRC32C correct", SIG "21 11 0013 " A4 " 03 0004 00000000", OK,
	  "192.0.2.1:40000", PP_R_NONE, PP_STREAM, CRC_GOOD },
	{ "v2 UDP4 on a UDP listener", SIG "21 12 000c " A4, OK,
	  "192.0.2.1:40000", PP_R_NONE, PP_DGRAM, NONE },
	{ "v2 LOCAL UNSPEC on a UDP listener", SIG "20 00 0000", OK, "-",
	  PP_R_NONE, PP_DGRAM, NONE },

	/* v2, invalid */
	V2BAD("v2 version 1", "11 11 000c " A4, PP_R_V2_BAD_VERSION),
	V2BAD("v2 version 3", "31 11 000c " A4, PP_R_V2_BAD_VERSION),
	V2BAD("v2 command 2", "22 11 000c " A4, PP_R_V2_BAD_COMMAND),
	V2BAD("v2 command 15", "2f 11 000c " A4, PP_R_V2_BAD_COMMAND),
	V2BAD("v2 family 4", "21 41 000c " A4, PP_R_V2_BAD_FAMILY),
	V2BAD("v2 transport 3", "21 13 000c " A4, PP_R_V2_BAD_TRANSPORT),
	V2BAD("v2 DGRAM on TCP", "21 12 000c " A4, PP_R_WRONG_TRANSPORT),
	V2BAD("v2 PROXY with UNSPEC transport", "21 10 000c " A4, PP_R_WRONG_TRANSPORT),
	V2BAD("v2 LOCAL with DGRAM on TCP", "20 12 0000", PP_R_WRONG_TRANSPORT),
	{ "v2 STREAM on UDP", SIG "21 11 000c " A4, BAD, NULL,
	  PP_R_WRONG_TRANSPORT, PP_DGRAM, NONE },
	V2BAD("v2 INET with 4 address bytes", "21 11 0004 7f000001", PP_R_SHORT_ADDR),
	V2BAD("v2 INET with 11 address bytes", "21 11 000b c0000201 7f000001 9c40 01", PP_R_SHORT_ADDR),
	V2BAD("v2 INET6 with 12 address bytes", "21 21 000c " A4, PP_R_SHORT_ADDR),
	V2BAD("v2 UNIX with 100 address bytes", "21 31 0064 *100", PP_R_SHORT_ADDR),
	V2BAD("v2 INET with 0 address bytes", "21 11 0000", PP_R_SHORT_ADDR),
	V2BAD("v2 one trailing byte", "21 11 000d " A4 " 04", PP_R_TLV_TRUNCATED),
	V2BAD("v2 two trailing bytes", "21 11 000e " A4 " 04 00", PP_R_TLV_TRUNCATED),
	V2BAD("v2 TLV value past the header", "21 11 0010 " A4 " 04 0002 00", PP_R_TLV_TRUNCATED),
	V2BAD("v2 CRC32C of 3 bytes", "21 11 0012 " A4 " 03 0003 000000", PP_R_CRC_LENGTH),
	{ "v2 CRC32C wrong", SIG "21 11 0013 " A4 " 03 0004 00000000", BAD, NULL,
	  PP_R_CRC_MISMATCH, PP_STREAM, CRC_BAD },
	V2BAD("v2 UNIQUE_ID of 129 bytes", "21 11 0090 " A4 " 05 0081 *129", PP_R_UNIQUE_ID_LONG),
	V2BAD("v2 SSL of 4 bytes", "21 11 0013 " A4 " 20 0004 01 000000", PP_R_SSL_SHORT),
	V2BAD("v2 SSL sub-TLV past its end", "21 11 0018 " A4 " 20 0009 01 00000000 21 0005 '1'", PP_R_SSL_TRUNCATED),
	V2BAD("v2 source 0.0.0.0", "21 11 000c 00000000 7f000001 9c40 01bb", PP_R_BAD_SOURCE),
	V2BAD("v2 source 255.255.255.255", "21 11 000c ffffffff 7f000001 9c40 01bb", PP_R_BAD_SOURCE),
	V2BAD("v2 source 224.0.0.1", "21 11 000c e0000001 7f000001 9c40 01bb", PP_R_BAD_SOURCE),
	V2BAD("v2 source ::", "21 21 0024 *16 00000000000000000000000000000001 9c40 01bb", PP_R_BAD_SOURCE),
	V2BAD("v2 source ff02::1", "21 21 0024 ff020000000000000000000000000001 *16 9c40 01bb", PP_R_BAD_SOURCE),
	V2BAD("v2 source ::ffff:255.255.255.255", "21 21 0024 00000000000000000000ffffffffffff *16 9c40 01bb", PP_R_BAD_SOURCE),
	V1BAD("signature with a wrong byte", "\r\n\r\n\\x00\r\nQUIX\n\\x21\\x11\\x00\\x0c", PP_R_BAD_SIGNATURE),
};

/* Prefixes that must be rejected before anything more arrives. */
static const struct {
	const char	*bytes;
	enum pp_reason	 why;
} early[] = {
	{ "'G'", PP_R_BAD_SIGNATURE },
	{ "'PROXY X'", PP_R_V1_BAD_PROTO },
	{ "'PROXY TCP4 192.0.2.a'", PP_R_V1_BAD_ADDR },
	{ "'PROXY TCP4 1234567890123456'", PP_R_V1_BAD_ADDR },
	{ "'PROXY TCP4 01.2.3.4 '", PP_R_V1_BAD_ADDR },
	{ "'PROXY TCP4 192.0.2.1 127.0.0.1 4x'", PP_R_V1_BAD_PORT },
	{ "'PROXY TCP4 192.0.2.1 127.0.0.1 99999'", PP_R_V1_BAD_PORT },
	{ "'PROXY TCP4 192.0.2.1 127.0.0.1 1 2 '", PP_R_V1_BAD_FIELDS },
	{ "'PROXY TCP4 192.0.2.1 127.0.0.1 1\n'", PP_R_V1_BAD_CRLF },
	{ SIG "11", PP_R_V2_BAD_VERSION },
	{ SIG "21 12", PP_R_WRONG_TRANSPORT },
	{ SIG "21 11 0004", PP_R_SHORT_ADDR },
};

static int passed, failed;

static void
check(int ok, const char *name, const char *fmt, const char *a, const char *b)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL %s: ", name);
	printf(fmt, a, b);
	printf("\n");
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode the test notation into buf.  Returns the length. */
static size_t
decode(const char *s, uint8_t *buf)
{
	size_t n = 0;

	while (*s) {
		if (*s == ' ' || *s == '|') {
			s++;
		} else if (*s == '*') {
			size_t z = strtoul(s + 1, (char **)&s, 10);
			memset(buf + n, 0, z);
			n += z;
		} else if (*s == '\'') {
			for (s++; *s && *s != '\''; s++) {
				if (s[0] == '\\' && s[1] == 'x') {
					buf[n++] = (uint8_t)(hexval(s[2]) << 4 | hexval(s[3]));
					s += 3;
				} else
					buf[n++] = (uint8_t)*s;
			}
			if (*s == '\'')
				s++;
		} else {
			if (hexval(s[0]) < 0 || hexval(s[1]) < 0) {
				fprintf(stderr, "bad test notation at \"%s\"\n", s);
				exit(2);
			}
			buf[n++] = (uint8_t)(hexval(s[0]) << 4 | hexval(s[1]));
			s += 2;
		}
	}
	return n;
}

static void
fill_crc(uint8_t *b, size_t n, int mode)
{
	uint32_t crc;

	memset(b + n - 4, 0, 4);
	crc = crc32c_update(0, b, n);
	if (mode == CRC_BAD)
		crc ^= 1;
	b[n - 4] = (uint8_t)(crc >> 24);
	b[n - 3] = (uint8_t)(crc >> 16);
	b[n - 2] = (uint8_t)(crc >> 8);
	b[n - 1] = (uint8_t)crc;
}

static void
run_case(const struct tcase *t, uint8_t *b)
{
	static const char payload[] = "PAYLOAD\r\n";
	enum pp_reason why;
	struct pp_header h;
	char got[ADDR_STRLEN];
	size_t n = decode(t->bytes, b), k;
	enum pp_status st;
	int prefix_ok = 1;

	if (t->crc != NONE)
		fill_crc(b, n, t->crc);
	for (k = 0; k < n; k++) {
		st = pp_parse(b, k, t->tr, &h, &why);
		if (st == PP_OK || (t->expect == OK && st != PP_NEED_MORE)) {
			prefix_ok = 0;
			break;
		}
	}
	check(prefix_ok, t->name, "a %s-byte prefix was %s", "proper",
	    prefix_ok ? "" : st == PP_OK ? "accepted" : pp_reason_str(why));
	memcpy(b + n, payload, sizeof(payload) - 1);
	st = pp_parse(b, n + sizeof(payload) - 1, t->tr, &h, &why);
	if (t->expect == BAD) {
		check(st == PP_INVALID && why == t->why, t->name,
		    "want %s, got %s", pp_reason_str(t->why),
		    st == PP_INVALID ? pp_reason_str(why) : "not invalid");
		return;
	}
	check(st == PP_OK, t->name, "want OK, got %s%s",
	    st == PP_INVALID ? pp_reason_str(why) : "NEED_MORE", "");
	if (st != PP_OK)
		return;
	check(h.len == n, t->name, "header length wrong%s%s", "", "");
	if (h.real_endpoints)
		strcpy(got, "-");
	else
		addr_format(&h.src, got, sizeof(got));
	check(strcmp(got, t->src) == 0, t->name, "want source %s, got %s",
	    t->src, got);
}

/*
 * A datagram is all there is: a prefix of a valid header is "truncated",
 * never a reason to wait; a whole one is OK and its payload follows.
 */
static void
datagram_checks(uint8_t *b)
{
	static const char *whole = SIG "21 12 000c " A4 " 'ping'";
	enum pp_reason why;
	struct pp_header h;
	size_t i, n = decode(whole, b);

	check(pp_parse_datagram(b, n, &h, &why) == PP_OK && h.len == 28 &&
	    n - h.len == 4, "datagram", "%s%s", "UDP4 with a payload of 4: ",
	    "not OK, or the wrong length");
	for (i = 0; i < 28; i++) {
		enum pp_status st = pp_parse_datagram(b, i, &h, &why);
		char at[32];

		snprintf(at, sizeof(at), "%zu", i);
		check(st == PP_INVALID && why == PP_R_TRUNCATED, "datagram prefix",
		    "cut at %s: %s", at, st == PP_INVALID ? pp_reason_str(why) :
		    "not invalid");
	}
	n = decode(SIG "21 11 000c " A4, b);
	check(pp_parse_datagram(b, n, &h, &why) == PP_INVALID &&
	    why == PP_R_WRONG_TRANSPORT, "datagram STREAM", "%s%s",
	    "want wrong_transport", "");
	n = decode("'PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\n'", b);
	check(pp_parse_datagram(b, n, &h, &why) == PP_INVALID &&
	    why == PP_R_V1_ON_DGRAM, "datagram v1", "%s%s", "want v1_on_udp", "");
}

/* SPP: magic | client addr | proxy addr | client port | proxy port. */
#define SPP_MAGIC	"56ec "
#define SPP_C4		"00000000000000000000ffff c6336407 "	/* 198.51.100.7 */
#define SPP_P4		"00000000000000000000ffff c0000202 "	/* 192.0.2.2 */
#define SPP_C6		"20010db8000000000000000000000007 "
#define SPP_P6		"20010db8000000000000000000000002 "

static const struct spp_case {
	const char	*name;
	const char	*bytes;
	int		 expect;
	const char	*src;		/* OK */
	const char	*dst;		/* OK */
	enum pp_reason	 why;		/* BAD */
} spp_cases[] = {
	{ "SPP IPv4 (v4-mapped)", SPP_MAGIC SPP_C4 SPP_P4 "9c40 20fb 'ping'", OK,
	  "198.51.100.7:40000", "192.0.2.2:8443", PP_R_NONE },
	{ "SPP IPv6", SPP_MAGIC SPP_C6 SPP_P6 "9c41 20fb", OK,
	  "[2001:db8::7]:40001", "[2001:db8::2]:8443", PP_R_NONE },
	{ "SPP header only, empty payload", SPP_MAGIC SPP_C4 SPP_P4 "0001 0002",
	  OK, "198.51.100.7:1", "192.0.2.2:2", PP_R_NONE },
	{ "SPP 37 bytes", SPP_MAGIC SPP_C4 SPP_P4 "9c40 20", BAD, NULL, NULL,
	  PP_R_SPP_SHORT },
	{ "SPP empty", "", BAD, NULL, NULL, PP_R_SPP_SHORT },
	{ "SPP wrong magic", "56ed " SPP_C4 SPP_P4 "9c40 20fb", BAD, NULL, NULL,
	  PP_R_SPP_BAD_MAGIC },
	{ "SPP a v2 header is not SPP", SIG "21 12 000c " A4 " *14", BAD, NULL,
	  NULL, PP_R_SPP_BAD_MAGIC },
	{ "SPP unspecified client", SPP_MAGIC "*16 " SPP_P4 "9c40 20fb", BAD,
	  NULL, NULL, PP_R_BAD_SOURCE },
	{ "SPP multicast client", SPP_MAGIC "00000000000000000000ffff e0000001 "
	  SPP_P4 "9c40 20fb", BAD, NULL, NULL, PP_R_BAD_SOURCE },
};

/* Every SPP case; the header is always 38 bytes, the payload the rest. */
static void
spp_checks(uint8_t *b)
{
	size_t i;

	for (i = 0; i < sizeof(spp_cases) / sizeof(spp_cases[0]); i++) {
		const struct spp_case *t = &spp_cases[i];
		size_t n = decode(t->bytes, b);
		char src[ADDR_STRLEN], dst[ADDR_STRLEN];
		enum pp_reason why;
		struct pp_header h;
		enum pp_status st = pp_parse_spp(b, n, &h, &why);

		if (t->expect == BAD) {
			check(st == PP_INVALID && why == t->why, t->name,
			    "want %s, got %s", pp_reason_str(t->why),
			    st == PP_INVALID ? pp_reason_str(why) : "OK");
			continue;
		}
		addr_format(&h.src, src, sizeof(src));
		addr_format(&h.dst, dst, sizeof(dst));
		check(st == PP_OK && h.len == PP_SPP_LEN &&
		    strcmp(src, t->src) == 0 && strcmp(dst, t->dst) == 0,
		    t->name, "got %s", st == PP_OK ? src : pp_reason_str(why),
		    "");
	}
}

/*
 * -udp-framing v2-first: what starts with the v2 signature is a header
 * (header-only: a session start with no payload), anything else is bare.
 */
static void
v2_first_checks(uint8_t *b)
{
	enum pp_reason why;
	struct pp_header h;
	size_t n;

	n = decode(SIG "21 12 000c " A4, b);
	check(pp_starts_v2(b, n) && pp_parse_datagram(b, n, &h, &why) == PP_OK &&
	    h.len == n, "v2-first header only", "%s%s",
	    "want a whole header and no payload", "");
	n = decode(SIG "21 12 000c " A4 " 'hello'", b);
	check(pp_starts_v2(b, n) && pp_parse_datagram(b, n, &h, &why) == PP_OK &&
	    n - h.len == 5, "v2-first header and payload", "%s%s",
	    "want the payload after the header", "");
	n = decode("'hello'", b);
	check(!pp_starts_v2(b, n), "v2-first bare", "%s%s",
	    "a bare payload read as a header", "");
	n = decode("0d0a0d0a000d0a51554954", b);
	check(!pp_starts_v2(b, n), "v2-first 11 signature bytes", "%s%s",
	    "a bare 11-byte payload read as a header", "");
	n = decode(SIG, b);
	check(pp_starts_v2(b, n) && pp_parse_datagram(b, n, &h, &why) ==
	    PP_INVALID && why == PP_R_TRUNCATED, "v2-first signature only",
	    "%s%s", "want a truncated header", "");
}

int
main(void)
{
	static uint8_t b[MAXLEN];
	const uint8_t kat[] = "123456789";
	enum pp_reason why;
	struct pp_header h;
	size_t i, n;

	/* RFC 3720 B.4 / the usual check value of CRC32c. */
	check(crc32c_update(0, kat, 9) == 0xe3069283u, "crc32c check value",
	    "%s%s", "wrong", "");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i], b);
	for (i = 0; i < sizeof(early) / sizeof(early[0]); i++) {
		enum pp_status st;
		n = decode(early[i].bytes, b);
		st = pp_parse(b, n, PP_STREAM, &h, &why);
		check(st == PP_INVALID && why == early[i].why, early[i].bytes,
		    "early rejection: want %s, got %s",
		    pp_reason_str(early[i].why),
		    st == PP_INVALID ? pp_reason_str(why) : "no verdict");
	}
	check(pp_parse(b, 0, PP_STREAM, &h, &why) == PP_NEED_MORE, "empty",
	    "%s%s", "no bytes must need more", "");
	datagram_checks(b);
	spp_checks(b);
	v2_first_checks(b);
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
