/*
 * The dial request, the one thing a worker asks of the supervisor (the
 * OpenSSH monitor pattern): the worker, which may neither bind nor
 * connect, reports the PROXY source it parsed in a message of fixed
 * shape; the supervisor checks that message, binds a socket to the
 * source, connects it to the target it chose itself (-4 or -6) and sends
 * it back.  So a hijacked worker can reach its backend only, from a
 * source its client could have named anyway.
 * The worker's half is dial_ask, the supervisor's dial_answer.  Neither
 * reads a client byte: the source comes parsed, and is checked again.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "dial.h"
#include "dial_channel.h"
#include "io.h"
#include "localaddr.h"
#include "log.h"

/*
 * How long a worker waits for the answer.  The supervisor answers every
 * request at once, with a socket or an error: no answer in this time
 * means it is stuck or gone, and asking again would look like a flood.
 */
#define DIAL_ANSWER_WAIT_MS	10000

/*
 * Wait for the answer to request seq on ans.  Another message there (an
 * answer the worker did not wait for: none, in this protocol) is closed
 * and skipped.  Fills *out and *fd (-1: none came), or exits: see above.
 */
static void
answer_wait(int ans, uint32_t seq, struct handoff *out, int *fd)
{
	int64_t deadline = now_ms() + DIAL_ANSWER_WAIT_MS;

	for (;;) {
		struct pollfd pfd = { .fd = ans, .events = POLLIN };
		int fds[HANDOFF_MAX_FDS];
		int r = poll(&pfd, 1, ms_until(deadline));

		if (r == -1 && errno == EINTR)
			continue;
		if (r == 0)
			fatalx("worker %d: no answer to a dial request in %d ms",
			    (int)getpid(), DIAL_ANSWER_WAIT_MS);
		if (r == -1 || (r = fdpass_recv(ans, out, fds, NULL, 0)) == -1)
			fatal("worker %d: dial answer", (int)getpid());
		if (r == 0)
			exit(0);	/* the supervisor is gone */
		if (out->kind == HANDOFF_DIALED && out->conn_id == seq &&
		    out->nfds <= 1) {
			*fd = out->nfds == 1 ? fds[0] : -1;
			return;
		}
		while (out->nfds > 0)
			close(fds[--out->nfds]);
	}
}

/*
 * A worker's upstream socket for target family, bound to src (unmapped;
 * NULL: our own address, for LOCAL) and connecting (TCP) or connected
 * (UDP) to dst (-dynamic-destination; NULL: -4 or -6), asked of the
 * supervisor on a's ctl and answered on its ans.
 * *port_lost: a DIAL_PORT_ value.
 * Returns the socket, or -1 with errno set and *no_socket saying whether
 * the socket could not even be made (else: bound or connected it was not);
 * errno EACCES and no socket: dst is not allowed.
 */
int
dial_ask(struct dial_asker *a, int family, const struct sockaddr_storage *src,
    const struct sockaddr_storage *dst, uint8_t *port_lost, int *no_socket)
{
	struct handoff req = { .tag = HANDOFF_TAG, .kind = HANDOFF_DIAL_REQ,
	    .conn_id = ++a->seq, .upstream = UPSTREAM_BIT(family) };
	struct handoff h;
	int fd;

	*port_lost = DIAL_PORT_KEPT;
	*no_socket = 0;
	if (src != NULL)
		req.peer = *src;
	else
		req.peer.ss_family = AF_UNSPEC;
	if (dst != NULL)
		req.local = *dst;
	else
		req.local.ss_family = AF_UNSPEC;
	if (fdpass_send_plain(a->ctl, &req, NULL) == -1) {
		*no_socket = 1;
		return -1;
	}
	answer_wait(a->ans, a->seq, &h, &fd);
	if (fd == -1) {
		*no_socket = h.no_socket;
		errno = h.refused ? EACCES : h.error != 0 ? h.error : EAGAIN;
		return -1;
	}
	*port_lost = h.port_lost;
	return fd;
}

/*
 * Could the parser have given src as a PROXY source of family: of that
 * family once unmapped (a worker unmaps), and one it accepts at all?
 */
static int
source_plausible(const struct sockaddr_storage *src, int family)
{
	struct sockaddr_storage un = *src;

	addr_unmap(&un);
	return src->ss_family == family && un.ss_family == family &&
	    !addr_is_unusable_source(&un);
}

/*
 * Is req a dial request of the one shape a worker sends?  Returns NULL,
 * or the word for what is wrong with it.
 */
static const char *
request_check(const struct dial_policy *pol, const uint8_t *m, size_t n,
    struct handoff *req)
{
	if (n != sizeof(*req))
		return "dial_request_malformed";
	memcpy(req, m, sizeof(*req));
	if (req->tag != HANDOFF_TAG || req->kind != HANDOFF_DIAL_REQ ||
	    req->nfds != 0 || req->payload_len != 0 ||
	    (req->upstream != UPSTREAM_V4 && req->upstream != UPSTREAM_V6))
		return "dial_request_malformed";
	/* A destination only with -dynamic-destination, of the family asked
	 * for (a worker unmaps): whether it may be dialled is the policy's,
	 * since a client names it (destination_allowed). */
	if (req->local.ss_family != AF_UNSPEC && (!pol->opt->dynamic_destination ||
	    req->local.ss_family != (req->upstream == UPSTREAM_V6 ? AF_INET6 :
	    AF_INET)))
		return "dial_request_malformed";
	if (req->peer.ss_family == AF_UNSPEC)
		return NULL;
	if (!source_plausible(&req->peer,
	    req->upstream == UPSTREAM_V6 ? AF_INET6 : AF_INET))
		return "dial_request_malformed";
	if (addr_loopback_claimed(&req->peer, &pol->client))
		return "dial_request_loopback";
	return NULL;
}

/*
 * -dynamic-destination: may dst be dialled?  A usable address and a port,
 * and this host's own (the kernel's local routes) or inside
 * -allowed-destinations.  v4-mapped forms were refused as malformed.
 */
static int
destination_allowed(const struct dial_policy *pol,
    const struct sockaddr_storage *dst)
{
	if (addr_port(dst) == 0 || addr_is_unusable_source(dst))
		return 0;
	if (subnet_match_port(&pol->opt->allowed_dest, dst))
		return 1;
	return localaddr_is_local(dst);
}

/* Bytes the worker has not read yet on our end of channel ans; a
 * failure counts as some (it fails closed). */
static int
unread(int ans)
{
	int q = 0;

	if (ioctl(ans, SIOCOUTQ, &q) == -1)
		return 1;
	return q;
}

/*
 * The supervisor's half: worker's request m (n bytes, as it came), under
 * pol.  Checked first: its shape, a source the parser could have given
 * (of the family asked for, usable, loopback only for a loopback client)
 * and no earlier answer still unread on ans (a worker waits for each: so
 * one never holds more than one socket in flight).  Then a socket is
 * bound and connected to pol's target and sent on ans, or an answer
 * saying why not.  *spare: a socket of the family made ahead (dial_prepare),
 * used and set to -1; -1 or NULL: one is made now.
 * Returns NULL, or the word for how the worker broke the protocol (the
 * caller kills it: nothing was answered).
 */
const char *
dial_answer(const struct dial_policy *pol, int ans, const uint8_t *m,
    size_t n, int *spare)
{
	const struct sockaddr_storage *target;
	struct handoff req, h = { .tag = HANDOFF_TAG, .kind = HANDOFF_DIALED };
	const char *bad;
	int family, fd = -1;

	if ((bad = request_check(pol, m, n, &req)) != NULL)
		return bad;
	if (unread(ans) != 0)
		return "dial_request_unanswered";
	family = req.upstream == UPSTREAM_V6 ? AF_INET6 : AF_INET;
	target = family == AF_INET6 ? &pol->opt->target6 : &pol->opt->target4;
	h.conn_id = req.conn_id;
	h.upstream = req.upstream;
	if (req.local.ss_family != AF_UNSPEC) {
		if (!destination_allowed(pol, &req.local)) {
			h.refused = 1;
			h.error = EACCES;
			if (fdpass_send(ans, &h, &fd, NULL) == -1)
				log_line(LOG_ERRORS, "dial_answer error=\"%s\"",
				    strerror(errno));
			return NULL;
		}
		target = &req.local;
	}
	if (spare != NULL && *spare != -1) {
		fd = *spare;
		*spare = -1;
	} else
		fd = dial_prepare(family, pol->type, pol->opt->mark);
	dial_prepare_result(family, fd, pol->prepare_failing);
	if (fd == -1) {
		h.error = (uint16_t)errno;
		h.no_socket = 1;
	} else if (dial_start(fd, pol->type, target,
	    req.peer.ss_family == AF_UNSPEC ? NULL : &req.peer,
	    &h.port_lost) == -1) {
		h.error = (uint16_t)errno;
		fd = close_fail(fd);
	}
	h.nfds = fd != -1;
	if (fdpass_send(ans, &h, &fd, NULL) == -1)
		log_line(LOG_ERRORS, "dial_answer error=\"%s\"", strerror(errno));
	if (fd != -1)
		close(fd);
	return NULL;
}
