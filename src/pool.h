/*
 * The supervisor's worker pool, as its protocol sides (TCP accept, UDP
 * listeners) use it.  Implemented in supervisor.c.
 */
#ifndef MMPROXY_POOL_H
#define MMPROXY_POOL_H

#include <sys/types.h>

#include "fdpass.h"

struct supervisor;

pid_t	pool_handoff(struct supervisor *s, const struct handoff *h,
	    const int *fds, const void *payload, const char *peer_s,
	    const char *extra);
int	pool_send(struct supervisor *s, pid_t pid, const struct handoff *h,
	    const void *payload);

#endif
