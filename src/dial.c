/*
 * The upstream socket, TCP or UDP.  Bound with IP_TRANSPARENT to the client's own
 * address and port, the backend sees the real client; replies come back
 * to us through the "ip rule ... lookup 123 / local 0.0.0.0/0" routes the
 * README describes.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "addr.h"
#include "dial.h"
#include "io.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

/* Three SYNs (1 + 2 + 4 s): an unreachable backend fails in seconds. */
#define DIAL_SYNCNT	2

static int
set_transparent(int fd, const struct sockaddr_storage *src)
{
	int v6 = src->ss_family == AF_INET6;

	return sockopt_set_int(fd, v6 ? SOL_IPV6 : SOL_IP,
	    v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, 1);
}

/* Bind fd to src transparently.  Returns 0, or -1 with errno set. */
static int
bind_transparent(int fd, const struct sockaddr_storage *src)
{
	if (set_transparent(fd, src) == -1)
		return -1;
	if (sockopt_set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) == -1)
		return -1;
	/* Port 0: let connect() pick the port, as go-mmproxy does. */
	if (addr_port(src) == 0 &&
	    sockopt_set_int(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1) == -1)
		return -1;
	return bind(fd, (const struct sockaddr *)src, addr_len(src));
}

static int
wait_connected(int fd, int64_t deadline_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int r, err = 0;

	do {
		r = poll(&pfd, 1, ms_until(deadline_ms));
	} while (r == -1 && errno == EINTR);
	if (r == -1)
		return -1;
	if (r == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/*
 * Connect to target, from src with IP_TRANSPARENT, or from our own address
 * when src is NULL (LOCAL, UNKNOWN: the real endpoints).  mark != 0 sets
 * SO_MARK.  Gives up at deadline_ms (monotonic).
 * Returns a connected non-blocking socket, or -1 with errno set.
 */
int
dial_upstream(const struct sockaddr_storage *target,
    const struct sockaddr_storage *src, uint32_t mark, int64_t deadline_ms)
{
	int fd;

	fd = socket(target->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    IPPROTO_TCP);
	if (fd == -1)
		return -1;
	if (src != NULL && bind_transparent(fd, src) == -1)
		goto fail;
	if (mark != 0 && sockopt_set_int(fd, SOL_SOCKET, SO_MARK, (int)mark) == -1)
		goto fail;
	if (sockopt_set_int(fd, IPPROTO_TCP, TCP_SYNCNT, DIAL_SYNCNT) == -1 ||
	    sockopt_set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1) == -1)
		goto fail;
	if (connect(fd, (const struct sockaddr *)target, addr_len(target)) == -1) {
		if (errno != EINPROGRESS && errno != EINTR)
			goto fail;
		if (wait_connected(fd, deadline_ms) == -1)
			goto fail;
	}
	return fd;
fail:
	return close_fail(fd);
}

/*
 * Bind a UDP socket to src transparently.  No SO_REUSEADDR: two sockets
 * bound and connected to the same 4-tuple would share the backend's
 * replies, so when another flow (through another balancer) already holds
 * the client's address and port, this one takes an ephemeral port on the
 * client's address instead and *port_taken says so.
 * Returns 0, or -1 with errno set.
 */
static int
bind_transparent_udp(int fd, const struct sockaddr_storage *src,
    int *port_taken)
{
	struct sockaddr_storage any_port = *src;

	*port_taken = 0;
	if (set_transparent(fd, src) == -1)
		return -1;
	if (bind(fd, (const struct sockaddr *)src, addr_len(src)) == 0)
		return 0;
	if (errno != EADDRINUSE || addr_port(src) == 0)
		return -1;
	*port_taken = 1;
	addr_set_port(&any_port, 0);
	return bind(fd, (const struct sockaddr *)&any_port, addr_len(&any_port));
}

/*
 * A UDP socket connected to target, from src with IP_TRANSPARENT, or from
 * our own address when src is NULL (LOCAL: the real endpoints).  mark != 0
 * sets SO_MARK.  Connecting sends nothing; it fixes the flow's 4-tuple, so
 * the kernel gives us only the backend's replies.  *port_taken: set when
 * src's port was in use and an ephemeral one was taken.
 * Returns a connected non-blocking socket, or -1 with errno set.
 */
int
dial_udp(const struct sockaddr_storage *target,
    const struct sockaddr_storage *src, uint32_t mark, int *port_taken)
{
	int fd;

	*port_taken = 0;
	fd = socket(target->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    IPPROTO_UDP);
	if (fd == -1)
		return -1;
	if (src != NULL && bind_transparent_udp(fd, src, port_taken) == -1)
		goto fail;
	if (mark != 0 && sockopt_set_int(fd, SOL_SOCKET, SO_MARK, (int)mark) == -1)
		goto fail;
	if (connect(fd, (const struct sockaddr *)target, addr_len(target)) == -1)
		goto fail;
	return fd;
fail:
	return close_fail(fd);
}

/*
 * At startup: can this process set the options every upstream socket
 * needs?  The kernel checks CAP_NET_ADMIN when IP_TRANSPARENT (and
 * SO_MARK) are set, so without it every connection would fail later.
 * Returns 0, or -1 with errno set and *what naming the option.
 */
int
dial_check_privilege(uint32_t mark, const char **what)
{
	int fd;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		*what = "socket";
		return -1;
	}
	*what = "IP_TRANSPARENT";
	if (sockopt_set_int(fd, SOL_IP, IP_TRANSPARENT, 1) == -1)
		goto fail;
	*what = "SO_MARK";
	if (mark != 0 && sockopt_set_int(fd, SOL_SOCKET, SO_MARK, (int)mark) == -1)
		goto fail;
	close(fd);
	return 0;
fail:
	return close_fail(fd);
}
