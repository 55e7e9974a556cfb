/*
 * -dynamic-destination's default guard: a destination is dialled only if
 * it is one of this host's own addresses.  The kernel decides: a route
 * lookup (RTM_GETROUTE, as `ip route get` asks) whose answer is of type
 * RTN_LOCAL, from the local table, whatever the interfaces are called or
 * however their addresses came and went.  Unlike a bind(2) test, it does
 * not say yes for every address when net.ipv4.ip_nonlocal_bind is set.
 * The supervisor asks, never a worker (its filter allows no netlink).
 */
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "localaddr.h"

struct route_req {
	struct nlmsghdr	nh;
	struct rtmsg	rt;
	struct rtattr	dst_attr;
	uint8_t		dst[16];
};

static int
ask(int fd, const struct sockaddr_storage *sa)
{
	struct route_req req;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	size_t alen = sa->ss_family == AF_INET ? 4 : 16;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = (uint32_t)(NLMSG_LENGTH(sizeof(req.rt)) +
	    RTA_LENGTH(alen));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.rt.rtm_family = (unsigned char)sa->ss_family;
	req.rt.rtm_dst_len = (unsigned char)(alen * 8);
	req.dst_attr.rta_type = RTA_DST;
	req.dst_attr.rta_len = (unsigned short)RTA_LENGTH(alen);
	if (sa->ss_family == AF_INET)
		memcpy(req.dst, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else
		memcpy(req.dst, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    16);
	return sendto(fd, &req, req.nh.nlmsg_len, 0,
	    (const struct sockaddr *)&kernel, sizeof(kernel)) ==
	    (ssize_t)req.nh.nlmsg_len ? 0 : -1;
}

/*
 * 1 if sa (AF_INET or AF_INET6, unmapped) is an address of this host,
 * else 0.  Any failure answers 0: the guard fails closed.
 */
int
localaddr_is_local(const struct sockaddr_storage *sa)
{
	union {
		struct nlmsghdr	nh;
		uint8_t		b[4096];
	} reply;
	const struct rtmsg *rt;
	ssize_t n;
	int fd, local = 0;

	if (sa->ss_family != AF_INET && sa->ss_family != AF_INET6)
		return 0;
	if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
	    NETLINK_ROUTE)) == -1)
		return 0;
	if (ask(fd, sa) == 0) {
		do {
			n = recv(fd, &reply, sizeof(reply), 0);
		} while (n == -1 && errno == EINTR);
		/* An error message (no route at all) is not local. */
		if (n >= (ssize_t)NLMSG_LENGTH(sizeof(*rt)) &&
		    NLMSG_OK(&reply.nh, (size_t)n) &&
		    reply.nh.nlmsg_type == RTM_NEWROUTE) {
			rt = NLMSG_DATA(&reply.nh);
			local = rt->rtm_type == RTN_LOCAL;
		}
	}
	close(fd);
	return local;
}
