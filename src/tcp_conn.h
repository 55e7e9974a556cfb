/* One TCP connection in a worker: header, dial, relay, close. */
#ifndef MMPROXY_TCP_CONN_H
#define MMPROXY_TCP_CONN_H

#include <sys/socket.h>
#include <stdint.h>

#include "dial_channel.h"
#include "options.h"

enum serve_result {
	SERVE_RELAYED,		/* header, dial and relay done */
	SERVE_DROPPED,		/* the client's fault: bad header, too slow... */
	SERVE_UPSTREAM_FAILED,	/* the backend could not be reached */
};

enum serve_result	tcp_conn_serve(const struct options *opt, int client,
			    uint32_t id, const struct sockaddr_storage *peer,
			    int64_t accepted_ms, struct dial_asker *da);
int	tcp_conn_summary_due_ms(void);
void	tcp_conn_summary_flush(void);

#endif
