/* The supervisor: the poll loop and the lifecycle. */
#ifndef MMPROXY_SUPERVISOR_H
#define MMPROXY_SUPERVISOR_H

#include "options.h"
#include "spawn.h"

void	supervisor_run(struct options *opt, const struct spawn_image *img,
	    const int *listeners, unsigned nlisteners) __attribute__((noreturn));

#endif
