/*
 * A UDP worker's job: one balancer socket (the peer) and its flows, one
 * per PROXY source, each with a connected upstream socket of its own.
 */
#ifndef MMPROXY_UDP_FLOW_H
#define MMPROXY_UDP_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "fdpass.h"
#include "options.h"

void	udp_serve_peer(const struct options *opt, int ctl, int sockch,
	    const struct handoff *h, int down, const uint8_t *first,
	    size_t len, uint8_t *chbuf, size_t chcap);

#endif
