/* The supervisor's TCP side: accept, the allow-list, the hand-off. */
#ifndef MMPROXY_TCP_LISTENER_H
#define MMPROXY_TCP_LISTENER_H

#include "side.h"

void	tcp_side_new(const struct side_args *a, struct side *out);

#endif
