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
	/* Worker to supervisor, no fd: an upstream socket for a connection
	 * or a UDP flow.  upstream: the family's UPSTREAM_ bit (the target is
	 * -4's or -6's, the supervisor's choice); peer: the PROXY source to
	 * bind to, or AF_UNSPEC for our own address (LOCAL); local: with
	 * -dynamic-destination, the PROXY destination wanted instead (the
	 * supervisor checks it), else AF_UNSPEC; conn_id: a sequence number. */
	HANDOFF_DIAL_REQ = 5,
	/* The answer, on the worker's ctl (TCP) or socket channel (UDP):
	 * fds[0] the socket, bound and connecting (TCP) or connected (UDP);
	 * no fd: error says why not.  conn_id and upstream: the request's;
	 * port_lost: a DIAL_PORT_ value. */
	HANDOFF_DIALED = 6,
	/* The first message to an exec'd worker: payload, its options. */
	HANDOFF_CONFIG = 7,
	/* Supervisor to a UDP worker, no fd, no payload: SIGTERM came; a
	 * flow idle for a second ends, the peer with its last flow. */
	HANDOFF_UDP_DRAIN = 8,
};

struct handoff {
	uint8_t		tag;
	uint8_t		kind;
	uint8_t		nfds;
	/* HANDOFF_TCP: the UPSTREAM_ bits of the prepared upstream sockets
	 * that follow the client in fds, IPv4 first.  HANDOFF_SOCKET_REQ:
	 * the family wanted. */
	uint8_t		upstream;
	uint32_t	conn_id;
	int64_t		accepted_ms;	/* monotonic; deadlines count from here */
	uint32_t	payload_len;
	uint16_t	error;		/* HANDOFF_DIALED: errno, or 0 */
	uint8_t		port_lost;	/* HANDOFF_DIALED */
	uint8_t		no_socket;	/* HANDOFF_DIALED: none could be made */
	uint8_t		refused;	/* HANDOFF_DIALED: destination not
					 * allowed (-dynamic-destination) */
	/* The client's address as accept() gave it (unmapped), so that the
	 * worker does not ask again; AF_UNSPEC: the worker asks. */
	struct sockaddr_storage peer;
	/* UDP: the local address the peer's datagrams arrive on. */
	struct sockaddr_storage local;
};

int	fdpass_send(int sock, const struct handoff *h, const int *fds,
	    const void *payload);
int	fdpass_send_plain(int sock, const struct handoff *h,
	    const void *payload);
int	fdpass_recv(int sock, struct handoff *h, int *fds, void *payload,
	    size_t cap);

#endif
