/*
 * The test-only trigger build's hijacked-worker acts (test_trigger.c);
 * never in the normal binary.
 */
#ifndef MMPROXY_TEST_TRIGGER_H
#define MMPROXY_TEST_TRIGGER_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "dial_channel.h"

void	test_trigger_tcp(const uint8_t *p, size_t len, int client,
	    struct dial_asker *da);
void	test_trigger_udp(const uint8_t *p, size_t len, int down,
	    struct dial_asker *da, uint32_t id,
	    const struct sockaddr_storage *peer,
	    const struct sockaddr_storage *local);

#endif
