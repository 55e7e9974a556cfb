/*
 * PROXY protocol parser.  Rules are from HAProxy's doc/proxy-protocol.txt
 * (2020/03/05) and our policy in PROXY-SPEC.md; section numbers below are
 * the spec's.  Every length is checked before the bytes it covers are read,
 * and a prefix that can no longer become a valid header is rejected at
 * once rather than waiting for the deadline.
 * It does no I/O and keeps no state: bytes in, a verdict out.
 */
#include <netinet/in.h>
#include <string.h>

#include "addr.h"
#include "crc32c.h"
#include "proxy_protocol.h"

static const uint8_t v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

#define V2_CMD_LOCAL		0x0
#define V2_CMD_PROXY		0x1
#define V2_FAM_UNSPEC		0x0
#define V2_FAM_INET		0x1
#define V2_FAM_INET6		0x2
#define V2_FAM_UNIX		0x3
#define V2_TR_UNSPEC		0x0

#define TLV_CRC32C		0x03
#define TLV_UNIQUE_ID		0x05
#define TLV_SSL			0x20
#define UNIQUE_ID_MAX		128
#define SSL_FIXED_LEN		5	/* client (1) + verify (4) */

/* Address block sizes by family (2.2). */
static const size_t v2_addr_size[4] = { 0, 12, 36, 216 };

#define V1_IP4_TEXT_MAX		15
#define V1_IP6_TEXT_MAX		45
#define V1_PORT_TEXT_MAX	5
#define V1_FIELDS		6

static enum pp_status
invalid(enum pp_reason *why, enum pp_reason r)
{
	*why = r;
	return PP_INVALID;
}

static int
is_prefix(const uint8_t *b, size_t n, const char *word)
{
	size_t wl = strlen(word);

	return n <= wl && memcmp(b, word, n) == 0;
}

static int
is_word(const uint8_t *b, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(b, word, n) == 0;
}

/* ---- version 1 ---- */

enum v1_proto { V1_TCP4, V1_TCP6, V1_UNKNOWN };

/* Can this incomplete field still become valid?  (field 2..5) */
static enum pp_reason
v1_partial_ok(const uint8_t *f, size_t n, unsigned idx, enum v1_proto proto)
{
	size_t i, max;
	unsigned port;

	if (idx >= 4) {
		if (n > V1_PORT_TEXT_MAX || (n > 1 && f[0] == '0'))
			return PP_R_V1_BAD_PORT;
		for (i = 0; i < n; i++)
			if (f[i] < '0' || f[i] > '9')
				return PP_R_V1_BAD_PORT;
		if (n > 0 && addr_parse_port((const char *)f, n, &port) == -1)
			return PP_R_V1_BAD_PORT;
		return PP_R_NONE;
	}
	max = proto == V1_TCP4 ? V1_IP4_TEXT_MAX : V1_IP6_TEXT_MAX;
	if (n > max)
		return PP_R_V1_BAD_ADDR;
	for (i = 0; i < n; i++) {
		uint8_t c = f[i];
		int ok = (c >= '0' && c <= '9') || c == '.';
		if (proto == V1_TCP6)
			ok = ok || c == ':' || (c >= 'a' && c <= 'f') ||
			    (c >= 'A' && c <= 'F');
		if (!ok)
			return PP_R_V1_BAD_ADDR;
	}
	return PP_R_NONE;
}

/* A complete address or port field (1.4: exact forms). */
static enum pp_reason
v1_field(const uint8_t *f, size_t n, unsigned idx, enum v1_proto proto,
    struct pp_header *h)
{
	struct sockaddr_storage *sa = idx == 2 || idx == 4 ? &h->src : &h->dst;
	struct sockaddr_storage tmp;
	unsigned port;

	if (idx >= 4) {
		if (addr_parse_port((const char *)f, n, &port) == -1)
			return PP_R_V1_BAD_PORT;
		addr_set_port(sa, port);
		return PP_R_NONE;
	}
	if (addr_parse_ip((const char *)f, n, &tmp) == -1)
		return PP_R_V1_BAD_ADDR;
	if ((proto == V1_TCP4) != (tmp.ss_family == AF_INET))
		return PP_R_V1_BAD_ADDR;	/* family must match the token */
	*sa = tmp;
	return PP_R_NONE;
}

/* The protocol token (field 1), complete or not. */
static enum pp_reason
v1_proto(const uint8_t *f, size_t n, int complete, enum v1_proto *proto)
{
	if (is_word(f, n, "TCP4"))
		*proto = V1_TCP4;
	else if (is_word(f, n, "TCP6"))
		*proto = V1_TCP6;
	else if (is_word(f, n, "UNKNOWN"))
		*proto = V1_UNKNOWN;
	else if (complete || !(is_prefix(f, n, "TCP4") ||
	    is_prefix(f, n, "TCP6") || is_prefix(f, n, "UNKNOWN")))
		return PP_R_V1_BAD_PROTO;
	return PP_R_NONE;
}

/*
 * Check the n bytes of line (CRLF excluded).  When complete is 0 the line
 * is still arriving: its last field may be unfinished.
 */
static enum pp_status
v1_fields(const uint8_t *line, size_t n, int complete, struct pp_header *h,
    enum pp_reason *why)
{
	enum v1_proto proto = V1_UNKNOWN;
	enum pp_reason r;
	size_t start = 0, end;
	unsigned idx;

	for (idx = 0; start <= n; idx++, start = end + 1) {
		int last;

		for (end = start; end < n && line[end] != ' '; end++)
			;
		last = end == n;	/* no space after this field (yet) */
		if (idx == 0) {
			if (!(last && !complete ? is_prefix(line, end, "PROXY") :
			    is_word(line, end, "PROXY")))
				return invalid(why, PP_R_BAD_SIGNATURE);
		} else if (idx == 1) {
			if ((r = v1_proto(line + start, end - start,
			    complete || !last, &proto)) != PP_R_NONE)
				return invalid(why, r);
			/* 1.4: with UNKNOWN the rest of the line is ignored. */
			if (proto == V1_UNKNOWN && (complete || !last) &&
			    is_word(line + start, end - start, "UNKNOWN")) {
				h->real_endpoints = 1;
				return complete ? PP_OK : PP_NEED_MORE;
			}
		} else if (idx >= V1_FIELDS) {
			return invalid(why, PP_R_V1_BAD_FIELDS);
		} else if (end == start && (complete || !last)) {
			return invalid(why, PP_R_V1_BAD_FIELDS);	/* 2 spaces */
		} else if (last && !complete) {
			if ((r = v1_partial_ok(line + start, end - start, idx,
			    proto)) != PP_R_NONE)
				return invalid(why, r);
		} else if ((r = v1_field(line + start, end - start, idx, proto,
		    h)) != PP_R_NONE)
			return invalid(why, r);
		if (last)
			break;
	}
	if (!complete)
		return PP_NEED_MORE;
	if (idx != V1_FIELDS - 1)
		return invalid(why, PP_R_V1_BAD_FIELDS);
	return PP_OK;
}

static enum pp_status
v1_parse(const uint8_t *b, size_t n, struct pp_header *h, enum pp_reason *why)
{
	size_t i, lim = n < PP_V1_MAX ? n : PP_V1_MAX;
	enum pp_status st;

	h->version = 1;
	for (i = 0; i < lim; i++) {
		uint8_t c = b[i];

		if (c == '\r') {
			if (i + 1 == n)
				break;		/* the LF may be on its way */
			if (b[i + 1] != '\n')
				return invalid(why, PP_R_V1_BAD_CRLF);
			if (i + 2 > PP_V1_MAX)
				return invalid(why, PP_R_V1_TOO_LONG);
			st = v1_fields(b, i, 1, h, why);
			if (st == PP_OK)
				h->len = i + 2;
			return st;
		}
		if (c == '\n')
			return invalid(why, PP_R_V1_BAD_CRLF);	/* bare LF */
		if (c < 0x20 || c > 0x7e)
			return invalid(why, PP_R_V1_BAD_CHAR);
	}
	if (n >= PP_V1_MAX)
		return invalid(why, PP_R_V1_TOO_LONG);
	return v1_fields(b, i, 0, h, why);
}

/* ---- version 2 ---- */

/* Walk type-length-value records in b[off, end). 1 if they fit exactly. */
static int
tlvs_fit(const uint8_t *b, size_t off, size_t end)
{
	while (off < end) {
		size_t vlen;

		if (end - off < 3)
			return 0;
		vlen = (size_t)b[off + 1] << 8 | b[off + 2];
		off += 3;
		if (vlen > end - off)
			return 0;
		off += vlen;
	}
	return 1;
}

/* 2.2.5: the CRC of the whole header, with the checksum field zeroed. */
static int
crc_ok(const uint8_t *b, size_t total, size_t valoff)
{
	static const uint8_t zero[4];
	uint32_t want, crc;

	want = (uint32_t)b[valoff] << 24 | (uint32_t)b[valoff + 1] << 16 |
	    (uint32_t)b[valoff + 2] << 8 | b[valoff + 3];
	crc = crc32c_update(0, b, valoff);
	crc = crc32c_update(crc, zero, sizeof(zero));
	crc = crc32c_update(crc, b + valoff + 4, total - valoff - 4);
	return crc == want;
}

/* 2.2: the TLVs of a complete header, b[off, total). */
static enum pp_reason
v2_tlvs(const uint8_t *b, size_t off, size_t total)
{
	if (!tlvs_fit(b, off, total))
		return PP_R_TLV_TRUNCATED;
	while (off < total) {
		uint8_t type = b[off];
		size_t vlen = (size_t)b[off + 1] << 8 | b[off + 2];
		size_t val = off + 3;

		if (type == TLV_CRC32C) {
			if (vlen != 4)
				return PP_R_CRC_LENGTH;
			if (!crc_ok(b, total, val))
				return PP_R_CRC_MISMATCH;
		} else if (type == TLV_UNIQUE_ID && vlen > UNIQUE_ID_MAX) {
			return PP_R_UNIQUE_ID_LONG;
		} else if (type == TLV_SSL) {
			if (vlen < SSL_FIXED_LEN)
				return PP_R_SSL_SHORT;
			if (!tlvs_fit(b, val + SSL_FIXED_LEN, val + vlen))
				return PP_R_SSL_TRUNCATED;
		}
		/* Every other type (ALPN, AUTHORITY, NOOP, NETNS, custom) is skipped. */
		off = val + vlen;
	}
	return PP_R_NONE;
}

static void
v2_addresses(const uint8_t *a, unsigned fam, struct pp_header *h)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&h->src;
	struct sockaddr_in *d4 = (struct sockaddr_in *)&h->dst;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&h->src;
	struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)&h->dst;
	size_t alen = fam == V2_FAM_INET ? 4 : 16;
	unsigned sport = (unsigned)a[2 * alen] << 8 | a[2 * alen + 1];
	unsigned dport = (unsigned)a[2 * alen + 2] << 8 | a[2 * alen + 3];

	if (fam == V2_FAM_INET) {
		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
		memcpy(&d4->sin_addr, a + 4, 4);
	} else {
		s6->sin6_family = d6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		memcpy(&d6->sin6_addr, a + 16, 16);
	}
	addr_set_port(&h->src, sport);
	addr_set_port(&h->dst, dport);
}

static enum pp_status
v2_parse(const uint8_t *b, size_t n, enum pp_transport want,
    struct pp_header *h, enum pp_reason *why)
{
	unsigned cmd, fam, tr;
	size_t total, asize;
	enum pp_reason r;

	h->version = 2;
	if (n < 13)
		return PP_NEED_MORE;
	if (b[12] >> 4 != 2)
		return invalid(why, PP_R_V2_BAD_VERSION);
	if ((cmd = b[12] & 0xf) > V2_CMD_PROXY)
		return invalid(why, PP_R_V2_BAD_COMMAND);
	if (n < 14)
		return PP_NEED_MORE;
	if ((fam = b[13] >> 4) > V2_FAM_UNIX)
		return invalid(why, PP_R_V2_BAD_FAMILY);
	if ((tr = b[13] & 0xf) > PP_DGRAM)
		return invalid(why, PP_R_V2_BAD_TRANSPORT);
	/* The transport must fit the listener; UNSPEC only with LOCAL. */
	if (tr != want && !(cmd == V2_CMD_LOCAL && tr == V2_TR_UNSPEC))
		return invalid(why, PP_R_WRONG_TRANSPORT);
	if (n < 16) {
		h->need = 16;
		return PP_NEED_MORE;
	}
	total = 16 + ((size_t)b[14] << 8 | b[15]);
	asize = v2_addr_size[fam];
	if (cmd == V2_CMD_PROXY && total - 16 < asize)
		return invalid(why, PP_R_SHORT_ADDR);
	if (n < total) {
		h->need = total;
		return PP_NEED_MORE;
	}
	if (total - 16 >= asize && (r = v2_tlvs(b, 16 + asize, total)) != PP_R_NONE)
		return invalid(why, r);
	h->len = total;
	if (cmd == V2_CMD_LOCAL || fam == V2_FAM_UNSPEC || fam == V2_FAM_UNIX) {
		h->real_endpoints = 1;
		return PP_OK;
	}
	v2_addresses(b + 16, fam, h);
	return PP_OK;
}

/*
 * Parse the first len bytes of a connection (or one datagram) received on a
 * listener of transport tr.
 * Returns PP_OK with *hdr filled (hdr->len bytes are the header; anything
 * after is payload), PP_NEED_MORE when buf is a valid prefix (hdr->need is
 * the total size when known, else 0), or PP_INVALID with *why set.
 */
enum pp_status
pp_parse(const uint8_t *buf, size_t len, enum pp_transport tr,
    struct pp_header *hdr, enum pp_reason *why)
{
	enum pp_status st;

	memset(hdr, 0, sizeof(*hdr));
	*why = PP_R_NONE;
	if (len == 0)
		return PP_NEED_MORE;
	if (memcmp(buf, v2_sig, len < sizeof(v2_sig) ? len : sizeof(v2_sig)) == 0)
		st = v2_parse(buf, len, tr, hdr, why);
	else if (is_prefix(buf, len < 5 ? len : 5, "PROXY")) {
		if (tr == PP_DGRAM)
			return invalid(why, PP_R_V1_ON_DGRAM);
		st = v1_parse(buf, len, hdr, why);
	} else
		return invalid(why, PP_R_BAD_SIGNATURE);
	if (st != PP_OK || hdr->real_endpoints)
		return st;
	addr_unmap(&hdr->src);
	addr_unmap(&hdr->dst);
	if (addr_is_unusable_source(&hdr->src))
		return invalid(why, PP_R_BAD_SOURCE);
	return PP_OK;
}

/*
 * Parse one UDP datagram of len bytes.  Every datagram carries a whole
 * header (PROXY-SPEC, UDP framing): nothing more can arrive, so a valid
 * prefix is a truncated header, not a reason to wait.
 * Returns PP_OK with *hdr filled (payload from hdr->len on), or PP_INVALID
 * with *why set (PP_R_TRUNCATED for a header cut short).  Never
 * PP_NEED_MORE.
 */
enum pp_status
pp_parse_datagram(const uint8_t *buf, size_t len, struct pp_header *hdr,
    enum pp_reason *why)
{
	enum pp_status st = pp_parse(buf, len, PP_DGRAM, hdr, why);

	if (st == PP_NEED_MORE)
		return invalid(why, PP_R_TRUNCATED);
	return st;
}

/*
 * 1 if a datagram of len bytes starts with the v2 signature: with
 * -udp-framing v2-first, a session start (valid or not), not a payload.
 */
int
pp_starts_v2(const uint8_t *buf, size_t len)
{
	return len >= sizeof(v2_sig) && memcmp(buf, v2_sig, sizeof(v2_sig)) == 0;
}

/* An SPP address: 16 bytes of IPv6, IPv4 as ::ffff:a.b.c.d. */
static void
spp_address(const uint8_t *a, unsigned port, struct sockaddr_storage *out)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

	memset(out, 0, sizeof(*out));
	s6->sin6_family = AF_INET6;
	memcpy(&s6->sin6_addr, a, 16);
	addr_set_port(out, port);
	addr_unmap(out);
}

/*
 * Parse one datagram of Cloudflare's Simple Proxy Protocol (PROXY-SPEC,
 * UDP framing): magic 0x56EC, client address (16), proxy address (16),
 * client port (2), proxy port (2), network byte order, then the payload.
 * Returns PP_OK with *hdr filled (src: the client, dst: the proxy, both
 * unmapped; len: PP_SPP_LEN), or PP_INVALID with *why set.
 */
enum pp_status
pp_parse_spp(const uint8_t *buf, size_t len, struct pp_header *hdr,
    enum pp_reason *why)
{
	memset(hdr, 0, sizeof(*hdr));
	*why = PP_R_NONE;
	if (len < PP_SPP_LEN)
		return invalid(why, PP_R_SPP_SHORT);
	if (buf[0] != 0x56 || buf[1] != 0xec)
		return invalid(why, PP_R_SPP_BAD_MAGIC);
	spp_address(buf + 2, (unsigned)buf[34] << 8 | buf[35], &hdr->src);
	spp_address(buf + 18, (unsigned)buf[36] << 8 | buf[37], &hdr->dst);
	hdr->len = PP_SPP_LEN;
	if (addr_is_unusable_source(&hdr->src))
		return invalid(why, PP_R_BAD_SOURCE);
	return PP_OK;
}

const char *
pp_reason_str(enum pp_reason why)
{
#define PP_REASON_STR(name, str) case name: return str;
	switch (why) {
	PP_REASONS(PP_REASON_STR)
	}
#undef PP_REASON_STR
	return "unknown";
}
