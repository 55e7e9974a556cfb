/*
 * A startup check of the routing the README asks for: a backend on this
 * host answers the client's (foreign) address, and that reply must be
 * delivered locally, to mmproxy's transparent socket.  The kernel is asked
 * with one RTM_GETROUTE over netlink, as `ip route get ADDR from BACKEND`
 * would: the route of a reply the backend sends (its output route; the
 * README's rules match it because locally sent packets count as "iif lo").  Missing routes are only warned about: they may
 * legitimately be set up later, or elsewhere.
 * It only asks; it never changes a route.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "localaddr.h"
#include "log.h"
#include "routecheck.h"

#define NL_BUF		4096
#define NL_WAIT_MS	1000

struct route_req {
	struct nlmsghdr	n;
	struct rtmsg	r;
	char		attrs[64];
};

static void
add_attr(struct route_req *q, unsigned short type, const void *data,
    size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)q + NLMSG_ALIGN(q->n.nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	q->n.nlmsg_len = NLMSG_ALIGN(q->n.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/*
 * The route type the kernel picks for a packet this host sends from src
 * to dst (RTN_LOCAL, RTN_UNICAST...), or -1 if it cannot be asked.
 */
static int
route_type(int family, const void *src, const void *dst, size_t alen)
{
	struct route_req q;
	char buf[NL_BUF];
	struct pollfd p;
	int fd, type = -1;
	ssize_t n;

	if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
	    NETLINK_ROUTE)) == -1)
		return -1;
	memset(&q, 0, sizeof(q));
	q.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	q.n.nlmsg_type = RTM_GETROUTE;
	q.n.nlmsg_flags = NLM_F_REQUEST;
	q.r.rtm_family = (unsigned char)family;
	q.r.rtm_dst_len = q.r.rtm_src_len = (unsigned char)(alen * 8);
	add_attr(&q, RTA_DST, dst, alen);
	add_attr(&q, RTA_SRC, src, alen);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (send(fd, &q, q.n.nlmsg_len, 0) == -1 || poll(&p, 1, NL_WAIT_MS) != 1 ||
	    (n = recv(fd, buf, sizeof(buf), 0)) < (ssize_t)NLMSG_LENGTH(0))
		goto out;
	{
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (h->nlmsg_type == RTM_NEWROUTE && NLMSG_OK(h, (unsigned)n) &&
		    h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct rtmsg)))
			type = ((struct rtmsg *)NLMSG_DATA(h))->rtm_type;
		else if (h->nlmsg_type == NLMSG_ERROR)
			type = RTN_UNREACHABLE;	/* no route at all */
	}
out:
	close(fd);
	return type;
}

/* 1 if this host has IPv6 turned off (ipv6.disable=1, or disable_ipv6). */
static int
ipv6_disabled(void)
{
	char c = '0';
	int fd;

	if (access("/proc/net/if_inet6", F_OK) == -1)
		return 1;
	if ((fd = open("/proc/sys/net/ipv6/conf/all/disable_ipv6",
	    O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (read(fd, &c, 1) != 1)
		c = '0';
	close(fd);
	return c == '1';
}

/*
 * One family: target is the backend.  One on loopback needs the README's
 * rules; one on another address of this host, a rule from that address
 * too.  A backend elsewhere is not checked (its routing is the network's).
 */
static void
check_family(const struct sockaddr_storage *target)
{
	static const uint8_t doc4[4] = { 198, 51, 100, 1 };
	static const uint8_t doc6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	char t[ADDR_STRLEN], ip[ADDR_STRLEN];
	const void *a;
	int type, loop, v4 = target->ss_family == AF_INET;

	if (!v4 && ipv6_disabled()) {
		log_warning("IPv6 is disabled on this host: IPv6 clients will be "
		    "dropped");
		return;
	}
	if (v4) {
		a = &((const struct sockaddr_in *)target)->sin_addr;
		loop = *(const uint8_t *)a == 127;
	} else {
		a = &((const struct sockaddr_in6 *)target)->sin6_addr;
		loop = IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)a);
	}
	if (!loop && !localaddr_is_local(target))
		return;
	type = route_type(target->ss_family, a, v4 ? doc4 : doc6, v4 ? 4 : 16);
	if (type == -1 || type == RTN_LOCAL)
		return;
	addr_format(target, t, sizeof(t));
	if (!loop) {
		inet_ntop(target->ss_family, a, ip, sizeof(ip));
		log_warning("the backend %s is on this host: its replies to "
		    "client addresses are not delivered to mmproxy; run: "
		    "mmproxy-routes up; ip%s rule add from %s iif lo table 123",
		    t, v4 ? "" : " -6", ip);
	} else if (v4)
		log_warning("the backend %s's replies to client "
		    "addresses are not delivered to mmproxy; run: ip rule add from "
		    "127.0.0.1/8 iif lo table 123; ip route add local 0.0.0.0/0 "
		    "dev lo table 123", t);
	else
		log_warning("the backend %s's replies to client "
		    "addresses are not delivered to mmproxy; run: ip -6 rule add "
		    "from ::1/128 iif lo table 123; ip -6 route add local ::/0 "
		    "dev lo table 123", t);
}

/*
 * Warn, once per family, when a backend on this host could not answer a
 * client through mmproxy for want of the local-delivery routes.
 */
void
routecheck_warn(const struct sockaddr_storage *target4,
    const struct sockaddr_storage *target6)
{
	check_family(target4);
	check_family(target6);
}
