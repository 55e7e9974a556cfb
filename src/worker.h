/* A worker process: serves one client connection at a time. */
#ifndef MMPROXY_WORKER_H
#define MMPROXY_WORKER_H

#include <sys/socket.h>
#include <stdint.h>

#include "options.h"

enum serve_result {
	SERVE_RELAYED,		/* header, dial and relay done */
	SERVE_DROPPED,		/* the client's fault: bad header, too slow... */
	SERVE_UPSTREAM_FAILED,	/* the backend could not be reached */
};

enum serve_result	worker_serve(const struct options *opt, int client,
			    uint32_t id, const struct sockaddr_storage *peer,
			    int64_t accepted_ms);
int	worker_serve_one(const struct options *opt, int client, const char *mode);
void	worker_main(int ctl, const struct options *opt)
	    __attribute__((noreturn));

#endif
