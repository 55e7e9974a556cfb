/* Copying bytes both ways between the client and the upstream. */
#ifndef MMPROXY_RELAY_H
#define MMPROXY_RELAY_H

#include <stddef.h>
#include <stdint.h>

struct relay_result {
	uint64_t	up;		/* client -> upstream bytes */
	uint64_t	down;		/* upstream -> client bytes */
	int		error;		/* 0: both directions ended in EOF */
	int		spliced;	/* both ways by splice(2), not copies */
	int		idle;		/* ended by the idle timeout */
	const char	*side;		/* "client" or "upstream" when error */
};

int	relay_run(int client, int upstream, const uint8_t *early,
	    size_t early_len, int use_splice, unsigned spin_polls,
	    unsigned idle_timeout_s, struct relay_result *res);

#ifdef MMPROXY_TEST_TRIGGER
size_t	relay_test_buffer(int k, const uint8_t **p);
#endif

#endif
