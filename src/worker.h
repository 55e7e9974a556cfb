/* A worker process: confined, it serves one job at a time from its channel. */
#ifndef MMPROXY_WORKER_H
#define MMPROXY_WORKER_H

#include "options.h"
#include "privilege.h"

/* An exec'd worker's fds (spawn.c). */
#define WORKER_CTL_FD		3	/* jobs in, idle and requests out */
#define WORKER_SOCKCH_FD	4	/* UDP: prepared sockets in */

void	worker_confine(const struct options *opt);
void	worker_main(const struct options *opt) __attribute__((noreturn));

#endif
