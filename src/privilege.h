/* Least privilege: -user, and only the capability the supervisor needs. */
#ifndef MMPROXY_PRIVILEGE_H
#define MMPROXY_PRIVILEGE_H

#include <sys/types.h>
#include <stdint.h>

struct run_as {
	int	set;		/* -user given */
	uid_t	uid;
	gid_t	gid;
};

int	privilege_has_net_admin(void);
void	privilege_resolve(const char *user, struct run_as *ra);
void	privilege_drop(const struct run_as *ra, int udp);
void	privilege_become(const struct run_as *ra);
int	privilege_keep_only(uint32_t keep);

#endif
