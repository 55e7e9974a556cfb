/*
 * The dial request: a worker reports the source it parsed, the supervisor
 * binds and connects a socket for it (dial_channel.c).
 */
#ifndef MMPROXY_DIAL_CHANNEL_H
#define MMPROXY_DIAL_CHANNEL_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "fdpass.h"
#include "options.h"

/* What the supervisor dials for one worker's request. */
struct dial_policy {
	const struct options	*opt;		/* the targets, -mark */
	int			 type;		/* SOCK_STREAM or SOCK_DGRAM */
	/* The worker's client (the balancer's connection or socket),
	 * unmapped: a loopback source only for a loopback client. */
	struct sockaddr_storage	 client;
	int			*prepare_failing;	/* the side's */
};

/* Where a worker asks: its ctl channel, and where answers come. */
struct dial_asker {
	int		ctl;
	int		ans;	/* ctl (TCP), or the socket channel (UDP) */
	uint32_t	seq;	/* the last request's number */
};

int		 dial_ask(struct dial_asker *a, int family,
		    const struct sockaddr_storage *src,
		    const struct sockaddr_storage *dst, uint8_t *port_lost,
		    int *no_socket);
const char	*dial_answer(const struct dial_policy *pol, int ans,
		    const uint8_t *m, size_t n, int *spare);

#endif
