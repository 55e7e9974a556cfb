/*
 * echo: the benchmark's backend.  epoll, edge-triggered, one shared read
 * buffer: bytes are written straight back, and only what the socket would
 * not take is kept (per connection, freed once sent), so an idle connection
 * costs the backend almost nothing and the memory measurement stays about
 * the proxy.  The same addresses answer UDP too: each datagram goes back to
 * its sender, in batches of recvmmsg(2) and sendmmsg(2).
 *
 *   echo IP:PORT [IP:PORT]
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"

struct conn {
	int	 fd;
	char	*pend;
	size_t	 pend_len, pend_off;
};

static int epfd;

static void
die(const char *what)
{
	fprintf(stderr, "echo: %s: %s\n", what, strerror(errno));
	exit(1);
}

#define UDP_BATCH	64
#define UDP_MAX		2048	/* bytes of one datagram we echo */

/* Tags in an epoll event's data, below any pointer's alignment. */
#define TAG_TCP_LISTENER	1
#define TAG_UDP			2

static int
listen_on(const char *spec, int type)
{
	struct sockaddr_storage ss;
	int fd, one = 1;

	if (addr_parse_hostport(spec, &ss) == -1)
		return -1;
	fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, addr_len(&ss)) == -1 ||
	    (type == SOCK_STREAM && listen(fd, 4096) == -1))
		die(spec);
	return fd;
}

static void
drop(struct conn *c)
{
	close(c->fd);
	free(c->pend);
	free(c);
}

/* Returns -1 when the connection is finished. */
static int
flush(struct conn *c)
{
	while (c->pend_off < c->pend_len) {
		ssize_t n = send(c->fd, c->pend + c->pend_off,
		    c->pend_len - c->pend_off, MSG_NOSIGNAL);
		if (n == -1)
			return errno == EAGAIN ? 0 : -1;
		c->pend_off += (size_t)n;
	}
	free(c->pend);
	c->pend = NULL;
	c->pend_len = c->pend_off = 0;
	return 0;
}

static int
serve(struct conn *c)
{
	static char buf[262144];

	if (flush(c) == -1)
		return -1;
	while (c->pend == NULL) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0), w;
		if (n == 0)
			return -1;
		if (n == -1)
			return errno == EAGAIN ? 0 : -1;
		w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);
		if (w == -1 && errno != EAGAIN)
			return -1;
		if (w == -1)
			w = 0;
		if (w < n) {
			if ((c->pend = malloc((size_t)(n - w))) == NULL)
				return -1;
			memcpy(c->pend, buf + w, (size_t)(n - w));
			c->pend_len = (size_t)(n - w);
			c->pend_off = 0;
		}
	}
	return 0;
}

/* Every datagram waiting, back to where it came from. */
static void
serve_udp(int fd)
{
	static char buf[UDP_BATCH][UDP_MAX];
	static struct sockaddr_storage from[UDP_BATCH];
	struct mmsghdr m[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	int i, n;

	for (;;) {
		for (i = 0; i < UDP_BATCH; i++) {
			iov[i] = (struct iovec){ buf[i], UDP_MAX };
			m[i].msg_hdr = (struct msghdr){ .msg_name = &from[i],
			    .msg_namelen = sizeof(from[i]), .msg_iov = &iov[i],
			    .msg_iovlen = 1 };
		}
		n = recvmmsg(fd, m, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (i = 0; i < n; i++)
			iov[i].iov_len = m[i].msg_len;
		/* A full socket buffer loses the rest, as UDP may. */
		(void)sendmmsg(fd, m, (unsigned)n, MSG_DONTWAIT);
	}
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[256];
	int i;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: echo IP:PORT [IP:PORT]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	for (i = 1; i < argc; i++) {
		struct epoll_event ev = { .events = EPOLLIN };
		int tfd = listen_on(argv[i], SOCK_STREAM), ufd;

		if (tfd == -1) {
			fprintf(stderr, "echo: bad address %s\n", argv[i]);
			return 2;
		}
		ufd = listen_on(argv[i], SOCK_DGRAM);
		ev.data.u64 = (uint64_t)tfd << 2 | TAG_TCP_LISTENER;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev) == -1)
			die("epoll_ctl");
		ev.data.u64 = (uint64_t)ufd << 2 | TAG_UDP;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, ufd, &ev) == -1)
			die("epoll_ctl");
	}
	for (;;) {
		int n = epoll_wait(epfd, evs, 256, -1);
		for (i = 0; i < n; i++) {
			if (evs[i].data.u64 & TAG_UDP) {
				serve_udp((int)(evs[i].data.u64 >> 2));
				continue;
			}
			if (evs[i].data.u64 & TAG_TCP_LISTENER) {
				int lfd = (int)(evs[i].data.u64 >> 2), fd, one = 1;
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
					struct epoll_event ev = { .events =
					    EPOLLIN | EPOLLOUT | EPOLLET };
					struct conn *c = calloc(1, sizeof(*c));
					if (c == NULL) {
						close(fd);
						continue;
					}
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
					    &one, sizeof(one));
					c->fd = fd;
					ev.data.ptr = c;
					if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
						drop(c);
				}
				continue;
			}
			if (serve(evs[i].data.ptr) == -1)
				drop(evs[i].data.ptr);
		}
	}
}
