/* A startup warning when the local-delivery routes for replies are missing. */
#ifndef MMPROXY_ROUTECHECK_H
#define MMPROXY_ROUTECHECK_H

#include <sys/socket.h>

void	routecheck_warn(const struct sockaddr_storage *target4,
	    const struct sockaddr_storage *target6);

#endif
