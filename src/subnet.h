/* The -allowed-subnets list: loading it (failing closed) and matching peers. */
#ifndef MMPROXY_SUBNET_H
#define MMPROXY_SUBNET_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

struct subnet {
	int		family;
	uint8_t		addr[16];
	unsigned	prefix;
	unsigned	port_lo, port_hi;	/* 0-65535 unless a line says */
};

struct subnet_list {
	struct subnet	*v;
	size_t		 n;
	/* After a load: "" or one warning for the operator (FILE:LINE). */
	char		 warning[320];
};

int	subnet_load(const char *path, struct subnet_list *list, int ports,
	    char *err, size_t errlen);
void	subnet_free(struct subnet_list *list);
int	subnet_match(const struct subnet_list *list,
	    const struct sockaddr_storage *peer);
int	subnet_match_port(const struct subnet_list *list,
	    const struct sockaddr_storage *sa);

#endif
