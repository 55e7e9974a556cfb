/* The listening sockets for -l, -listeners of them. */
#ifndef MMPROXY_LISTENER_H
#define MMPROXY_LISTENER_H

#include "options.h"

void	listeners_open(const struct options *opt, int *fds);

#endif
