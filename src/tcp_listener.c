/*
 * The supervisor's TCP side, the twin of udp_listener.c.  It accepts on
 * the listening sockets while a worker is idle, checks the peer against
 * -allowed-subnets before any byte is read, and hands the connection to
 * the pool with the prepared upstream sockets (dial_prepare) that the
 * worker's stock lacks.  It never reads from a client, never blocks on
 * one, and never exits because of one; it knows the pool only through
 * pool.h.
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
#include "drop.h"
#include "io.h"
#include "log.h"
#include "tcp_listener.h"

struct tcp_side {
	const struct options	*opt;
	struct pool		*pool;
	const struct subnet_list *allowed;	/* the supervisor's; SIGHUP */
	const int		*listeners;
	unsigned		 nlisteners;
	uint32_t		 next_id;
	int			 full_logged;
	int			 accept_failing;	/* logged once per episode */
	int			 prepare_failing;	/* the same for sockets */
	int			 prepare_warned[2];	/* a family we cannot make */
	struct log_limit	 drop_limit;	/* drops at accept */
};

/*
 * A worker's stock: the prepared upstream sockets made for its next job
 * ([0] IPv4, [1] IPv6, -1 when none), and the families its last idle
 * byte said it lacks.
 */
struct tcp_stock {
	int	fd[2];
	uint8_t	want;
};

/* w's stock, made on first use.  Returns it, or NULL (errno ENOMEM). */
static struct tcp_stock *
stock_of(struct pool_worker *w)
{
	void **slot = pool_worker_side(w);
	struct tcp_stock *st = *slot;

	if (st == NULL && (st = malloc(sizeof(*st))) != NULL) {
		*st = (struct tcp_stock){ { -1, -1 }, UPSTREAM_V4 | UPSTREAM_V6 };
		*slot = st;
	}
	return st;
}

/*
 * Make the prepared upstream sockets w's stock lacks (its want bits), to
 * go with its next job.  Returns 0, or -1 (logged, rate-limited) when one
 * could not be made for want of fds or memory: the caller waits rather
 * than take a connection it could not serve.  A family the host cannot
 * make at all (IPv6 disabled) is logged once and left out: its clients
 * are dropped by the worker as socket_failed, the others served.
 */
static int
stock_prepare(struct tcp_side *t, struct pool_worker *w)
{
	static const int family[2] = { AF_INET, AF_INET6 };
	struct tcp_stock *st = stock_of(w);
	size_t i;

	if (st == NULL) {
		dial_prepare_result(family[0], -1, &t->prepare_failing);
		return -1;
	}
	for (i = 0; i < 2; i++) {
		if (!(st->want & UPSTREAM_BIT(family[i])) || st->fd[i] != -1)
			continue;
		st->fd[i] = dial_prepare(family[i], SOCK_STREAM, t->opt->mark);
		if (st->fd[i] != -1) {
			dial_prepare_result(family[i], st->fd[i],
			    &t->prepare_failing);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			dial_prepare_result(family[i], -1, &t->prepare_failing);
			return -1;
		}
		if (!t->prepare_warned[i])
			log_line(LOG_ALWAYS, "prepare family=%s error=\"%s\": "
			    "its clients will be dropped", i ? "ipv6" : "ipv4",
			    strerror(errno));
		t->prepare_warned[i] = 1;
	}
	return 0;
}

/*
 * Pool hook: a TCP job's fds are the client, then the prepared upstream
 * sockets made for w (IPv4 first); h->nfds and h->upstream say which
 * came.  A family that could not be made is asked for again with the
 * next idle byte.
 */
static void
tcp_job_prepare(void *ctx, struct pool_worker *w, struct handoff *h, int *fds)
{
	struct tcp_stock *st;
	size_t i;

	(void)stock_prepare(ctx, w);
	h->upstream = 0;
	if ((st = *pool_worker_side(w)) == NULL)
		return;
	for (i = 0; i < 2; i++) {
		if (st->fd[i] == -1)
			continue;
		fds[h->nfds++] = st->fd[i];
		h->upstream |= (uint8_t)(i == 0 ? UPSTREAM_V4 : UPSTREAM_V6);
	}
}

static void
stock_close(struct tcp_stock *st)
{
	size_t i;

	for (i = 0; i < 2; i++) {
		if (st->fd[i] != -1)
			close(st->fd[i]);
		st->fd[i] = -1;
	}
}

/* Pool hook: the stock went with the job; the worker has its copies. */
static void
tcp_job_sent(void *ctx, struct pool_worker *w, const struct handoff *h)
{
	struct tcp_stock *st = *pool_worker_side(w);

	(void)ctx;
	if (st == NULL)
		return;
	stock_close(st);
	st->want &= (uint8_t)~h->upstream;
}

/* Pool hook: the idle byte says which families its stock lacks. */
static int
tcp_idle(void *ctx, struct pool_worker *w, uint8_t b)
{
	struct tcp_stock *st = stock_of(w);

	(void)ctx;
	if (st != NULL)
		st->want = b & (UPSTREAM_V4 | UPSTREAM_V6);
	return 0;
}

static void
tcp_gone(void *ctx, struct pool_worker *w)
{
	void **slot = pool_worker_side(w);

	(void)ctx;
	if (*slot == NULL)
		return;
	stock_close(*slot);
	free(*slot);
	*slot = NULL;
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
		if (log_limit_allow(&t->drop_limit))
			log_line(LOG_ERRORS, "drop id=%u peer=%s reason=%s", id,
			    peer_s, drop_str(DROP_NOT_ALLOWED));
	} else if (pool_handoff(t->pool, &h, &fd, NULL, peer_s, "") == -1 &&
	    log_limit_allow(&t->drop_limit))
		log_line(LOG_ERRORS, "drop id=%u peer=%s reason=%s", id, peer_s,
		    drop_str(DROP_HANDOFF_FAILED));
	close(fd);
}

/*
 * Is the worker the next hand-off goes to (the first idle one) ready, its
 * upstream sockets made?  Checked before accept(), so that a connection
 * is never taken while no upstream socket can be made for it (EMFILE): it
 * waits in the backlog instead.
 */
static int
pool_ready(struct tcp_side *t)
{
	struct pool_worker *w = pool_next_idle(t->pool);

	return w != NULL && stock_prepare(t, w) == 0;
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
		log_line(LOG_ERRORS, "pool_full max_conns=%u: new connections "
		    "wait in the backlog", t->opt->max_conns);
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
	struct pool_user u = { .msg_max = 1, .idle = tcp_idle,
	    .job_prepare = tcp_job_prepare, .job_sent = tcp_job_sent,
	    .gone = tcp_gone };
	struct tcp_side *t;
	unsigned i;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("tcp");
	t->opt = a->opt;
	t->pool = a->pool;
	t->allowed = a->allowed;
	t->listeners = a->listeners;
	t->nlisteners = a->nlisteners;
	t->drop_limit.what = "drop";
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
