/*
 * The supervisor-to-worker channel: one SOCK_SEQPACKET message per job,
 * a fixed header, up to HANDOFF_MAX_FDS fds (the client; later also
 * upstream sockets prepared by the supervisor) and an optional payload
 * (later: a UDP flow's first datagram).
 */
#ifndef MMPROXY_FDPASS_H
#define MMPROXY_FDPASS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define HANDOFF_TAG		0x6d	/* 'm' */
#define HANDOFF_MAX_FDS		4
#define HANDOFF_MAX_PAYLOAD	65536

enum handoff_kind {
	HANDOFF_TCP = 1,		/* fds[0]: an accepted TCP connection */
};

struct handoff {
	uint8_t		tag;
	uint8_t		kind;
	uint8_t		nfds;
	uint8_t		pad;
	uint32_t	conn_id;
	int64_t		accepted_ms;	/* monotonic; deadlines count from here */
	uint32_t	payload_len;
	/* The client's address as accept() gave it (unmapped), so that the
	 * worker does not ask again; AF_UNSPEC: the worker asks. */
	struct sockaddr_storage peer;
};

int	fdpass_send(int sock, const struct handoff *h, const int *fds,
	    const void *payload);
int	fdpass_recv(int sock, struct handoff *h, int *fds, void *payload,
	    size_t cap);

#endif
