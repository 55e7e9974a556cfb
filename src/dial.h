/*
 * Upstream sockets: made with the privileged options (dial_prepare), then
 * bound to the client's address and connected (dial_start), all by the
 * supervisor; the worker waits for a TCP connect (dial_wait_connected).
 */
#ifndef MMPROXY_DIAL_H
#define MMPROXY_DIAL_H

#include <sys/socket.h>
#include <stdint.h>

/* Families, as bits (struct handoff's upstream). */
#define UPSTREAM_V4	1
#define UPSTREAM_V6	2
#define UPSTREAM_BIT(family)	((family) == AF_INET6 ? UPSTREAM_V6 : UPSTREAM_V4)

/* Why a dial's source port was not the client's (struct handoff). */
enum {
	DIAL_PORT_KEPT = 0,
	DIAL_PORT_IN_USE = 1,		/* another socket has it */
	DIAL_PORT_PRIVILEGED = 2,	/* below the unprivileged range */
};

void	dial_init(void);
int	dial_prepare(int family, int type, uint32_t mark);
void	dial_prepare_result(int family, int fd, int *failing);
int	dial_start(int fd, int type, const struct sockaddr_storage *target,
	    const struct sockaddr_storage *src, uint8_t *port_lost);
int	dial_wait_connected(int fd, int64_t deadline_ms);
const char *dial_port_lost_str(uint8_t port_lost);
int	dial_check_privilege(uint32_t mark, const char **what);

#endif
