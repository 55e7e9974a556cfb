/* systemd Accept=yes and inetd: one connection, served by a confined child. */
#ifndef MMPROXY_ONE_CONN_H
#define MMPROXY_ONE_CONN_H

#include "options.h"
#include "privilege.h"

int	one_conn_serve(const struct options *opt, const struct run_as *ra,
	    int client, const char *mode);

#endif
