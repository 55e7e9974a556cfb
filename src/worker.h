/* A worker process: serves one client connection at a time. */
#ifndef MMPROXY_WORKER_H
#define MMPROXY_WORKER_H

#include <sys/socket.h>
#include <stdint.h>

#include "options.h"
#include "privilege.h"

enum serve_result {
	SERVE_RELAYED,		/* header, dial and relay done */
	SERVE_DROPPED,		/* the client's fault: bad header, too slow... */
	SERVE_UPSTREAM_FAILED,	/* the backend could not be reached */
};

/* An exec'd worker's fds (spawn.c). */
#define WORKER_CTL_FD		3	/* jobs in, idle and requests out */
#define WORKER_SOCKCH_FD	4	/* UDP: prepared sockets in */

/* Prepared upstream sockets a TCP worker holds between connections:
 * [0] IPv4, [1] IPv6; -1 when used up (the idle byte asks again). */
struct upstream_stock {
	int	fd[2];
};

enum serve_result	worker_serve(const struct options *opt, int client,
			    uint32_t id, const struct sockaddr_storage *peer,
			    int64_t accepted_ms, struct upstream_stock *st);
int	worker_serve_one(const struct options *opt, const struct run_as *ra,
	    int client, const char *mode);
void	worker_confine(const struct options *opt);
void	worker_main(const struct options *opt) __attribute__((noreturn));

#endif
