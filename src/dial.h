/* Opening the upstream connection, transparently from the client's address. */
#ifndef MMPROXY_DIAL_H
#define MMPROXY_DIAL_H

#include <sys/socket.h>
#include <stdint.h>

int	dial_upstream(const struct sockaddr_storage *target,
	    const struct sockaddr_storage *src, uint32_t mark,
	    int64_t deadline_ms);
int	dial_check_privilege(uint32_t mark, const char **what);
int	dial_udp(const struct sockaddr_storage *target,
	    const struct sockaddr_storage *src, uint32_t mark, int *port_taken);

#endif
