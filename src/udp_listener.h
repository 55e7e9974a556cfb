/*
 * The supervisor's UDP side: the listening sockets, the peer -> worker
 * table, and the hand-off of each new balancer socket (peer) to a worker.
 */
#ifndef MMPROXY_UDP_LISTENER_H
#define MMPROXY_UDP_LISTENER_H

#include "side.h"

int	udp_listener_prepare(int fd, int transparent);
void	udp_side_new(const struct side_args *a, struct side *out);

#endif
