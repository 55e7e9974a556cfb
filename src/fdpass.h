/*
 * The supervisor-to-worker channel: one SOCK_SEQPACKET message per job,
 * a fixed header, up to HANDOFF_MAX_FDS fds (the client, or a UDP peer's
 * socket) and an optional payload (a UDP datagram).
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
	/* fds[0]: a UDP socket connected to one balancer socket (the peer);
	 * payload: the first datagram it sent. */
	HANDOFF_UDP = 2,
	/* No fd; payload: a datagram of that peer's that was already queued
	 * on a listener.  Worker to supervisor: one it cannot serve any more
	 * (its peer has ended), to be dispatched again. */
	HANDOFF_UDP_DATA = 3,
	/* No fd, no payload: every queued datagram of the peer has been sent;
	 * the worker may now read its own socket without reordering. */
	HANDOFF_UDP_SYNC = 4,
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
	/* UDP: the local address the peer's datagrams arrive on. */
	struct sockaddr_storage local;
};

int	fdpass_send(int sock, const struct handoff *h, const int *fds,
	    const void *payload);
int	fdpass_recv(int sock, struct handoff *h, int *fds, void *payload,
	    size_t cap);

#endif
