/*
 * The upstream socket, TCP or UDP.  Bound with IP_TRANSPARENT to the
 * client's own address and port, the backend sees the real client; replies
 * come back to us through the "ip rule ... lookup 123 / local 0.0.0.0/0"
 * routes the README describes.  The supervisor prepares the socket; the
 * worker, holding no capability, binds and connects it.
 * It holds no state; dial_prepare is the supervisor's (it needs
 * CAP_NET_ADMIN), dial_upstream and dial_udp are the worker's.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "dial.h"
#include "io.h"
#include "log.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

/* Three SYNs (1 + 2 + 4 s): an unreachable backend fails in seconds. */
#define DIAL_SYNCNT	2

/*
 * The part of an upstream socket that needs CAP_NET_ADMIN, done by the
 * supervisor (or, in -inetd mode, before the sandbox): the kernel checks
 * the capability when IP_TRANSPARENT and SO_MARK are set, not at bind()
 * or connect(), so a worker holding no capability can still bind the
 * socket to the client's address.  Only these, and a TCP socket's
 * keepalive (tcp_keepalive_set: no option the worker's filter need allow),
 * are set here: the rest are the worker's (dial_upstream), off the
 * supervisor's accept path.
 * type: SOCK_STREAM or SOCK_DGRAM.  mark != 0 sets SO_MARK.
 * Returns a non-blocking socket, or -1 with errno set.
 */
int
dial_prepare(int family, int type, uint32_t mark)
{
	int v6 = family == AF_INET6, fd;

	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (sockopt_set_int(fd, v6 ? SOL_IPV6 : SOL_IP,
	    v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, 1) == -1)
		goto fail;
	if (mark != 0 && sockopt_set_int(fd, SOL_SOCKET, SO_MARK, (int)mark) == -1)
		goto fail;
	if (type == SOCK_STREAM && tcp_keepalive_set(fd) == -1)
		goto fail;
	return fd;
fail:
	return close_fail(fd);
}

/*
 * What dial_prepare gave the supervisor for family: fd, or -1 with errno
 * set.  A failure is logged once per episode (*failing, the caller's), as
 * the caller retries it a moment later; a success ends the episode.
 */
void
dial_prepare_result(int family, int fd, int *failing)
{
	if (fd != -1) {
		*failing = 0;
		return;
	}
	if (!*failing)
		log_line(LOG_ERRORS, "prepare family=%s error=\"%s\"",
		    family == AF_INET6 ? "ipv6" : "ipv4", strerror(errno));
	*failing = 1;
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
 * Bind fd (from dial_prepare) to src, or to src's address and a port of
 * the kernel's choosing when src's port cannot be had: taken by another
 * flow (UDP: two sockets bound and connected to the same 4-tuple would
 * share the backend's replies), or below the unprivileged port range
 * (binding it needs CAP_NET_BIND_SERVICE, which a worker does not hold).
 * *port_lost says why (NULL when it kept the port).
 * Returns 0, or -1 with errno set.
 */
static int
bind_source(int fd, const struct sockaddr_storage *src, const char **port_lost)
{
	struct sockaddr_storage any_port = *src;

	*port_lost = NULL;
	if (bind(fd, (const struct sockaddr *)src, addr_len(src)) == 0)
		return 0;
	if ((errno != EADDRINUSE && errno != EACCES) || addr_port(src) == 0)
		return -1;
	*port_lost = errno == EACCES ? "privileged_port" : "port_in_use";
	addr_set_port(&any_port, 0);
	return bind(fd, (const struct sockaddr *)&any_port, addr_len(&any_port));
}

/*
 * Connect the prepared TCP socket fd (from dial_prepare) to target, from
 * src, or from our own address when src is NULL (LOCAL, UNKNOWN: the real
 * endpoints).  Gives up at deadline_ms (monotonic).  *port_lost: see
 * bind_source().  fd is the caller's to close either way.
 * Returns 0, or -1 with errno set.
 */
int
dial_upstream(int fd, const struct sockaddr_storage *target,
    const struct sockaddr_storage *src, int64_t deadline_ms,
    const char **port_lost)
{
	*port_lost = NULL;
	if (sockopt_set_int(fd, IPPROTO_TCP, TCP_SYNCNT, DIAL_SYNCNT) == -1 ||
	    sockopt_set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1) == -1)
		return -1;
	/* SO_REUSEADDR: a client's address and port may still be in
	 * TIME_WAIT from its last connection.  IP_BIND_ADDRESS_NO_PORT: a
	 * source of port 0 leaves the choice to connect(), as go-mmproxy. */
	if (src != NULL && (sockopt_set_int(fd, SOL_SOCKET, SO_REUSEADDR,
	    1) == -1 || (addr_port(src) == 0 && sockopt_set_int(fd, SOL_IP,
	    IP_BIND_ADDRESS_NO_PORT, 1) == -1) ||
	    bind_source(fd, src, port_lost) == -1))
		return -1;
	if (connect(fd, (const struct sockaddr *)target, addr_len(target)) == -1) {
		if (errno != EINPROGRESS && errno != EINTR)
			return -1;
		if (wait_connected(fd, deadline_ms) == -1)
			return -1;
	}
	return 0;
}

/*
 * Connect the prepared UDP socket fd (from dial_prepare) to target, from
 * src, or from our own address when src is NULL (LOCAL).  Connecting
 * sends nothing; it fixes the flow's 4-tuple, so the kernel gives us only
 * the backend's replies.  *port_lost: see bind_source().  fd is the
 * caller's to close either way.
 * Returns 0, or -1 with errno set.
 */
int
dial_udp(int fd, const struct sockaddr_storage *target,
    const struct sockaddr_storage *src, const char **port_lost)
{
	*port_lost = NULL;
	if (src != NULL && bind_source(fd, src, port_lost) == -1)
		return -1;
	return connect(fd, (const struct sockaddr *)target, addr_len(target));
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
