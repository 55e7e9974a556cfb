/*
 * The supervisor's TCP side, the twin of udp_listener.c.  It accepts on
 * the listening sockets while a worker is idle, checks the peer against
 * -allowed-subnets before any byte is read, and hands the connection to
 * the pool.  It answers each worker's one dial request (dial_channel.c)
 * with a socket bound to the source the worker parsed and connecting to
 * the target, from spares made before accept.  It never reads from a
 * client, never blocks on one, and never exits because of one; it knows
 * the pool only through pool.h.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
#include "tcp_listener.h"

struct tcp_side {
	const struct options	*opt;
	struct pool		*pool;
	const struct subnet_list *allowed;	/* the supervisor's; SIGHUP */
	struct totals		*totals;	/* the supervisor's */
	const int		*listeners;
	unsigned		 nlisteners;
	uint32_t		 next_id;
	int			 full_logged;
	int			 accept_failing;	/* logged once per episode */
	int			 prepare_failing;	/* the same for sockets */
	int			 prepare_warned[2];	/* a family we cannot make */
	int			 spare[2];	/* made ahead: [0] IPv4, [1] IPv6 */
	struct log_limit	 drop_limit;	/* drops at accept */
};

/*
 * A worker's side slot points here while its job has had its one dial,
 * and is NULL otherwise: no allocation that could fail and leave a
 * second dial unchecked.
 */
static char dialed_mark;

/*
 * Make the spare upstream sockets that are missing, one per family, so
 * that the next connection's dial needs no new fd.  Returns 0, or -1
 * (logged once per episode) when one could not be made for want of fds
 * or memory: the caller waits rather than take a connection it could not
 * serve.  A family the host cannot make at all (IPv6 disabled) is logged
 * once and left out: its clients are dropped as socket_failed, the
 * others served.
 */
static int
spares_prepare(struct tcp_side *t)
{
	static const int family[2] = { AF_INET, AF_INET6 };
	size_t i;

	for (i = 0; i < 2; i++) {
		if (t->spare[i] != -1 || t->prepare_warned[i])
			continue;
		t->spare[i] = dial_prepare(family[i], SOCK_STREAM, t->opt->mark);
		if (t->spare[i] != -1) {
			dial_prepare_result(family[i], t->spare[i],
			    &t->prepare_failing);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			dial_prepare_result(family[i], -1, &t->prepare_failing);
			return -1;
		}
		log_line(LOG_ALWAYS, "prepare family=%s error=\"%s\" msg=\"its "
		    "clients will be dropped\"", i ? "ipv6" : "ipv4",
		    strerror(errno));
		t->prepare_warned[i] = 1;
	}
	return 0;
}

/* Pool hook: a new job, a new dial. */
static void
tcp_job_sent(void *ctx, struct pool_worker *w, const struct handoff *h)
{
	(void)ctx;
	(void)h;
	*pool_worker_side(w) = NULL;
}

/*
 * Pool hook: a worker's message, which can only be the dial request of
 * its job: one, while busy (dial_channel.c checks the rest).  Its answer
 * goes on the channel it came on: nothing else is sent to a busy worker.
 */
static const char *
tcp_message(void *ctx, struct pool_worker *w, const uint8_t *m, size_t n)
{
	struct tcp_side *t = ctx;
	void **dialed = pool_worker_side(w);
	struct dial_policy pol = { .opt = t->opt, .type = SOCK_STREAM,
	    .client = *pool_worker_client(w),
	    .prepare_failing = &t->prepare_failing };
	struct handoff req;
	const char *bad;

	if (!pool_worker_busy(w))
		return "dial_while_idle";
	if (*dialed == &dialed_mark)
		return "dial_twice";
	if (n == sizeof(req))
		memcpy(&req, m, sizeof(req));
	else
		req.upstream = 0;
	bad = dial_answer(&pol, pool_worker_ctl(w), m, n,
	    &t->spare[req.upstream == UPSTREAM_V6]);
	*dialed = &dialed_mark;
	return bad;
}

/* Pool hook: the idle byte carries nothing for TCP. */
static int
tcp_idle(void *ctx, struct pool_worker *w, uint8_t b)
{
	(void)ctx;
	(void)w;
	(void)b;
	return 0;
}

static void
tcp_gone(void *ctx, struct pool_worker *w)
{
	(void)ctx;
	*pool_worker_side(w) = NULL;
}

static void
accepted(struct tcp_side *t, int fd, struct sockaddr_storage *peer)
{
	char peer_s[ADDR_STRLEN];
	uint32_t id = ++t->next_id;
	struct handoff h = { .tag = HANDOFF_TAG, .kind = HANDOFF_TCP,
	    .nfds = 1, .conn_id = id, .accepted_ms = now_ms() };

	addr_unmap(peer);
	h.peer = *peer;
	/* Only for the log: -v 0 logs nothing per connection. */
	peer_s[0] = '\0';
	if (log_enabled(LOG_ERRORS))
		addr_format(peer, peer_s, sizeof(peer_s));
	/* Before any byte is read: a refused peer never reaches a worker. */
	if (t->opt->allowed_subnets_path != NULL &&
	    !subnet_match(t->allowed, peer)) {
		t->totals->drops[DROP_NOT_ALLOWED]++;
		if (log_limit_allow(&t->drop_limit))
			log_line(LOG_ERRORS, "drop id=%u peer=%s reason=%s", id,
			    peer_s, drop_str(DROP_NOT_ALLOWED));
	} else if (pool_handoff(t->pool, &h, &fd, NULL, peer_s, "") == -1) {
		t->totals->drops[DROP_HANDOFF_FAILED]++;
		if (log_limit_allow(&t->drop_limit))
			log_line(LOG_ERRORS, "drop id=%u peer=%s reason=%s", id,
			    peer_s, drop_str(DROP_HANDOFF_FAILED));
	}
	close(fd);
}

/*
 * Is a worker idle and are the spare upstream sockets made?  Checked
 * before accept(), so that a connection is never taken while no upstream
 * socket can be made for it (EMFILE): it waits in the backlog instead.
 */
static int
pool_ready(struct tcp_side *t)
{
	return pool_next_idle(t->pool) != NULL && spares_prepare(t) == 0;
}

/* Accept while a worker is idle.  Errors never stop the supervisor. */
static void
accept_some(struct tcp_side *t, int lfd)
{
	while (pool_idle(t->pool) > 0) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd;

		if (!pool_ready(t)) {
			pool_back_off(t->pool);
			return;
		}
		fd = accept4(lfd, (struct sockaddr *)&peer, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			t->accept_failing = 0;
			accepted(t, fd, &peer);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* Once per episode: it is retried after the back-off. */
			if (!t->accept_failing)
				log_line(LOG_ERRORS, "accept error=\"%s\" "
				    "backoff_ms=%d", strerror(errno),
				    POOL_BACKOFF_MS);
			t->accept_failing = 1;
			pool_back_off(t->pool);
			return;
		}
		/* ECONNABORTED, EPROTO, EPERM (a firewall): that peer only. */
		if (errno != EINTR)
			log_line(LOG_ERRORS, "accept error=\"%s\"", strerror(errno));
	}
}

/*
 * Listeners are polled while a worker is idle: a connection waits in the
 * backlog, and at -max-conns that is said once.
 */
static void
tcp_fds(void *ctx, struct pollfd *pfd)
{
	struct tcp_side *t = ctx;
	int accepting = pool_idle(t->pool) > 0 &&
	    pool_backing_off(t->pool) == 0;
	unsigned i;

	if (!accepting && pool_at_max(t->pool) && !t->full_logged) {
		log_line(LOG_ERRORS, "pool_full max_conns=%u msg=\"new "
		    "connections wait in the backlog\"", t->opt->max_conns);
		t->full_logged = 1;
	} else if (accepting)
		t->full_logged = 0;
	for (i = 0; i < t->nlisteners; i++)
		pfd[i] = (struct pollfd){
		    .fd = accepting ? t->listeners[i] : -1, .events = POLLIN };
}

static void
tcp_readable(void *ctx, const struct pollfd *pfd)
{
	struct tcp_side *t = ctx;
	unsigned i;

	for (i = 0; i < t->nlisteners; i++)
		if (pfd[i].revents & POLLIN)
			accept_some(t, t->listeners[i]);
}

/* A log summary must not wait for a connection. */
static int
tcp_timeout(const void *ctx)
{
	const struct tcp_side *t = ctx;

	return log_limit_due_ms(&t->drop_limit);
}

static void
tcp_tick(void *ctx)
{
	struct tcp_side *t = ctx;

	log_limit_flush(&t->drop_limit);
}

static void
tcp_stop(void *ctx)
{
	struct tcp_side *t = ctx;
	unsigned i;

	for (i = 0; i < t->nlisteners; i++)
		close(t->listeners[i]);
	for (i = 0; i < 2; i++)
		if (t->spare[i] != -1)
			close(t->spare[i]);
	t->spare[0] = t->spare[1] = -1;
}

static const struct side_ops tcp_ops = {
	.fds = tcp_fds,
	.readable = tcp_readable,
	.timeout = tcp_timeout,
	.tick = tcp_tick,
	.stop = tcp_stop,
};

/*
 * The TCP side for a's listening sockets, attached to a's pool.  Exits on
 * failure: it is startup.
 */
void
tcp_side_new(const struct side_args *a, struct side *out)
{
	struct pool_user u = { .msg_max = sizeof(struct handoff),
	    .idle = tcp_idle, .message = tcp_message, .job_sent = tcp_job_sent,
	    .gone = tcp_gone };
	struct tcp_side *t;
	unsigned i;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("tcp");
	t->opt = a->opt;
	t->pool = a->pool;
	t->allowed = a->allowed;
	t->totals = a->totals;
	t->listeners = a->listeners;
	t->nlisteners = a->nlisteners;
	t->drop_limit.what = "drop";
	t->spare[0] = t->spare[1] = -1;
	/* Accepted connections inherit them: no setsockopt for each. */
	for (i = 0; i < a->nlisteners; i++) {
		(void)sockopt_set_int(a->listeners[i], IPPROTO_TCP, TCP_NODELAY,
		    1);
		(void)tcp_keepalive_set(a->listeners[i]);
	}
	u.ctx = t;
	pool_attach(a->pool, &u);
	*out = (struct side){ &tcp_ops, t, a->nlisteners };
}
