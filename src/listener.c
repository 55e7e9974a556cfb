/*
 * Opening our own listening sockets (standalone mode): -listeners N
 * sockets on -l, one SO_REUSEPORT group.  It only opens them; accepting is
 * tcp_listener.c's and reading udp_listener.c's.
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
 * Open opt->listeners sockets on opt->listen into fds; exits with one line
 * naming the address on failure.
 */
void
listeners_open(const struct options *opt, int *fds)
{
	char text[ADDR_STRLEN];
	unsigned i;

	addr_format(&opt->listen, text, sizeof(text));
	for (i = 0; i < opt->listeners; i++)
		if ((fds[i] = listener_open(&opt->listen, opt->udp,
		    opt->listen_dual, opt->listen_transparent)) == -1)
			fatal("-l %s: cannot listen", text);
}
