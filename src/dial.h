/*
 * Upstream sockets: prepared with the privileged options (dial_prepare),
 * then bound to the client's address and connected by a worker that holds
 * no capability.
 */
#ifndef MMPROXY_DIAL_H
#define MMPROXY_DIAL_H

#include <sys/socket.h>
#include <stdint.h>

/* The families of prepared sockets, as bits (struct handoff's pad). */
#define UPSTREAM_V4	1
#define UPSTREAM_V6	2
#define UPSTREAM_BIT(family)	((family) == AF_INET6 ? UPSTREAM_V6 : UPSTREAM_V4)

int	dial_prepare(int family, int type, uint32_t mark);
void	dial_prepare_result(int family, int fd, int *failing);
int	dial_upstream(int fd, const struct sockaddr_storage *target,
	    const struct sockaddr_storage *src, int64_t deadline_ms,
	    const char **port_lost);
int	dial_udp(int fd, const struct sockaddr_storage *target,
	    const struct sockaddr_storage *src, const char **port_lost);
int	dial_check_privilege(uint32_t mark, const char **what);

#endif
