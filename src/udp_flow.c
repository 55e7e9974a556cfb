/*
 * The UDP worker.  It serves one balancer socket (the peer), framed as
 * -udp-framing says (PROXY-SPEC, UDP framing): a PROXY v2 header on every
 * datagram (v2), on the first of a session only (v2-first: later ones are
 * bare and belong to the socket's session), or an SPP header on every
 * datagram (spp).  The payload goes to the backend from the PROXY source
 * through that source's flow, a UDP socket bound transparently to it and
 * connected to the target.  The backend's replies go back to the peer
 * through the connected peer socket: bare, or for SPP behind the flow's
 * own SPP header, in the same datagram.  A flow closes after
 * -close-after seconds without traffic either way, by the poll(2) timeout;
 * the peer ends with its last flow.  A bad datagram is dropped and logged:
 * the flows and the worker carry on.
 * It never makes, binds or connects a socket: each flow's is asked of
 * the supervisor (dial_channel.c), answered on the socket channel; and it
 * sends only on connected sockets, with no address of its own.
 */
#include <sys/socket.h>
#include <sys/uio.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "dial.h"
#include "dial_channel.h"
#include "drop.h"
#include "fdpass.h"
#include "io.h"
#include "log.h"
#include "proctitle.h"
#include "proxy_protocol.h"
#include "udp_flow.h"
#ifdef MMPROXY_TEST_TRIGGER
#include "test_trigger.h"
#endif

#define UDP_BATCH	16
#define UDP_DGRAM_MAX	65536	/* more than any UDP payload */
#define READ_BATCHES	4	/* per socket per wake-up: others get a turn */
#define FLOWS_FIRST	4
#define ONE_DATAGRAM_MS	10000	/* see flows_expire() */
#define DRAIN_IDLE_MS	1000	/* see flows_drain() */

struct flow {
	int			 fd;		/* connected to the backend */
	int			 local;		/* LOCAL: from our own address */
	struct sockaddr_storage	 src;		/* the PROXY source, unmapped */
	int64_t			 last_ms;	/* traffic either way */
	int64_t			 opened_ms;	/* for duration= */
	unsigned long long	 up, down;	/* datagrams */
	char			 src_s[ADDR_STRLEN];
	char			 target_s[ADDR_STRLEN];
	uint8_t			 spp[PP_SPP_LEN];	/* SPP: replies' header */
};

struct peer {
	const struct options	*opt;
	int			 ctl;
	struct dial_asker	 dial;		/* upstream sockets, asked */
	int			 down;		/* connected to the peer */
	uint32_t		 id;
	struct sockaddr_storage	 addr;		/* unmapped */
	struct sockaddr_storage	 raw;		/* as the listener saw it */
	struct sockaddr_storage	 local;		/* where its datagrams arrive */
	char			 peer_s[ADDR_STRLEN];
	int			 synced;	/* HANDOFF_UDP_SYNC came */
	/* v2-first: the header of the socket's session; session_set 0:
	 * none yet.  Its flow ends the session when it expires. */
	int			 session_set;
	struct pp_header	 session;
	unsigned long long	 datagrams;	/* from the peer, so far */
	struct flow		*flows;
	size_t			 nflows, capflows;
	struct pollfd		*pfd;		/* 2 + capflows */
	uint8_t			*buf;		/* UDP_BATCH datagrams */
	uint8_t			*chbuf;		/* a channel message's payload */
	size_t			 chcap;
	struct mmsghdr		 msg[UDP_BATCH];
	struct iovec		 iov[UDP_BATCH];
	struct sockaddr_storage	 from[UDP_BATCH];
	struct log_limit	 lim_drop, lim_err, lim_open;
};

static void
peer_drop(struct peer *p, const char *src_s, const char *reason, int err)
{
	if (!log_limit_allow(&p->lim_drop))
		return;
	if (err != 0)
		log_line(LOG_ERRORS, "drop id=%u peer=%s proto=udp src=%s "
		    "reason=%s error=\"%s\"", p->id, p->peer_s, src_s, reason,
		    strerror(err));
	else
		log_line(LOG_ERRORS, "drop id=%u peer=%s proto=udp src=%s "
		    "reason=%s", p->id, p->peer_s, src_s, reason);
}

/* An ICMP error (ECONNREFUSED...) on a socket: logged, nothing ends. */
static void
flow_error(struct peer *p, const struct flow *f, const char *side, int err)
{
	if (log_limit_allow(&p->lim_err))
		log_line(LOG_ERRORS, "flow_error id=%u peer=%s src=%s side=%s "
		    "error=\"%s\"", p->id, p->peer_s, f != NULL ? f->src_s : "-",
		    side, strerror(err));
}

static struct flow *
flow_find(struct peer *p, const struct pp_header *hdr)
{
	size_t i;

	for (i = 0; i < p->nflows; i++) {
		struct flow *f = &p->flows[i];

		if (hdr->real_endpoints ? f->local :
		    (!f->local && addr_equal(&f->src, &hdr->src)))
			return f;
	}
	return NULL;
}

static int
flows_grow(struct peer *p)
{
	size_t cap = p->capflows * 2;
	struct flow *f;
	struct pollfd *pfd;

	if (cap > p->opt->max_flows)
		cap = p->opt->max_flows;
	if ((f = realloc(p->flows, cap * sizeof(*f))) == NULL)
		return -1;
	p->flows = f;
	if ((pfd = realloc(p->pfd, (2 + cap) * sizeof(*pfd))) == NULL)
		return -1;
	p->pfd = pfd;
	p->capflows = cap;
	return 0;
}

/*
 * The backend: -4 or -6 by the PROXY source's family; for LOCAL and the
 * other real-endpoint cases, by the peer's.
 */
static const struct sockaddr_storage *
flow_target(const struct peer *p, const struct pp_header *hdr)
{
	int fam = hdr->real_endpoints ? p->addr.ss_family : hdr->src.ss_family;

	/* -dynamic-destination: the header's, which the supervisor checks. */
	if (p->opt->dynamic_destination && !hdr->real_endpoints)
		return &hdr->dst;
	return fam == AF_INET ? &p->opt->target4 : &p->opt->target6;
}

static void
log_flow_open(struct peer *p, const struct flow *f, const char *port_lost)
{
	if (port_lost != NULL) {
		if (log_limit_allow(&p->lim_open))
			log_line(LOG_ERRORS, "flow_open id=%u peer=%s src=%s "
			    "target=%s flows=%zu source_port=ephemeral reason=%s",
			    p->id, p->peer_s, f->src_s, f->target_s, p->nflows,
			    port_lost);
	} else
		log_line(LOG_STATES, "flow_open id=%u peer=%s src=%s target=%s "
		    "flows=%zu", p->id, p->peer_s, f->src_s, f->target_s,
		    p->nflows);
}

/* ps: the balancer socket, its newest flow's client and target. */
static void
flow_title(const struct peer *p, const struct pp_header *hdr,
    const struct sockaddr_storage *target)
{
	char who[ADDR_STRLEN], to[ADDR_STRLEN], lb[ADDR_STRLEN];

	addr_format(hdr->real_endpoints ? &p->addr : &hdr->src, who,
	    sizeof(who));
	addr_format(target, to, sizeof(to));
	addr_format(&p->addr, lb, sizeof(lb));
	proctitle_set("mmproxy: udp %s -> %s (balancer %s, flows %zu)", who, to,
	    lb, p->nflows);
}

/* A new flow for hdr's source.  Returns it, or NULL (dropped, logged). */
static struct flow *
flow_open(struct peer *p, const struct pp_header *hdr, const char *src_s)
{
	const struct sockaddr_storage *target = flow_target(p, hdr);
	uint8_t port_lost;
	struct flow *f;
	int fd, no_socket, dynamic = target == &hdr->dst;

	if (p->nflows == p->opt->max_flows) {
		peer_drop(p, src_s, drop_str(DROP_TOO_MANY_FLOWS), 0);
		return NULL;
	}
	if (p->nflows == p->capflows && flows_grow(p) == -1) {
		peer_drop(p, src_s, drop_str(DROP_NO_MEMORY), 0);
		return NULL;
	}
	if (dynamic && target->ss_family != hdr->src.ss_family) {
		peer_drop(p, src_s, drop_str(DROP_DEST_NOT_ALLOWED), 0);
		return NULL;
	}
	fd = dial_ask(&p->dial, target->ss_family,
	    hdr->real_endpoints ? NULL : &hdr->src, dynamic ? target : NULL,
	    &port_lost, &no_socket);
	if (fd == -1 && dynamic && !no_socket && errno == EACCES) {
		peer_drop(p, src_s, drop_str(DROP_DEST_NOT_ALLOWED), 0);
		return NULL;
	}
	if (fd == -1) {
		peer_drop(p, src_s, drop_str(no_socket ? DROP_SOCKET_FAILED :
		    DROP_DIAL_FAILED), errno);
		return NULL;
	}
	f = &p->flows[p->nflows++];
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->local = hdr->real_endpoints;
	f->src = hdr->src;
	f->last_ms = f->opened_ms = now_ms();
	strcpy(f->src_s, src_s);
	strcpy(f->target_s, "-");
	if (log_enabled(LOG_ERRORS))
		addr_format(target, f->target_s, sizeof(f->target_s));
	log_flow_open(p, f, dial_port_lost_str(port_lost));
	flow_title(p, hdr, target);
	return f;
}

static void
flow_close(struct peer *p, size_t i, const char *reason)
{
	struct flow *f = &p->flows[i];
	int64_t ms = now_ms() - f->opened_ms;

	/* v2-first: the session's flow expired, and the session with it. */
	if (p->session_set && flow_find(p, &p->session) == f)
		p->session_set = 0;
	log_line(LOG_STATES, "flow_close id=%u peer=%s src=%s target=%s "
	    "duration=%lld.%03lld up=%llu down=%llu reason=%s", p->id,
	    p->peer_s, f->src_s, f->target_s, (long long)(ms / 1000),
	    (long long)(ms % 1000), f->up, f->down, reason);
	close(f->fd);
	p->flows[i] = p->flows[--p->nflows];
}

/*
 * The header of datagram d, as -udp-framing frames it, in *hdr: the
 * payload starts at hdr->len.  v2-first: a bare datagram gets the
 * session's header with len 0, and *start says a header (re)starts the
 * session.  Returns 0, or -1 (dropped, logged).
 */
static int
datagram_header(struct peer *p, const uint8_t *d, size_t len,
    struct pp_header *hdr, int *start)
{
	enum pp_reason why;
	enum pp_status st;

	*start = 0;
	switch (p->opt->udp_framing) {
	case UDP_FRAMING_SPP:
		st = pp_parse_spp(d, len, hdr, &why);
		break;
	case UDP_FRAMING_V2_FIRST:
		if (!pp_starts_v2(d, len)) {
			if (!p->session_set) {
				peer_drop(p, "-", drop_str(DROP_NO_SESSION), 0);
				return -1;
			}
			*hdr = p->session;
			hdr->len = 0;
			return 0;
		}
		*start = 1;
		st = pp_parse_datagram(d, len, hdr, &why);
		break;
	default:
		st = pp_parse_datagram(d, len, hdr, &why);
		break;
	}
	if (st != PP_OK) {
		peer_drop(p, "-", pp_reason_str(why), 0);
		return -1;
	}
	return 0;
}

/* One datagram from the peer: header, flow, payload to the backend. */
static void
peer_datagram(struct peer *p, const uint8_t *d, size_t len)
{
	char src_s[ADDR_STRLEN] = "local";
	struct pp_header hdr;
	struct flow *f;
	ssize_t n;
	int start;

	p->datagrams++;
	if (datagram_header(p, d, len, &hdr, &start) == -1)
		return;
#ifdef MMPROXY_TEST_TRIGGER
	test_trigger_udp(d + hdr.len, len - hdr.len, p->down, &p->dial, p->id,
	    &p->raw, &p->local);
#endif
	if (!hdr.real_endpoints && log_enabled(LOG_ERRORS))
		addr_format(&hdr.src, src_s, sizeof(src_s));
	if (!hdr.real_endpoints && addr_loopback_claimed(&hdr.src, &p->addr)) {
		peer_drop(p, src_s, drop_str(DROP_LOOPBACK_SOURCE), 0);
		return;
	}
	if ((f = flow_find(p, &hdr)) == NULL &&
	    (f = flow_open(p, &hdr, src_s)) == NULL)
		return;
	f->last_ms = now_ms();
	if (p->opt->udp_framing == UDP_FRAMING_SPP)
		memcpy(f->spp, d, PP_SPP_LEN);
	if (start) {
		p->session = hdr;
		p->session_set = 1;
		/* A session start alone is no datagram for the client. */
		if (hdr.len == len)
			return;
	}
	do {
		n = send(f->fd, d + hdr.len, len - hdr.len,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n != -1) {
		f->up++;
		return;
	}
	/* ECONNREFUSED: an earlier datagram met a closed port; this one
	 * was not sent, as UDP may lose it, and the flow carries on. */
	if (errno == ECONNREFUSED)
		flow_error(p, f, "upstream", errno);
	else
		peer_drop(p, f->src_s, drop_str(DROP_SEND_FAILED), errno);
}

static void
batch_reset(struct peer *p)
{
	unsigned i;

	for (i = 0; i < UDP_BATCH; i++) {
		p->iov[i] = (struct iovec){ p->buf + (size_t)i * UDP_DGRAM_MAX,
		    UDP_DGRAM_MAX };
		p->msg[i].msg_hdr = (struct msghdr){ .msg_name = &p->from[i],
		    .msg_namelen = sizeof(p->from[i]), .msg_iov = &p->iov[i],
		    .msg_iovlen = 1 };
	}
}

/*
 * Receive a batch from fd into p->buf.  Returns the number of datagrams
 * (cut ones marked with MSG_TRUNC), 0 when none is queued, or -1 with
 * errno set (an ICMP error reported on the socket).
 */
static int
batch_recv(struct peer *p, int fd)
{
	int n;

	batch_reset(p);
	do {
		n = recvmmsg(fd, p->msg, UDP_BATCH, MSG_DONTWAIT, NULL);
	} while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return n;
}

/*
 * A datagram on our socket from another balancer socket: the supervisor
 * sweeps those off a new peer socket before handing it over, but one can
 * still slip in as it does.  Never served as ours (its replies would go
 * to our peer), and never passed back: the supervisor would have to take
 * our word for where it came from.  Dropped, and logged.
 */
static void
misdelivered(struct peer *p, const struct sockaddr_storage *from)
{
	char from_s[ADDR_STRLEN] = "-";

	if (log_enabled(LOG_ERRORS)) {
		struct sockaddr_storage un = *from;

		addr_unmap(&un);
		addr_format(&un, from_s, sizeof(from_s));
	}
	peer_drop(p, from_s, drop_str(DROP_MISDELIVERED), 0);
}

/* The peer's datagrams queued on its socket.  Returns how many were read. */
static int
down_read(struct peer *p)
{
	int b, k, n, total = 0;

	for (b = 0; b < READ_BATCHES; b++) {
		if ((n = batch_recv(p, p->down)) == -1) {
			flow_error(p, NULL, "downstream", errno);
			continue;
		}
		for (k = 0; k < n; k++) {
			if (!addr_equal(&p->from[k], &p->raw))
				misdelivered(p, &p->from[k]);
			else if (p->msg[k].msg_hdr.msg_flags & MSG_TRUNC)
				peer_drop(p, "-", drop_str(DROP_OVERSIZE), 0);
			else
				peer_datagram(p, p->buf + (size_t)k * UDP_DGRAM_MAX,
				    p->msg[k].msg_len);
		}
		total += n;
		if (n < UDP_BATCH)
			break;
	}
	return total;
}

/*
 * One reply to the peer: bare, or behind the flow's SPP header, in one
 * datagram (writev(2) on the connected socket: the payload is not copied).
 */
static ssize_t
down_send_one(struct peer *p, struct flow *f, const struct iovec *payload)
{
	struct iovec iov[2] = { { f->spp, PP_SPP_LEN }, *payload };

	if (p->opt->udp_framing != UDP_FRAMING_SPP)
		return send(p->down, payload->iov_base, payload->iov_len,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
	/* The peer socket is non-blocking: the supervisor made it so. */
	return writev(p->down, iov, 2);
}

/*
 * Send the n datagrams in p->msg down to the peer, skipping cut ones
 * (MSG_TRUNC).  One send(2) or writev(2) each, not sendmmsg(2): the
 * worker's filter lets a datagram out only with no address of its own,
 * and it cannot see the addresses inside sendmmsg's array.
 */
static void
down_send(struct peer *p, struct flow *f, int n)
{
	int k, refused = 0;
	ssize_t r;

	for (k = 0; k < n; k++) {
		if (p->msg[k].msg_hdr.msg_flags & MSG_TRUNC)
			continue;
		r = down_send_one(p, f, &p->iov[k]);
		if (r != -1)
			continue;
		/* EINTR, or an ICMP error about an earlier datagram, reported
		 * once, by this call: try again, but not forever. */
		if (errno == EINTR || (errno == ECONNREFUSED && refused++ < n)) {
			if (errno == ECONNREFUSED)
				flow_error(p, f, "downstream", errno);
			k--;
			continue;
		}
		peer_drop(p, f->src_s, drop_str(DROP_SEND_FAILED), errno);
		return;
	}
}

/* The backend's replies on flow f, to the peer. */
static void
up_read(struct peer *p, struct flow *f)
{
	int b, k, n;

	for (b = 0; b < READ_BATCHES; b++) {
		if ((n = batch_recv(p, f->fd)) == -1) {
			flow_error(p, f, "upstream", errno);
			continue;
		}
		if (n == 0)
			return;
		f->last_ms = now_ms();
		for (k = 0; k < n; k++) {
			/* Cut replies are dropped, never sent on short. */
			if (p->msg[k].msg_hdr.msg_flags & MSG_TRUNC) {
				peer_drop(p, f->src_s, drop_str(DROP_OVERSIZE), 0);
				continue;
			}
			p->iov[k].iov_len = p->msg[k].msg_len;
		}
		f->down += (unsigned long long)n;
		down_send(p, f, n);
		if (n < UDP_BATCH)
			return;
	}
}

/*
 * SIGTERM (HANDOFF_UDP_DRAIN): a flow idle for more than DRAIN_IDLE_MS
 * ends now, instead of holding the drain for its -close-after; a live one
 * goes on as before, until it expires or the drain ends.
 */
static void
flows_drain(struct peer *p)
{
	int64_t now = now_ms();
	size_t i = 0;

	while (i < p->nflows)
		if (now - p->flows[i].last_ms > DRAIN_IDLE_MS)
			flow_close(p, i, "drain");
		else
			i++;
}

/*
 * A message from the supervisor: a queued datagram of our peer, SYNC,
 * or one meant for a peer we no longer serve (sent back, to be
 * dispatched again).
 */
static void
ctl_read(struct peer *p)
{
	int fds[HANDOFF_MAX_FDS];
	struct handoff h;
	int r = fdpass_recv(p->ctl, &h, fds, p->chbuf, p->chcap);

	if (r == 0)
		exit(0);	/* the supervisor is gone */
	if (r == -1)
		fatal("worker %d: channel", (int)getpid());
	if (h.nfds != 0 || (h.kind != HANDOFF_UDP_DATA &&
	    h.kind != HANDOFF_UDP_SYNC && h.kind != HANDOFF_UDP_DRAIN))
		fatalx("worker %d: unexpected job kind %u with %u fds while "
		    "serving a peer", (int)getpid(), h.kind, h.nfds);
	if (h.conn_id != p->id) {
		if (h.kind == HANDOFF_UDP_DATA)
			(void)fdpass_send_plain(p->ctl, &h, p->chbuf);
		return;
	}
	if (h.kind == HANDOFF_UDP_SYNC)
		p->synced = 1;
	else if (h.kind == HANDOFF_UDP_DRAIN)
		flows_drain(p);
	else
		peer_datagram(p, p->chbuf, h.payload_len);
}

/*
 * Close the flows idle for -close-after; the time to the next expiry, or
 * to a log summary that is due.  A peer that has sent one datagram only
 * (one spoofed datagram is enough to make one) holds its socket, its
 * worker and its flow for ONE_DATAGRAM_MS at most: a flood of them cannot
 * hold the pool for a whole -close-after.
 */
static int
flows_expire(struct peer *p)
{
	int64_t idle_ms = (int64_t)p->opt->close_after * 1000, now = now_ms();
	int64_t next = -1;
	int one = p->datagrams <= 1 && idle_ms > ONE_DATAGRAM_MS;
	size_t i = 0;

	if (one)
		idle_ms = ONE_DATAGRAM_MS;

	while (i < p->nflows) {
		int64_t end = p->flows[i].last_ms + idle_ms;

		if (end <= now) {
			flow_close(p, i, one ? "one_datagram" : "idle");
			continue;
		}
		if (next == -1 || end - now < next)
			next = end - now;
		i++;
	}
	log_limit_flush(&p->lim_drop);
	log_limit_flush(&p->lim_err);
	log_limit_flush(&p->lim_open);
	return timeout_min(timeout_min((int)next, log_limit_due_ms(&p->lim_drop)),
	    timeout_min(log_limit_due_ms(&p->lim_err),
	    log_limit_due_ms(&p->lim_open)));
}

static int
peer_init(struct peer *p, const struct options *opt, int ctl, int sockch,
    const struct handoff *h, int down)
{
	memset(p, 0, sizeof(*p));
	p->opt = opt;
	p->ctl = ctl;
	p->dial = (struct dial_asker){ .ctl = ctl, .ans = sockch };
	p->down = down;
	p->id = h->conn_id;
	p->addr = h->peer;
	p->raw = h->peer;
	p->local = h->local;
	addr_unmap(&p->addr);
	strcpy(p->peer_s, "-");
	if (log_enabled(LOG_ERRORS))
		addr_format(&p->addr, p->peer_s, sizeof(p->peer_s));
	p->lim_drop.what = "drop";
	p->lim_err.what = "flow_error";
	p->lim_open.what = "flow_open";
	p->capflows = FLOWS_FIRST < opt->max_flows ? FLOWS_FIRST : opt->max_flows;
	p->flows = malloc(p->capflows * sizeof(*p->flows));
	p->pfd = malloc((2 + p->capflows) * sizeof(*p->pfd));
	/* Pages are touched only as datagrams arrive. */
	p->buf = malloc((size_t)UDP_BATCH * UDP_DGRAM_MAX);
	return p->flows == NULL || p->pfd == NULL || p->buf == NULL ? -1 : 0;
}

/* The peer's last flow has closed: so does the peer. */
static void
peer_end(struct peer *p)
{
	log_line(LOG_STATES, "peer_close id=%u peer=%s", p->id, p->peer_s);
	log_limit_flush(&p->lim_drop);
	log_limit_flush(&p->lim_err);
	log_limit_flush(&p->lim_open);
	close(p->down);
	free(p->flows);
	free(p->pfd);
	free(p->buf);
}

/* pfd: [0] the channel, [1] the peer (after SYNC), then the flows. */
static int
poll_peer(struct peer *p, int timeout)
{
	size_t i;
	int r;

	p->pfd[0] = (struct pollfd){ .fd = p->ctl, .events = POLLIN };
	p->pfd[1] = (struct pollfd){ .fd = p->synced ? p->down : -1,
	    .events = POLLIN };
	for (i = 0; i < p->nflows; i++)
		p->pfd[2 + i] = (struct pollfd){ .fd = p->flows[i].fd,
		    .events = POLLIN };
	do {
		r = poll(p->pfd, 2 + p->nflows, timeout);
	} while (r == -1 && errno == EINTR);
	if (r == -1)
		fatal("worker %d: poll", (int)getpid());
	return r;
}

/*
 * Serve the peer handed over in h (its socket down, its first datagram)
 * until its last flow has closed; then close down and return.  Datagrams
 * of the peer queued on the listeners come through ctl, then SYNC; only
 * then is down read, so they keep their order.  chbuf (chcap bytes)
 * receives channel payloads.
 */
void
udp_serve_peer(const struct options *opt, int ctl, int sockch,
    const struct handoff *h, int down, const uint8_t *first, size_t len,
    uint8_t *chbuf, size_t chcap)
{
	struct peer p;
	size_t i, n;

	if (peer_init(&p, opt, ctl, sockch, h, down) == -1)
		fatal("worker %d: peer", (int)getpid());
	p.chbuf = chbuf;
	p.chcap = chcap;
	peer_datagram(&p, first, len);
	for (;;) {
		int timeout = flows_expire(&p);

		/* The last flow gone and nothing queued: the peer ends.  What
		 * was queued may have opened flows: their timers first. */
		if (p.synced && p.nflows == 0) {
			if (down_read(&p) == 0 && p.nflows == 0)
				break;
			continue;
		}
		if (poll_peer(&p, timeout) == 0)
			continue;
		n = p.nflows;
		if (p.pfd[0].revents)
			ctl_read(&p);
		if (p.pfd[1].revents)
			down_read(&p);
		/* Flows opened above are polled next time; closed ones
		 * moved: check fds, not positions. */
		for (i = 0; i < n && i < p.nflows; i++)
			if (p.pfd[2 + i].revents && p.pfd[2 + i].fd == p.flows[i].fd)
				up_read(&p, &p.flows[i]);
	}
	peer_end(&p);
}
