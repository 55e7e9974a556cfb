/*
 * The supervisor's UDP side.  It reads datagrams from the listening
 * sockets only to learn who sent them (it never parses them), and gives
 * each balancer socket (the peer) a worker of its own: a UDP socket bound
 * to the local address the datagram arrived on and the listen port,
 * connected to the peer, handed over with the first datagram.  From then
 * on the kernel delivers that peer's datagrams to the connected socket,
 * which matches them better than the listeners do.  (Stray datagrams of
 * other peers that land on it, between its bind and its connect, are
 * swept off it here and dispatched: peer_sweep().)
 *
 * Datagrams of the peer that were already queued on a listener are passed
 * on through the channel, and a SYNC message follows once the listeners
 * have been drained: the worker reads its own socket only after it, so
 * nothing is lost or reordered at the hand-off.
 *
 * It answers its workers' dial requests (dial_channel.c) and takes back
 * the datagrams it forwarded that a worker could not serve (its peer had
 * ended), and no other.  It knows the pool only through pool.h and the
 * supervisor only through side.h.
 */
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "dial.h"
#include "dial_channel.h"
#include "drop.h"
#include "io.h"
#include "log.h"
#include "udp_listener.h"

#define UDP_BATCH	16
#define UDP_DGRAM_MAX	65536	/* more than any UDP payload */
#define DRAIN_BUDGET	1024	/* datagrams per wake-up, all listeners */
#define SYNC_MAX_MS	50	/* a SYNC waits no longer for a drain */
#define SWEEP_MAX	256	/* datagrams taken off one new peer socket */
#define SWEEP_SETTLE_MS	3	/* from connect to the last sweep: 2 ms at least */
#define UDP_CHANNEL_SNDBUF	(1 << 20)	/* datagrams queued at a hand-off */

struct udp_peer {
	struct sockaddr_storage	 addr;	/* as the listener saw it */
	struct sockaddr_storage	 local;	/* its worker's, from the hand-off */
	pid_t			 pid;	/* its worker; 0: a free entry */
	uint32_t		 id;
	int			 sync_due;	/* SYNC not sent yet */
	int			 sweep_fd;	/* its socket until SYNC, or -1 */
	int64_t			 sync_after_ms;	/* no SYNC before */
	unsigned		 forwarded;	/* datagrams passed on before it */
	struct udp_peer		*next;	/* in its bucket, or the free list */
};

struct udp_batch {
	struct mmsghdr		 msg[UDP_BATCH];
	struct iovec		 iov[UDP_BATCH];
	struct sockaddr_storage	 from[UDP_BATCH];
	union {
		struct cmsghdr	 align;
		char		 b[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
				    CMSG_SPACE(sizeof(struct in_pktinfo)) +
				    CMSG_SPACE(sizeof(struct sockaddr_in6)) +
				    CMSG_SPACE(sizeof(struct sockaddr_in))];
	}			 ctl[UDP_BATCH];
};

/* A datagram of another peer, swept off a new peer's socket. */
struct stashed {
	struct stashed		*next;
	struct sockaddr_storage	 from, local;
	size_t			 len;
	uint8_t			 data[];
};

struct udp_side {
	const struct options	*opt;
	struct pool		*pool;
	const struct subnet_list *allowed;	/* the supervisor's; SIGHUP */
	struct totals		*totals;	/* the supervisor's */
	const int		*listeners;
	unsigned		 nlisteners;
	struct sockaddr_storage	*bound;		/* each listener's address */
	struct udp_peer		*peers;		/* opt->max_conns entries */
	size_t			 npeers_used;	/* high-water mark in peers */
	struct udp_peer		*free;
	struct udp_peer		**bucket;
	size_t			 nbuckets;	/* a power of two */
	uint32_t		 hash_key;	/* random, from startup */
	size_t			 npending;	/* entries with sync_due */
	int64_t			 pending_since_ms;
	int64_t			 sync_wake_ms;	/* a young peer's SYNC, or -1 */
	uint32_t		 next_id;
	int			 stopping;	/* SIGTERM: no new peer */
	int			 prepare_failing;	/* logged once per episode */
	uint8_t			*buf;		/* UDP_BATCH datagrams */
	uint8_t			*sweep;		/* one datagram, see peer_sweep() */
	struct stashed		*stash;		/* swept, to dispatch */
	struct stashed		**stash_tail;
	int			 dispatching;
	struct udp_batch	 batch;
	struct log_limit	 lim_refused, lim_full, lim_failed;
};

/*
 * Make a bound UDP socket (ours, or one systemd passed) usable as a
 * listener: report each datagram's local address, and let the per-peer
 * sockets bind beside it.  transparent (-listen-transparent): report each
 * datagram's original destination, address and port, as a TPROXY rule
 * delivers datagrams for many.  Returns 0, or -1 with errno set.
 */
int
udp_listener_prepare(int fd, int transparent)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) == -1)
		return -1;
	if (sockopt_set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) == -1)
		return -1;
	if (transparent && (sa.ss_family == AF_INET6 ? sockopt_set_int(fd,
	    IPPROTO_IPV6, IPV6_RECVORIGDSTADDR, 1) : sockopt_set_int(fd,
	    IPPROTO_IP, IP_RECVORIGDSTADDR, 1)) == -1)
		return -1;
	/* IPv4 datagrams on a dual-stack socket say it the IPv4 way. */
	if (transparent && sa.ss_family == AF_INET6)
		(void)sockopt_set_int(fd, IPPROTO_IP, IP_RECVORIGDSTADDR, 1);
	if (sa.ss_family == AF_INET6) {
		if (sockopt_set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) == -1)
			return -1;
		/* IPv4 datagrams on a dual-stack socket say it this way;
		 * a v6-only socket may refuse, and needs no such line. */
		(void)sockopt_set_int(fd, IPPROTO_IP, IP_PKTINFO, 1);
		return 0;
	}
	return sockopt_set_int(fd, IPPROTO_IP, IP_PKTINFO, 1);
}

static size_t
peer_hash(const struct udp_side *u, const struct sockaddr_storage *sa)
{
	const uint8_t *p = (const uint8_t *)sa;
	socklen_t i, n = addr_len(sa);
	uint32_t h = 2166136261u ^ u->hash_key;

	/* The port and address bytes of sockaddr_in(6); the rest is zero.
	 * Keyed at startup, then mixed: a sender who picks source ports
	 * cannot aim them all at one bucket. */
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h & (u->nbuckets - 1);
}

static struct udp_peer *
peer_find(const struct udp_side *u, const struct sockaddr_storage *sa)
{
	struct udp_peer *e;

	for (e = u->bucket[peer_hash(u, sa)]; e != NULL; e = e->next)
		if (addr_equal(&e->addr, sa))
			return e;
	return NULL;
}

static void
peer_add(struct udp_side *u, const struct sockaddr_storage *sa,
    const struct sockaddr_storage *local, pid_t pid, uint32_t id, int fd)
{
	struct udp_peer *e = u->free;
	size_t b = peer_hash(u, sa);

	u->free = e->next;
	if ((size_t)(e - u->peers) + 1 > u->npeers_used)
		u->npeers_used = (size_t)(e - u->peers) + 1;
	e->addr = *sa;
	e->local = *local;
	e->pid = pid;
	e->id = id;
	e->sync_due = 1;
	e->sweep_fd = fd;
	e->sync_after_ms = now_ms() + SWEEP_SETTLE_MS;
	e->forwarded = 0;
	if (u->npending++ == 0)
		u->pending_since_ms = now_ms();
	e->next = u->bucket[b];
	u->bucket[b] = e;
}

static void
peer_remove(struct udp_side *u, struct udp_peer *e)
{
	struct udp_peer **pp = &u->bucket[peer_hash(u, &e->addr)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	if (e->sync_due)
		u->npending--;
	if (e->sweep_fd != -1)
		close(e->sweep_fd);
	e->sweep_fd = -1;
	e->pid = 0;
	e->next = u->free;
	u->free = e;
}

/* The worker pid is idle again, or gone: forget its peer. */
static void
udp_worker_done(struct udp_side *u, pid_t pid)
{
	size_t i;

	for (i = 0; i < u->npeers_used; i++)
		if (u->peers[i].pid == pid)
			peer_remove(u, &u->peers[i]);
}

static void log_peer_drop(struct udp_side *, struct log_limit *, uint32_t,
    const char *, enum drop_reason, int);

/* Put a swept datagram of another peer in the stash, to be dispatched. */
static void
stash_push(struct udp_side *u, const struct sockaddr_storage *from,
    const struct sockaddr_storage *local, size_t len)
{
	struct stashed *st = malloc(sizeof(*st) + len);

	if (st == NULL) {
		log_peer_drop(u, &u->lim_failed, 0, "-", DROP_NO_MEMORY, 0);
		return;
	}
	st->next = NULL;
	st->from = *from;
	st->local = *local;
	st->len = len;
	memcpy(st->data, u->sweep, len);
	*u->stash_tail = st;
	u->stash_tail = &st->next;
}

/*
 * Between its bind() and its connect(), a new peer socket is the most
 * specific socket for its local address and port: the kernel may queue
 * other peers' datagrams on it (seen a few times in a thousand hand-offs
 * under load).  The supervisor takes them off itself, and stashes them to
 * be dispatched like any other: their source is the kernel's word, never
 * a worker's.  Twice: right after the connect, up to the first datagram
 * of the socket's own peer (those must stay behind the ones still queued
 * on a listener); and at SYNC (e, not NULL), when the worker has not read
 * its socket yet and every earlier datagram of its peer has been passed
 * on: then all of them, the peer's own forwarded to its worker in order.
 * A worker drops one that still reaches it.
 */
static void
peer_sweep(struct udp_side *u, int fd, const struct sockaddr_storage *peer,
    const struct sockaddr_storage *local, struct udp_peer *e)
{
	unsigned n;

	for (n = 0; n < SWEEP_MAX; n++) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		ssize_t r;

		r = recvfrom(fd, u->sweep, UDP_DGRAM_MAX, MSG_PEEK | MSG_DONTWAIT,
		    (struct sockaddr *)&from, &len);
		if (r == -1)
			return;
		if (addr_equal(&from, peer)) {
			struct handoff h = { .tag = HANDOFF_TAG,
			    .kind = HANDOFF_UDP_DATA, .payload_len = (uint32_t)r };

			/* Taken off only once its worker has it: a full
			 * channel leaves it (and what follows) to the worker. */
			if (e == NULL)
				return;
			h.conn_id = e->id;
			h.peer = e->addr;
			h.local = e->local;
			if (pool_send(u->pool, e->pid, &h, u->sweep) == -1)
				return;
			e->forwarded++;
		}
		if (recv(fd, u->sweep, UDP_DGRAM_MAX, MSG_DONTWAIT) != r)
			return;
		if (!addr_equal(&from, peer))
			stash_push(u, &from, local, (size_t)r);
	}
}

/*
 * A socket of our own for this peer: bound beside the listener (same
 * local address and port, SO_REUSEADDR on both) and connected to the
 * peer, so the kernel sends the peer's datagrams to it.  Not in the
 * listeners' SO_REUSEPORT group: the group's selection could then hand it
 * other peers' datagrams.  Returns it, or -1.
 */
static int
peer_socket(struct udp_side *u, const struct sockaddr_storage *peer,
    const struct sockaddr_storage *local)
{
	int fd;

	fd = socket(local->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    IPPROTO_UDP);
	if (fd == -1)
		return -1;
	/* An IPv4 peer of a dual-stack listener (-l :port): its local
	 * address is v4-mapped, which a v6-only socket cannot bind
	 * (net.ipv6.bindv6only=1). */
	if (local->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(
	    &((const struct sockaddr_in6 *)local)->sin6_addr) &&
	    sockopt_set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0) == -1)
		return close_fail(fd);
	/* -listen-transparent: the original destination may be any
	 * address, and a TPROXY rule finds the socket only if it is
	 * transparent. */
	if (u->opt->listen_transparent && (local->ss_family == AF_INET6 ?
	    sockopt_set_int(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, 1) :
	    sockopt_set_int(fd, IPPROTO_IP, IP_TRANSPARENT, 1)) == -1)
		return close_fail(fd);
	if (sockopt_set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) == -1 ||
	    bind(fd, (const struct sockaddr *)local, addr_len(local)) == -1 ||
	    connect(fd, (const struct sockaddr *)peer, addr_len(peer)) == -1)
		return close_fail(fd);
	peer_sweep(u, fd, peer, local, NULL);
	return fd;
}

static void
log_peer_drop(struct udp_side *u, struct log_limit *lim, uint32_t id,
    const char *peer_s, enum drop_reason why, int err)
{
	u->totals->drops[why]++;
	if (!log_limit_allow(lim))
		return;
	if (err != 0)
		log_line(LOG_ERRORS, "drop id=%u peer=%s proto=udp reason=%s "
		    "error=\"%s\"", id, peer_s, drop_str(why), strerror(err));
	else
		log_line(LOG_ERRORS, "drop id=%u peer=%s proto=udp reason=%s",
		    id, peer_s, drop_str(why));
}

/* A datagram from a peer no worker has: check it, give it a worker. */
static void
peer_new(struct udp_side *u, const struct sockaddr_storage *from,
    const struct sockaddr_storage *local, const uint8_t *data, size_t len)
{
	struct handoff h = { .tag = HANDOFF_TAG, .kind = HANDOFF_UDP,
	    .nfds = 1, .conn_id = ++u->next_id, .accepted_ms = now_ms(),
	    .payload_len = (uint32_t)len, .peer = *from, .local = *local };
	char peer_s[ADDR_STRLEN] = "-", local_s[ADDR_STRLEN + 32] = "";
	struct sockaddr_storage un = *from;
	pid_t pid;
	int fd;

	addr_unmap(&un);
	if (log_enabled(LOG_ERRORS))
		addr_format(&un, peer_s, sizeof(peer_s));
	/* Before anything else: a refused peer never reaches a worker. */
	if (u->opt->allowed_subnets_path != NULL &&
	    !subnet_match(u->allowed, &un)) {
		log_peer_drop(u, &u->lim_refused, h.conn_id, peer_s,
		    DROP_NOT_ALLOWED, 0);
		return;
	}
	if (u->free == NULL) {
		log_peer_drop(u, &u->lim_full, h.conn_id, peer_s, DROP_POOL_FULL, 0);
		return;
	}
	if ((fd = peer_socket(u, from, local)) == -1) {
		log_peer_drop(u, &u->lim_failed, h.conn_id, peer_s,
		    DROP_SOCKET_FAILED, errno);
		return;
	}
	if (log_enabled(LOG_STATES)) {
		struct sockaddr_storage l = *local;

		addr_unmap(&l);
		strcpy(local_s, " proto=udp local=");
		addr_format(&l, local_s + strlen(local_s),
		    sizeof(local_s) - strlen(local_s));
	}
	pid = pool_handoff(u->pool, &h, &fd, data, peer_s, local_s);
	if (pid == -1) {
		close(fd);
		log_peer_drop(u, &u->lim_full, h.conn_id, peer_s, errno == EAGAIN ?
		    DROP_POOL_FULL : DROP_HANDOFF_FAILED, 0);
		return;
	}
	/* Our copy stays until SYNC: the last sweep (peer_sweep()). */
	peer_add(u, from, local, pid, h.conn_id, fd);
}

/* A datagram of a peer that has a worker: it was queued before the
 * peer's socket existed, swept off another peer's socket, or given back
 * by a worker whose job for this peer had ended. */
static void
peer_forward(struct udp_side *u, struct udp_peer *e, const uint8_t *data,
    size_t len)
{
	/* The local address of its worker's hand-off, whichever of ours the
	 * datagram came to: its replies leave from there anyway, and a
	 * worker bounces a datagram only with the local address it was
	 * given (udp_message checks that). */
	struct handoff h = { .tag = HANDOFF_TAG, .kind = HANDOFF_UDP_DATA,
	    .conn_id = e->id, .payload_len = (uint32_t)len, .peer = e->addr,
	    .local = e->local };
	char peer_s[ADDR_STRLEN] = "-";

	if (pool_send(u->pool, e->pid, &h, data) == 0) {
		e->forwarded++;
		return;
	}
	if (log_enabled(LOG_ERRORS)) {
		struct sockaddr_storage un = e->addr;

		addr_unmap(&un);
		addr_format(&un, peer_s, sizeof(peer_s));
	}
	log_peer_drop(u, &u->lim_failed, e->id, peer_s, DROP_HANDOFF_FAILED, errno);
}

static void dispatch_one(struct udp_side *, const struct sockaddr_storage *,
    const struct sockaddr_storage *, const uint8_t *, size_t);

/* The swept datagrams, dispatched: at the outermost level only. */
static void
stash_drain(struct udp_side *u)
{
	struct stashed *st;

	if (u->dispatching)
		return;
	u->dispatching = 1;
	while ((st = u->stash) != NULL) {
		if ((u->stash = st->next) == NULL)
			u->stash_tail = &u->stash;
		dispatch_one(u, &st->from, &st->local, st->data, st->len);
		free(st);
	}
	u->dispatching = 0;
}

static void
dispatch_one(struct udp_side *u, const struct sockaddr_storage *from,
    const struct sockaddr_storage *local, const uint8_t *data, size_t len)
{
	struct udp_peer *e = peer_find(u, from);

	if (e != NULL)
		peer_forward(u, e, data, len);
	else
		peer_new(u, from, local, data, len);
}

/* A datagram, then whatever a new peer's socket had of other peers'. */
static void
dispatch(struct udp_side *u, const struct sockaddr_storage *from,
    const struct sockaddr_storage *local, const uint8_t *data, size_t len)
{
	dispatch_one(u, from, local, data, len);
	stash_drain(u);
}

/*
 * Is h, a datagram bounced by worker w, one it can have had: one we
 * forwarded for its current job or the one before, so of that job's peer
 * and local address?  Any other would have the supervisor connect a
 * socket, or pass bytes to another worker, where a worker says.
 */
static const struct pool_job *
bounce_plausible(const struct pool_worker *w, const struct handoff *h)
{
	const struct pool_job *j = pool_worker_job(w, h->conn_id);

	/* Byte for byte, as forwarded: another spelling of the same peer (a
	 * v4-mapped one with a flow label) would be a new peer to the table. */
	if (j == NULL || !addr_equal(&h->peer, &j->peer) ||
	    !addr_equal(&h->local, &j->local))
		return NULL;
	return j;
}

/*
 * Pool hook: a message from worker w, untrusted and of two shapes only.
 * A dial request (dial_channel.c checks it) is answered on w's socket
 * channel, while w is busy.  A datagram its peer ended before it could be
 * served is dispatched again (draining, it finds no new worker).  Any
 * other message breaks the protocol.
 */
static const char *
udp_message(void *ctx, struct pool_worker *w, const uint8_t *m, size_t n)
{
	struct udp_side *u = ctx;
	struct dial_policy pol = { .opt = u->opt, .type = SOCK_DGRAM,
	    .client = *pool_worker_client(w),
	    .prepare_failing = &u->prepare_failing };
	const struct pool_job *j;
	struct handoff h;

	if (n < sizeof(h))
		return "message_malformed";
	memcpy(&h, m, sizeof(h));
	if (h.tag == HANDOFF_TAG && h.kind == HANDOFF_DIAL_REQ)
		return !pool_worker_busy(w) ? "dial_while_idle" :
		    dial_answer(&pol, pool_worker_sockch(w), m, n, NULL);
	if (h.tag != HANDOFF_TAG || h.kind != HANDOFF_UDP_DATA ||
	    h.nfds != 0 || n != sizeof(h) + h.payload_len)
		return "message_malformed";
	if ((j = bounce_plausible(w, &h)) == NULL)
		return "bounce_forged";
	/* Our own copies of the addresses, not the worker's. */
	if (!u->stopping)
		dispatch(u, &j->peer, &j->local, m + sizeof(h), h.payload_len);
	return NULL;
}

/* Pool hook: the idle byte: w's peer has ended.  More may follow. */
static int
udp_idle(void *ctx, struct pool_worker *w, uint8_t b)
{
	(void)b;
	udp_worker_done(ctx, pool_worker_pid(w));
	return 1;
}

static void
udp_gone(void *ctx, struct pool_worker *w)
{
	udp_worker_done(ctx, pool_worker_pid(w));
}

/*
 * A datagram's original destination (-listen-transparent), from its
 * IP_ORIGDSTADDR or IPV6_ORIGDSTADDR: address and port, v4-mapped on a
 * dual-stack listener.  Returns 0, or -1 if it has none.
 */
static int
datagram_origdst(struct msghdr *m, const struct sockaddr_storage *bound,
    struct sockaddr_storage *out)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_ORIGDSTADDR &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct sockaddr_in))) {
			struct sockaddr_in sin;

			memcpy(&sin, CMSG_DATA(c), sizeof(sin));
			memset(out, 0, sizeof(*out));
			if (bound->ss_family == AF_INET) {
				memcpy(out, &sin, sizeof(sin));
				return 0;
			}
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
			s6->sin6_family = AF_INET6;
			s6->sin6_port = sin.sin_port;
			s6->sin6_addr.s6_addr[10] = 0xff;
			s6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&s6->sin6_addr.s6_addr[12], &sin.sin_addr, 4);
			return 0;
		}
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_ORIGDSTADDR &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct sockaddr_in6))) {
			memset(out, 0, sizeof(*out));
			memcpy(out, CMSG_DATA(c), sizeof(struct sockaddr_in6));
			return 0;
		}
	}
	return -1;
}

/*
 * The local address a datagram arrived on, from its IP_PKTINFO or
 * IPV6_PKTINFO, with the listener's port; with -listen-transparent its
 * original destination, port included.  Returns 0, or -1.
 */
static int
datagram_local(struct msghdr *m, const struct sockaddr_storage *bound,
    int transparent, struct sockaddr_storage *out)
{
	struct cmsghdr *c;

	if (transparent)
		return datagram_origdst(m, bound, out);
	*out = *bound;
	for (c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			if (bound->ss_family == AF_INET) {
				((struct sockaddr_in *)out)->sin_addr = pi.ipi_addr;
				return 0;
			}
			/* A dual-stack listener: ::ffff:a.b.c.d */
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
			memset(&s6->sin6_addr, 0, sizeof(s6->sin6_addr));
			s6->sin6_addr.s6_addr[10] = 0xff;
			s6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&s6->sin6_addr.s6_addr[12], &pi.ipi_addr, 4);
			return 0;
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			s6->sin6_addr = pi.ipi6_addr;
			s6->sin6_scope_id = IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr) ?
			    pi.ipi6_ifindex : 0;
			return 0;
		}
	}
	return -1;
}

static void
batch_reset(struct udp_side *u)
{
	struct udp_batch *b = &u->batch;
	unsigned i;

	for (i = 0; i < UDP_BATCH; i++) {
		b->iov[i] = (struct iovec){ u->buf + (size_t)i * UDP_DGRAM_MAX,
		    UDP_DGRAM_MAX };
		b->msg[i].msg_hdr = (struct msghdr){ .msg_name = &b->from[i],
		    .msg_namelen = sizeof(b->from[i]), .msg_iov = &b->iov[i],
		    .msg_iovlen = 1, .msg_control = b->ctl[i].b,
		    .msg_controllen = sizeof(b->ctl[i].b) };
	}
}

/* Read one batch from listener i.  Returns datagrams read, 0 if none. */
static int
listener_read(struct udp_side *u, unsigned i)
{
	struct udp_batch *b = &u->batch;
	struct sockaddr_storage local;
	int k, n;

	batch_reset(u);
	n = recvmmsg(u->listeners[i], b->msg, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    log_limit_allow(&u->lim_failed))
			log_line(LOG_ERRORS, "recv proto=udp error=\"%s\"",
			    strerror(errno));
		return 0;
	}
	for (k = 0; k < n; k++) {
		struct msghdr *m = &b->msg[k].msg_hdr;

		/* Never a cut datagram, never one we cannot answer from. */
		if ((m->msg_flags & MSG_TRUNC) || datagram_local(m, &u->bound[i],
		    u->opt->listen_transparent, &local) == -1)
			continue;
		dispatch(u, &b->from[k], &local, u->buf + (size_t)k * UDP_DGRAM_MAX,
		    b->msg[k].msg_len);
	}
	return n;
}

static void
sync_all(struct udp_side *u)
{
	struct handoff h = { .tag = HANDOFF_TAG, .kind = HANDOFF_UDP_SYNC };
	int retry = 0, young = 0;
	size_t i;

	u->sync_wake_ms = -1;
	for (i = 0; i < u->npeers_used; i++) {
		struct udp_peer *e = &u->peers[i];

		if (e->pid == 0 || !e->sync_due)
			continue;
		/* A datagram the kernel was queueing on the socket as it was
		 * connected has landed by now: the last sweep takes it off. */
		if (ms_until(e->sync_after_ms) > 0) {
			if (u->sync_wake_ms == -1 ||
			    e->sync_after_ms < u->sync_wake_ms)
				u->sync_wake_ms = e->sync_after_ms;
			young = 1;
			continue;
		}
		if (e->sweep_fd != -1) {
			peer_sweep(u, e->sweep_fd, &e->addr, &e->local, e);
			close(e->sweep_fd);
			e->sweep_fd = -1;
		}
		h.conn_id = e->id;
		h.peer = e->addr;
		/* A full channel: try again in a while.  Any other failure: the
		 * worker is gone, and its reaping removes the entry. */
		if (pool_send(u->pool, e->pid, &h, NULL) == -1 && errno == EAGAIN) {
			retry = 1;
			continue;
		}
		log_line(LOG_STATES, "sync id=%u forwarded=%u", e->id,
		    e->forwarded);
		e->sync_due = 0;
		u->npending--;
	}
	/* Young peers have their own wake-up: the drain's 50 ms starts
	 * again, or udp_timeout() would say 0 until they are old enough. */
	if (retry || young)
		u->pending_since_ms = now_ms();
	stash_drain(u);
}

/*
 * Read the listeners until all are empty (or DRAIN_BUDGET datagrams have
 * been read), dispatching each datagram; then tell the new peers' workers
 * that their queued datagrams have all been passed on.  Any readable
 * listener starts it: a datagram cannot wait.
 */
static void
udp_readable(void *ctx, const struct pollfd *pfd)
{
	struct udp_side *u = ctx;
	int budget = DRAIN_BUDGET, progress;
	unsigned i;

	for (i = 0; i < u->nlisteners && !(pfd[i].revents & POLLIN); i++)
		;
	if (i == u->nlisteners)
		return;
	do {
		progress = 0;
		for (i = 0; i < u->nlisteners; i++) {
			int n = listener_read(u, i);

			progress |= n > 0;
			budget -= n;
		}
	} while (progress && budget > 0);
	if (u->npending > 0 && (!progress ||
	    now_ms() - u->pending_since_ms >= SYNC_MAX_MS))
		sync_all(u);
}

/*
 * Listeners are polled even when no worker is idle (a datagram cannot
 * wait: a worker is forked for a new peer), but not while the pool backs
 * off after a failed spawn: for that moment the datagrams wait queued.
 */
static void
udp_fds(void *ctx, struct pollfd *pfd)
{
	struct udp_side *u = ctx;
	int reading = pool_backing_off(u->pool) == 0;
	unsigned i;

	for (i = 0; i < u->nlisteners; i++)
		pfd[i] = (struct pollfd){ .fd = reading ? u->listeners[i] : -1,
		    .events = POLLIN };
}

/* A poll(2) timeout: a pending SYNC, or a log summary, must not wait for
 * a datagram. */
static int
udp_timeout(const void *ctx)
{
	const struct udp_side *u = ctx;
	int t = log_limit_due_ms(&u->lim_refused);

	t = timeout_min(t, log_limit_due_ms(&u->lim_full));
	t = timeout_min(t, log_limit_due_ms(&u->lim_failed));
	if (u->npending == 0)
		return t;
	if (u->sync_wake_ms != -1)
		t = timeout_min(t, ms_until(u->sync_wake_ms));
	return timeout_min(t, ms_until(u->pending_since_ms + SYNC_MAX_MS));
}

static void
udp_tick(void *ctx)
{
	struct udp_side *u = ctx;

	if (u->npending > 0 && (ms_until(u->pending_since_ms + SYNC_MAX_MS) == 0 ||
	    (u->sync_wake_ms != -1 && ms_until(u->sync_wake_ms) == 0)))
		sync_all(u);
	log_limit_flush(&u->lim_refused);
	log_limit_flush(&u->lim_full);
	log_limit_flush(&u->lim_failed);
}

static void
udp_stop(void *ctx)
{
	struct udp_side *u = ctx;
	unsigned i;

	u->stopping = 1;
	for (i = 0; i < u->nlisteners; i++)
		close(u->listeners[i]);
	/* Flows idle for a second end now, not at -drain-timeout.  A worker
	 * whose channel is full hears nothing, and has the whole drain. */
	for (i = 0; i < u->npeers_used; i++) {
		struct udp_peer *e = &u->peers[i];
		struct handoff h = { .tag = HANDOFF_TAG,
		    .kind = HANDOFF_UDP_DRAIN, .conn_id = e->id };

		if (e->pid != 0)
			(void)pool_send(u->pool, e->pid, &h, NULL);
	}
}

static const struct side_ops udp_ops = {
	.fds = udp_fds,
	.readable = udp_readable,
	.timeout = udp_timeout,
	.tick = udp_tick,
	.stop = udp_stop,
};

/*
 * The UDP side for a's prepared listening sockets, with room for one peer
 * per worker (-max-conns), attached to a's pool.  Exits on failure: it is
 * startup.
 */
void
udp_side_new(const struct side_args *a, struct side *out)
{
	/* The channel has room for the datagrams queued on a listener at a
	 * hand-off; a surplus is dropped. */
	struct pool_user pu = { .msg_max = sizeof(struct handoff) +
	    HANDOFF_MAX_PAYLOAD, .socket_channel = 1,
	    .ctl_sndbuf = UDP_CHANNEL_SNDBUF, .idle = udp_idle,
	    .message = udp_message, .gone = udp_gone };
	const struct options *opt = a->opt;
	unsigned nlisteners = a->nlisteners;
	const int *listeners = a->listeners;
	struct udp_side *u;
	size_t i;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		fatal("udp");
	u->opt = opt;
	u->pool = a->pool;
	u->allowed = a->allowed;
	u->totals = a->totals;
	u->listeners = listeners;
	u->nlisteners = nlisteners;
	u->lim_refused.what = "drop_not_allowed";
	u->lim_full.what = "drop_pool_full";
	u->lim_failed.what = "udp_error";
	for (u->nbuckets = 16; u->nbuckets < 2 * (size_t)opt->max_conns;)
		u->nbuckets *= 2;
	if (getrandom(&u->hash_key, sizeof(u->hash_key), 0) !=
	    (ssize_t)sizeof(u->hash_key))
		fatal("udp: getrandom");
	u->bound = calloc(nlisteners, sizeof(*u->bound));
	u->peers = calloc(opt->max_conns, sizeof(*u->peers));
	u->bucket = calloc(u->nbuckets, sizeof(*u->bucket));
	/* Pages are touched only as large datagrams arrive. */
	u->buf = malloc((size_t)UDP_BATCH * UDP_DGRAM_MAX);
	u->sweep = malloc(UDP_DGRAM_MAX);
	u->stash_tail = &u->stash;
	u->sync_wake_ms = -1;
	if (u->bound == NULL || u->peers == NULL || u->bucket == NULL ||
	    u->buf == NULL || u->sweep == NULL)
		fatal("udp");
	for (i = opt->max_conns; i > 0; i--) {
		u->peers[i - 1].sweep_fd = -1;
		u->peers[i - 1].next = u->free;
		u->free = &u->peers[i - 1];
	}
	for (i = 0; i < nlisteners; i++) {
		socklen_t len = sizeof(u->bound[i]);

		if (getsockname(listeners[i], (struct sockaddr *)&u->bound[i],
		    &len) == -1)
			fatal("udp listener");
	}
	pu.ctx = u;
	pool_attach(a->pool, &pu);
	*out = (struct side){ &udp_ops, u, nlisteners };
}
