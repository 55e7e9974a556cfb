/*
 * I/O done once: EINTR and short writes, the monotonic clock and poll
 * timeouts, small fd helpers.  No state, nothing that knows a client.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

/*
 * Write all of buf to a blocking fd.  Returns 0, or -1 with errno set.
 */
int
write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Nanoseconds on the monotonic clock: deadlines must not move when the
 * wall clock is set.
 */
int64_t
now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
now_ms(void)
{
	return now_ns() / 1000000;
}

/* The sooner of two poll(2) timeouts, -1 meaning none. */
int
timeout_min(int a, int b)
{
	if (a == -1)
		return b;
	if (b == -1)
		return a;
	return a < b ? a : b;
}

/*
 * A poll(2) timeout for an absolute deadline: 0 once it has passed.
 */
int
ms_until(int64_t deadline_ms)
{
	int64_t left = deadline_ms - now_ms();

	if (left <= 0)
		return 0;
	if (left > 1000 * 1000 * 1000)
		return 1000 * 1000 * 1000;
	return (int)left;
}

/*
 * Returns 0, or -1 with errno set.
 */
int
fd_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	if (fl & O_NONBLOCK)
		return 0;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * Close fd on a failure path, keeping the errno that explains the
 * failure.  Returns -1, for "return close_fail(fd);".
 */
int
close_fail(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
	return -1;
}

/* setsockopt(2) of one int.  Returns 0, or -1 with errno set. */
int
sockopt_set_int(int fd, int level, int opt, int val)
{
	return setsockopt(fd, level, opt, &val, sizeof(val));
}

/*
 * TCP keepalive as go-mmproxy has it (Go's default: the first probe after
 * TCP_KEEPALIVE_S of silence, then one every TCP_KEEPALIVE_S), so that a
 * peer that vanished frees its worker in minutes, not hours.  Accepted
 * sockets inherit it from their listener.  Returns 0, or -1 with errno set.
 */
int
tcp_keepalive_set(int fd)
{
	int s = TCP_KEEPALIVE_S;

	if (sockopt_set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1) == -1 ||
	    sockopt_set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, s) == -1 ||
	    sockopt_set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, s) == -1)
		return -1;
	return 0;
}

/*
 * close_range(2) by number (musl, the lean build's libc, has no wrapper):
 * close fds first..last.  Returns 0, or -1 with errno set.
 */
int
close_fds(unsigned first, unsigned last)
{
	return (int)syscall(SYS_close_range, first, last, 0);
}
