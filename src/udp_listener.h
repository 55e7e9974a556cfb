/*
 * The supervisor's UDP side: the listening sockets, the peer -> worker
 * table, and the hand-off of each new balancer socket (peer) to a worker.
 */
#ifndef MMPROXY_UDP_LISTENER_H
#define MMPROXY_UDP_LISTENER_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "fdpass.h"
#include "options.h"

struct supervisor;
struct udp_side;

int		 udp_listener_prepare(int fd);
struct subnet_list;
struct udp_side	*udp_side_new(const struct options *opt, struct supervisor *sup,
		    const struct subnet_list *allowed, const int *listeners,
		    unsigned nlisteners);
void		 udp_side_readable(struct udp_side *u);
int		 udp_side_timeout(const struct udp_side *u);
void		 udp_side_tick(struct udp_side *u);
void		 udp_worker_done(struct udp_side *u, pid_t pid);
void		 udp_bounced(struct udp_side *u, const struct handoff *h,
		    const uint8_t *payload, size_t len);

#endif
