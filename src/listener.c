/*
 * Opening our own listening sockets (standalone mode): -listeners N
 * sockets on -l, one SO_REUSEPORT group.  It only opens them; accepting is
 * tcp_listener.c's and reading udp_listener.c's.  SO_REUSEPORT would let a
 * second mmproxy (or anyone of our uid with it set) join the group and
 * take half the clients (HAZARDS 19): the address is first bound alone,
 * without it, and a process already there stops us.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <unistd.h>

#include "addr.h"
#include "io.h"
#include "listener.h"
#include "log.h"
#include "udp_listener.h"

static int
listener_open(const struct sockaddr_storage *sa, int udp, int dual,
    int transparent)
{
	int fd, one = 1, zero = 0;

	fd = socket(sa->ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, udp ? IPPROTO_UDP : IPPROTO_TCP);
	if (fd == -1)
		return -1;
	/* -l :port is Go's dual-stack listener, whatever bindv6only says. */
	if (dual && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
	    sizeof(zero)) == -1)
		return close_fail(fd);
	/* -listen-transparent: a TPROXY rule may hand us connections and
	 * datagrams for any address and port (needs CAP_NET_ADMIN). */
	if (transparent && (sa->ss_family == AF_INET6 ?
	    setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) :
	    setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one))) == -1)
		return close_fail(fd);
	/* SO_REUSEPORT: -listeners N binds N sockets the kernel balances
	 * (UDP: and each peer's own socket binds beside them). */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1 ||
	    bind(fd, (const struct sockaddr *)sa, addr_len(sa)) == -1 ||
	    (udp ? udp_listener_prepare(fd, transparent) :
	    listen(fd, SOMAXCONN)) == -1)
		return close_fail(fd);
	return fd;
}

/*
 * 0 if nothing else holds sa (TCP: no listener; SO_REUSEADDR lets
 * TIME_WAIT and a former instance's connections be), or -1 with errno
 * set: EADDRINUSE when another socket does.  The probe is closed at once:
 * the group is bound right after it.
 */
static int
address_free(const struct sockaddr_storage *sa, int udp, int dual,
    int transparent)
{
	int fd, one = 1, zero = 0, rc;

	fd = socket(sa->ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	rc = (dual && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
	    sizeof(zero)) == -1) || (transparent && setsockopt(fd,
	    sa->ss_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
	    sa->ss_family == AF_INET6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &one,
	    sizeof(one)) == -1) || (!udp && setsockopt(fd, SOL_SOCKET,
	    SO_REUSEADDR, &one, sizeof(one)) == -1) ||
	    bind(fd, (const struct sockaddr *)sa, addr_len(sa)) == -1 ? -1 : 0;
	if (rc == -1)
		return close_fail(fd);
	close(fd);
	return 0;
}

/*
 * Open opt->listeners sockets on opt->listen into fds; exits with one line
 * naming the address on failure.
 */
void
listeners_open(const struct options *opt, int *fds)
{
	char text[ADDR_STRLEN];
	unsigned i;

	addr_format(&opt->listen, text, sizeof(text));
	if (address_free(&opt->listen, opt->udp, opt->listen_dual,
	    opt->listen_transparent) == -1) {
		if (errno == EADDRINUSE)
			fatalx("-l %s: address already in use: another process "
			    "listens there (mmproxy shares a port only among "
			    "its own -listeners)", text);
		fatal("-l %s: cannot listen", text);
	}
	for (i = 0; i < opt->listeners; i++)
		if ((fds[i] = listener_open(&opt->listen, opt->udp,
		    opt->listen_dual, opt->listen_transparent)) == -1)
			fatal("-l %s: cannot listen", text);
}
