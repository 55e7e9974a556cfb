/*
 * Addresses.  IPv4 text is parsed here, strictly (four decimal numbers,
 * no leading zeros: the PROXY spec's form); IPv6 text goes to inet_pton
 * after a check of its characters and length.
 * Pure functions: no I/O, no state.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

/* Longest IPv6 text: eight groups, or six and a dotted quad. */
#define IP6_TEXT_MAX	45

static int
parse_ipv4(const char *s, size_t len, uint32_t *out)
{
	uint32_t v = 0;
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		unsigned n = 0;
		size_t start = i;

		if (part > 0) {
			if (i >= len || s[i] != '.')
				return -1;
			start = ++i;
		}
		while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 3)
			n = n * 10 + (unsigned)(s[i++] - '0');
		if (i == start || n > 255)
			return -1;
		if (s[start] == '0' && i - start > 1)
			return -1;	/* leading zero: octal in some parsers */
		v = v << 8 | n;
	}
	if (i != len)
		return -1;
	*out = v;
	return 0;
}

static int
parse_ipv6(const char *s, size_t len, struct in6_addr *out)
{
	char text[IP6_TEXT_MAX + 1];
	size_t i;

	if (len < 2 || len > IP6_TEXT_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
			return -1;	/* no zone id, no spaces */
	}
	memcpy(text, s, len);
	text[len] = '\0';
	return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

/*
 * Parse an IPv4 or IPv6 address (not NUL-terminated) into out, port 0.
 * Returns 0, or -1 if s is not an address.
 */
int
addr_parse_ip(const char *s, size_t len, struct sockaddr_storage *out)
{
	uint32_t v4;

	memset(out, 0, sizeof(*out));
	if (parse_ipv4(s, len, &v4) == 0) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(v4);
		return 0;
	}
	if (parse_ipv6(s, len, &((struct sockaddr_in6 *)out)->sin6_addr) == 0) {
		out->ss_family = AF_INET6;
		return 0;
	}
	return -1;
}

/*
 * Parse a decimal port 0-65535 without sign or leading zeros.
 * Returns 0, or -1.
 */
int
addr_parse_port(const char *s, size_t len, unsigned *port)
{
	unsigned v = 0;
	size_t i;

	if (len == 0 || len > 5 || (s[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = v;
	return 0;
}

/*
 * Parse "a.b.c.d:port" or "[v6]:port".  Returns 0, or -1.
 */
int
addr_parse_hostport(const char *s, struct sockaddr_storage *out)
{
	const char *colon, *host = s;
	size_t hostlen;
	unsigned port;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		host = s + 1;
		hostlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hostlen = (size_t)(colon - s);
	}
	if (addr_parse_ip(host, hostlen, out) == -1)
		return -1;
	/* A bare IPv6 address needs brackets to carry a port. */
	if (s[0] != '[' && out->ss_family != AF_INET)
		return -1;
	if (s[0] == '[' && out->ss_family != AF_INET6)
		return -1;
	if (addr_parse_port(colon + 1, strlen(colon + 1), &port) == -1)
		return -1;
	addr_set_port(out, port);
	return 0;
}

socklen_t
addr_len(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (sa->ss_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return sizeof(*sa);
}

/* Same family, address and port (and, for IPv6, flow info and scope). */
int
addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	return memcmp(a, b, addr_len(a)) == 0;
}

unsigned
addr_port(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

void
addr_set_port(struct sockaddr_storage *sa, unsigned port)
{
	if (sa->ss_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
	else if (sa->ss_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
}

/*
 * Turn ::ffff:a.b.c.d into a.b.c.d, keeping the port: such an address
 * is IPv4 everywhere after parsing (PROXY-SPEC, v4-mapped policy).
 */
void
addr_unmap(struct sockaddr_storage *sa)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;
	struct sockaddr_in sin;

	if (sa->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = sin6->sin6_port;
	memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
	memset(sa, 0, sizeof(*sa));
	memcpy(sa, &sin, sizeof(sin));
}

/*
 * 1 if a source bound with IP_TRANSPARENT would reach the backend as a
 * local address: unspecified, multicast or the IPv4 broadcast address.
 */
int
addr_is_unusable_source(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		return a == 0 || a == 0xffffffffu || (a >> 28) == 0xe;
	}
	if (sa->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_MULTICAST(a);
	}
	return 1;
}

/* 1 if sa (unmapped) is a loopback address: 127.0.0.0/8 or ::1. */
int
addr_is_loopback(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET)
		return ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >>
		    24 == 127;
	if (sa->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(
		    &((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

/*
 * 1 if a PROXY source src claims loopback while the balancer that sent it
 * (peer, unmapped) is not on this host's loopback: a remote balancer can
 * have no loopback client, and backends trust loopback (PROXY-SPEC,
 * policy).  A balancer on this host may proxy a local client.
 */
int
addr_loopback_claimed(const struct sockaddr_storage *src,
    const struct sockaddr_storage *peer)
{
	return addr_is_loopback(src) && !addr_is_loopback(peer);
}

/*
 * "a.b.c.d:port" or "[v6]:port"; "?" for anything else.
 */
void
addr_format(const struct sockaddr_storage *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, addr_port(sa));
	} else if (sa->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, addr_port(sa));
	} else
		snprintf(buf, len, "?");
}
