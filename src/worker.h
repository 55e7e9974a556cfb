/* A worker process: serves one client connection at a time. */
#ifndef MMPROXY_WORKER_H
#define MMPROXY_WORKER_H

#include <stdint.h>

#include "options.h"

void	worker_serve(const struct options *opt, int client, uint32_t id,
	    int64_t accepted_ms);
void	worker_main(int ctl, const struct options *opt)
	    __attribute__((noreturn));

#endif
