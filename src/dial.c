/*
 * The upstream socket, TCP or UDP.  Bound with IP_TRANSPARENT to the
 * client's own address and port, the backend sees the real client; replies
 * come back to us through the "ip rule ... lookup 123 / local 0.0.0.0/0"
 * routes the README describes.  The supervisor makes, binds and connects
 * the socket (dial_prepare, dial_start), for the source a worker reports
 * (dial_channel.c); the worker, which may neither bind nor connect, only
 * waits for a TCP connect to finish (dial_wait_connected).
 * It holds no state.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
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

#define UNPRIVILEGED_PORT_START	"/proc/sys/net/ipv4/ip_unprivileged_port_start"

/* The supervisor's, read once at startup (dial_init): source ports below
 * it are never given to a client. */
static unsigned unprivileged_port_start = 1024;

/* At startup, before any dial: the host's unprivileged port range. */
void
dial_init(void)
{
	char buf[16];
	ssize_t n;
	int fd = open(UNPRIVILEGED_PORT_START, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		unprivileged_port_start = (unsigned)strtoul(buf, NULL, 10);
	}
}

/*
 * The part of an upstream socket that needs CAP_NET_ADMIN, done by the
 * supervisor (or, in -inetd mode, before the sandbox): the kernel checks
 * the capability when IP_TRANSPARENT and SO_MARK are set, not at bind()
 * or connect(), so a worker holding no capability can still bind the
 * socket to the client's address.  Only these, and a TCP socket's
 * keepalive, are set here, ahead of need (a spare made before accept):
 * the rest are dial_start's, once the source is known.
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

/*
 * Wait until the connecting TCP socket fd (from dial_start) is connected,
 * or deadline_ms (monotonic) passes.  The worker's half of the dial.
 * Returns 0, or -1 with errno set (the connect's own error).
 */
int
dial_wait_connected(int fd, int64_t deadline_ms)
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
 * (the supervisor binds without CAP_NET_BIND_SERVICE: a PROXY header
 * must not give a client a port that only root may use).
 * *port_lost says why (DIAL_PORT_KEPT when it kept the port).
 * Returns 0, or -1 with errno set.
 */
static int
bind_source(int fd, const struct sockaddr_storage *src, uint8_t *port_lost)
{
	struct sockaddr_storage any_port = *src;
	unsigned port = addr_port(src);

	*port_lost = DIAL_PORT_KEPT;
	/* Checked, not left to bind(): a UDP supervisor may hold
	 * CAP_NET_BIND_SERVICE for its listening port. */
	if (port != 0 && port < unprivileged_port_start)
		errno = EACCES;
	else if (bind(fd, (const struct sockaddr *)src, addr_len(src)) == 0)
		return 0;
	if ((errno != EADDRINUSE && errno != EACCES) || port == 0)
		return -1;
	*port_lost = errno == EACCES ? DIAL_PORT_PRIVILEGED : DIAL_PORT_IN_USE;
	addr_set_port(&any_port, 0);
	return bind(fd, (const struct sockaddr *)&any_port, addr_len(&any_port));
}

/*
 * The supervisor's half of a dial, for a worker's request: bind the
 * prepared socket fd (dial_prepare, of type) to src, or leave it our own
 * address when src is NULL (LOCAL, UNKNOWN: the real endpoints), and
 * connect it to target without waiting: a TCP socket is left connecting
 * (the worker waits, dial_wait_connected), a UDP one is connected (that
 * sends nothing; it fixes the flow's 4-tuple, so the kernel gives the
 * flow only the backend's replies).  *port_lost: see bind_source().  fd
 * is the caller's to close either way.
 * Returns 0, or -1 with errno set.
 */
int
dial_start(int fd, int type, const struct sockaddr_storage *target,
    const struct sockaddr_storage *src, uint8_t *port_lost)
{
	*port_lost = DIAL_PORT_KEPT;
	if (type == SOCK_STREAM &&
	    (sockopt_set_int(fd, IPPROTO_TCP, TCP_SYNCNT, DIAL_SYNCNT) == -1 ||
	    sockopt_set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1) == -1))
		return -1;
	/* SO_REUSEADDR: a client's address and port may still be in
	 * TIME_WAIT from its last connection.  IP_BIND_ADDRESS_NO_PORT: a
	 * source of port 0 leaves the choice to connect(), as go-mmproxy. */
	if (src != NULL && ((type == SOCK_STREAM && (sockopt_set_int(fd,
	    SOL_SOCKET, SO_REUSEADDR, 1) == -1 || (addr_port(src) == 0 &&
	    sockopt_set_int(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1) == -1))) ||
	    bind_source(fd, src, port_lost) == -1))
		return -1;
	if (connect(fd, (const struct sockaddr *)target, addr_len(target)) == 0)
		return 0;
	return type == SOCK_STREAM && (errno == EINPROGRESS || errno == EINTR) ?
	    0 : -1;
}

/* A DIAL_PORT_ value as the log says it; NULL for DIAL_PORT_KEPT. */
const char *
dial_port_lost_str(uint8_t port_lost)
{
	switch (port_lost) {
	case DIAL_PORT_IN_USE:
		return "port_in_use";
	case DIAL_PORT_PRIVILEGED:
		return "privileged_port";
	default:
		return NULL;
	}
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
