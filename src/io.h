/* Short writes and EINTR handled once; clocks, poll timeouts and small fd helpers. */
#ifndef MMPROXY_IO_H
#define MMPROXY_IO_H

#include <stddef.h>
#include <stdint.h>

#define TCP_KEEPALIVE_S	15	/* idle before the first probe, and between */

int	write_all(int fd, const void *buf, size_t len);
int64_t	now_ns(void);
int64_t	now_ms(void);
int	ms_until(int64_t deadline_ms);
int	timeout_min(int a, int b);
int	fd_set_nonblock(int fd);
int	close_fail(int fd);
int	close_fds(unsigned first, unsigned last);
int	sockopt_set_int(int fd, int level, int opt, int val);
int	tcp_keepalive_set(int fd);

#endif
