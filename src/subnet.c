/*
 * -allowed-subnets and -allowed-destinations: one CIDR a line (for
 * destinations, optionally ":port" or ":lo-hi" after it), '#' comments,
 * blank lines.  Any
 * doubt at load time is an error naming FILE:LINE, and an empty list is
 * an error too: the list fails closed, never open.  One exception, for
 * go-mmproxy's files: host bits (10.0.0.1/8) are cleared, as Go's
 * net.ParseCIDR does, with a warning naming the first such line.
 * It matches addresses; it never sees a connection.
 */
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "subnet.h"

#define SUBNET_LINE_MAX	256
#define SUBNET_MAX	65536

static const uint8_t *
ip_bytes(const struct sockaddr_storage *sa, size_t *len)
{
	if (sa->ss_family == AF_INET) {
		*len = 4;
		return (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	}
	*len = 16;
	return ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
}

/* 1 if the first prefix bits of a and b agree. */
static int
prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[full] ^ b[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/*
 * Clear the bits after the first prefix bits of the len bytes a.  Returns
 * 1 if any was set.
 */
static int
host_bits_clear(uint8_t *a, size_t len, unsigned prefix)
{
	size_t i;
	int was_set = 0;

	for (i = prefix / 8; i < len; i++) {
		uint8_t mask = 0xff;
		if (i == prefix / 8)
			mask = (uint8_t)(0xff >> (prefix % 8));
		was_set |= (a[i] & mask) != 0;
		a[i] &= (uint8_t)~mask;
	}
	return was_set;
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* ":port" or ":lo-hi" into out's range.  Returns NULL, or what is wrong. */
static const char *
parse_ports(const char *s, struct subnet *out)
{
	const char *dash = strchr(s, '-');
	size_t lolen = dash != NULL ? (size_t)(dash - s) : strlen(s);

	if (addr_parse_port(s, lolen, &out->port_lo) == -1)
		return "invalid port";
	out->port_hi = out->port_lo;
	if (dash != NULL && addr_parse_port(dash + 1, strlen(dash + 1),
	    &out->port_hi) == -1)
		return "invalid port";
	if (out->port_hi < out->port_lo)
		return "port range ends before it starts";
	return NULL;
}

/*
 * Parse one CIDR, with ports (":port", ":lo-hi") if ports is 1.  Returns
 * NULL, or what is wrong with it.  *masked is set to 1 if host bits had to
 * be cleared.
 */
static const char *
parse_cidr(const char *s, int ports, struct subnet *out, int *masked)
{
	struct sockaddr_storage sa;
	const char *slash = strchr(s, '/'), *colon, *why;
	const uint8_t *bytes;
	size_t len, plen;
	unsigned prefix;

	if (slash == NULL)
		return "expected address/prefix";
	if (addr_parse_ip(s, (size_t)(slash - s), &sa) == -1)
		return "invalid address";
	colon = strchr(slash, ':');
	if (colon != NULL && !ports)
		return "a port is not allowed here";
	plen = colon != NULL ? (size_t)(colon - slash - 1) : strlen(slash + 1);
	if (addr_parse_port(slash + 1, plen, &prefix) == -1)
		return "invalid prefix length";
	bytes = ip_bytes(&sa, &len);
	if (prefix > len * 8)
		return "prefix length too long for the address family";
	memset(out, 0, sizeof(*out));
	out->family = sa.ss_family;
	out->prefix = prefix;
	out->port_hi = 65535;
	memcpy(out->addr, bytes, len);
	if (colon != NULL && (why = parse_ports(colon + 1, out)) != NULL)
		return why;
	/* Host bits set may be a typo, but go-mmproxy (Go's net.ParseCIDR)
	 * takes the network: so do we, and the caller warns. */
	*masked = host_bits_clear(out->addr, len, prefix);
	return NULL;
}

static int
list_add(struct subnet_list *list, const struct subnet *s)
{
	struct subnet *v;

	if (list->n == SUBNET_MAX) {
		errno = E2BIG;
		return -1;
	}
	v = realloc(list->v, (list->n + 1) * sizeof(*v));
	if (v == NULL)
		return -1;
	list->v = v;
	list->v[list->n++] = *s;
	return 0;
}

/* The warning for the first line whose host bits were cleared. */
static void
warn_masked(struct subnet_list *list, const char *path, unsigned lineno,
    const char *line, const struct subnet *s)
{
	char net[INET6_ADDRSTRLEN];

	if (list->warning[0] != '\0')
		return;
	if (inet_ntop(s->family, s->addr, net, sizeof(net)) == NULL)
		net[0] = '\0';
	snprintf(list->warning, sizeof(list->warning), "%s:%u: host bits set "
	    "in \"%.64s\": taken as %s/%u, the network, as go-mmproxy does",
	    path, lineno, line, net, s->prefix);
}

/*
 * Load path into list; ports: lines may end in ":port" or ":lo-hi".
 * Returns 0, or -1 with a message "path:line: what" in err.  On success
 * list->warning is "" or one warning (host bits set).
 */
int
subnet_load(const char *path, struct subnet_list *list, int ports, char *err,
    size_t errlen)
{
	char buf[SUBNET_LINE_MAX];
	unsigned lineno = 0;
	FILE *fp;

	list->v = NULL;
	list->n = 0;
	list->warning[0] = '\0';
	if ((fp = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(buf, sizeof(buf), fp) != NULL) {
		struct subnet s;
		const char *why;
		char *line, *hash;
		int masked;

		lineno++;
		if (strchr(buf, '\n') == NULL && !feof(fp)) {
			snprintf(err, errlen, "%s:%u: line too long", path, lineno);
			goto fail;
		}
		if ((hash = strchr(buf, '#')) != NULL)
			*hash = '\0';
		line = trim(buf);
		if (*line == '\0')
			continue;
		if ((why = parse_cidr(line, ports, &s, &masked)) != NULL) {
			snprintf(err, errlen, "%s:%u: %s: \"%s\"", path, lineno,
			    why, line);
			goto fail;
		}
		if (masked)
			warn_masked(list, path, lineno, line, &s);
		if (list_add(list, &s) == -1) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno,
			    strerror(errno));
			goto fail;
		}
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	fclose(fp);
	if (list->n == 0) {
		snprintf(err, errlen, "%s:%u: no subnet in file (an empty list "
		    "would refuse everyone)", path, lineno);
		return -1;
	}
	return 0;
fail:
	fclose(fp);
	subnet_free(list);
	return -1;
}

void
subnet_free(struct subnet_list *list)
{
	free(list->v);
	list->v = NULL;
	list->n = 0;
}

/* The entry of list that holds sa (v4-mapped counts as IPv4), or NULL. */
static const struct subnet *
subnet_find(const struct subnet_list *list, const struct sockaddr_storage *sa,
    int with_port)
{
	struct sockaddr_storage p = *sa;
	const uint8_t *bytes;
	unsigned port;
	size_t i, len;

	addr_unmap(&p);
	if (p.ss_family != AF_INET && p.ss_family != AF_INET6)
		return NULL;
	bytes = ip_bytes(&p, &len);
	port = addr_port(&p);
	for (i = 0; i < list->n; i++) {
		const struct subnet *s = &list->v[i];

		if (s->family == p.ss_family &&
		    prefix_equal(s->addr, bytes, s->prefix) &&
		    (!with_port || (port >= s->port_lo && port <= s->port_hi)))
			return s;
	}
	return NULL;
}

/*
 * 1 if peer (v4-mapped counts as IPv4) is inside a subnet of list, else 0.
 */
int
subnet_match(const struct subnet_list *list, const struct sockaddr_storage *peer)
{
	return subnet_find(list, peer, 0) != NULL;
}

/* 1 if sa's address is inside an entry of list and its port in the
 * entry's range, else 0. */
int
subnet_match_port(const struct subnet_list *list,
    const struct sockaddr_storage *sa)
{
	return subnet_find(list, sa, 1) != NULL;
}
