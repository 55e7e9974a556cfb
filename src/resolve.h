/* Host names where go-mmproxy takes them (-l, -4, -6): resolved by the
 * supervisor, at startup and on SIGHUP, never by a worker. */
#ifndef MMPROXY_RESOLVE_H
#define MMPROXY_RESOLVE_H

#include <sys/socket.h>
#include <stddef.h>

#include "options.h"

int	resolve_is_name(const char *spec);
int	resolve_hostport(const char *spec, int family,
	    struct sockaddr_storage *out, char *err, size_t errlen);
void	resolve_names(struct options *opt);
int	resolve_reload(struct options *opt);

#endif
