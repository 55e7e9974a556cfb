/* Workers started as fresh images of our own binary. */
#ifndef MMPROXY_SPAWN_H
#define MMPROXY_SPAWN_H

#include <sys/types.h>

#include "options.h"

#define SPAWN_ENV_MAX	8

struct spawn_image {
	int		 fd;		/* our binary, opened at startup */
	const char	*argv0;
	char		*env[SPAWN_ENV_MAX];	/* a worker's environment */
};

void	spawn_open_self(struct spawn_image *img, const char *argv0);
void	spawn_check(const struct spawn_image *img);
pid_t	spawn_worker(const struct spawn_image *img, const struct options *opt,
	    int parent_ctl, int ctl, int sockch);
int	spawn_is_worker(int argc, char **argv);
void	spawn_worker_boot(void) __attribute__((noreturn));

#endif
