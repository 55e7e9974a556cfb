/*
 * A protocol side of the supervisor (tcp_listener.c, udp_listener.c): the
 * listening sockets of one kind, what comes in on them, and how it is
 * handed to the pool.  The supervisor's poll loop (supervisor.c) knows a
 * side only through this interface: a new kind of listener is one more
 * file that fills in struct side.
 */
#ifndef MMPROXY_SIDE_H
#define MMPROXY_SIDE_H

#include <poll.h>

#include "drop.h"
#include "options.h"
#include "pool.h"
#include "subnet.h"

struct side_ops {
	/* The listeners to poll now, into pfd (nfds of them): POLLIN, or
	 * fd -1 while nothing may be taken from them. */
	void	(*fds)(void *ctx, struct pollfd *pfd);
	/* After poll(2): the same nfds pollfds. */
	void	(*readable)(void *ctx, const struct pollfd *pfd);
	/* A poll(2) timeout for what is due without traffic, or -1. */
	int	(*timeout)(const void *ctx);
	/* Once per wake-up, after the above: what is due now. */
	void	(*tick)(void *ctx);
	/* SIGTERM: close the listeners; nothing new is taken from here on. */
	void	(*stop)(void *ctx);
};

struct side {
	const struct side_ops	*ops;
	void			*ctx;
	unsigned		 nfds;
};

/* What the supervisor's side refused since start, by drop word: its
 * SIGUSR1 status line and its stop line count them. */
struct totals {
	unsigned long long	drops[DROP_REASON_COUNT];
};

/* What a side is made from; the list is the supervisor's (SIGHUP). */
struct side_args {
	const struct options		*opt;
	struct pool			*pool;
	struct totals			*totals;
	const struct subnet_list	*allowed;
	const int			*listeners;
	unsigned			 nlisteners;
};

#endif
