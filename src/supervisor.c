/*
 * The supervisor.  It owns the listeners and a pool of pre-forked workers,
 * accepts, checks the peer against -allowed-subnets, and passes each
 * connection to an idle worker (UDP: each balancer socket, through
 * udp_listener.c).  It never parses a byte from a client, never blocks on
 * one, and never exits because of one.  Signals are read from a signalfd
 * inside the poll loop.
 */
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "dial.h"
#include "drop.h"
#include "fdpass.h"
#include "io.h"
#include "log.h"
#include "notify.h"
#include "pool.h"
#include "spawn.h"
#include "supervisor.h"
#include "udp_listener.h"
#include "worker.h"

#define BACKOFF_MS		100	/* after EMFILE, ENOBUFS, a failed fork */
#define TRIM_PERIOD_MS		1000	/* see pool_trim() */
#define UDP_CHANNEL_SNDBUF	(1 << 20)	/* datagrams queued at a hand-off */
#define CTL_READ_MAX		64	/* messages from one worker per wake-up */

enum worker_state { W_IDLE, W_BUSY, W_GONE };

struct worker_slot {
	pid_t			pid;
	int			ctl;	/* -1 once closed */
	int			sockch;	/* UDP: prepared sockets go here */
	enum worker_state	state;
	uint32_t		conn_id;
	uint8_t			want;	/* TCP: UPSTREAM_ bits its stock lacks */
	int			stock[2];	/* TCP: made for its next job */
};

struct supervisor {
	const struct options	*opt;
	const struct spawn_image *img;
	const int		*listeners;
	unsigned		 nlisteners;
	int			 sigfd;
	struct worker_slot	*w;
	size_t			 nw, capw;
	struct pollfd		*pfd;
	uint32_t		 next_id;
	int64_t			 backoff_until_ms;	/* no accept or spawn before */
	int			 full_logged;
	int			 spawn_failing;	/* logged once until a spawn works */
	int			 accept_failing;	/* the same for accept */
	int			 prepare_failing;	/* and for upstream sockets */
	int			 stopping;	/* draining after SIGTERM */
	size_t			 min_idle;	/* fewest idle since trim_at_ms */
	int64_t			 trim_at_ms;	/* next pool_trim() retirement */
	struct subnet_list	 allowed;	/* -allowed-subnets; SIGHUP */
	struct log_limit	 drop_limit;	/* TCP drops at accept */
	struct udp_side		*udp;		/* -p udp */
	int			 prepare_warned[2];	/* a family we cannot make */
	uint8_t			*ctlbuf;	/* a worker's message (UDP) */
};

static size_t
pool_idle(const struct supervisor *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->nw; i++)
		n += s->w[i].state == W_IDLE;
	return n;
}

static int
pool_grow(struct supervisor *s)
{
	struct worker_slot *w;
	struct pollfd *p;
	size_t cap = s->capw ? s->capw * 2 : 16;

	if ((w = realloc(s->w, cap * sizeof(*w))) == NULL)
		return -1;
	s->w = w;
	if ((p = realloc(s->pfd, (cap + 1 + s->nlisteners) * sizeof(*p))) == NULL)
		return -1;
	s->pfd = p;
	s->capw = cap;
	return 0;
}

static void
log_spawn_error(struct supervisor *s)
{
	if (!s->spawn_failing)
		log_line(LOG_ERRORS, "spawn error=\"%s\" workers=%zu", strerror(errno),
		    s->nw);
	s->spawn_failing = 1;
}

static void
close_pair(int sv[2])
{
	if (sv[0] != -1)
		close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
}

/*
 * Start one idle worker (spawn.c: a fresh image).  Its channel, and for
 * UDP its socket channel, are made here.
 * Returns 0, or -1 (logged once per episode).
 */
static int
pool_spawn(struct supervisor *s)
{
	int sv[2] = { -1, -1 }, sk[2] = { -1, -1 };
	pid_t pid;

	if ((s->nw == s->capw && pool_grow(s) == -1) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1 ||
	    (s->udp != NULL && socketpair(AF_UNIX, SOCK_SEQPACKET |
	    SOCK_CLOEXEC, 0, sk) == -1) ||
	    (pid = spawn_worker(s->img, s->opt, sv[0], sv[1], sk[1])) == -1) {
		log_spawn_error(s);
		close_pair(sv);
		close_pair(sk);
		return -1;
	}
	close(sv[1]);
	if (sk[1] != -1)
		close(sk[1]);
	/* Room for the datagrams queued on a listener at a hand-off; without
	 * CAP_NET_ADMIN the default room stays, and a surplus is dropped. */
	if (s->udp != NULL)
		(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE,
		    &(int){ UDP_CHANNEL_SNDBUF }, sizeof(int));
	s->w[s->nw].pid = pid;
	s->w[s->nw].ctl = sv[0];
	s->w[s->nw].sockch = sk[0];
	s->w[s->nw].state = W_IDLE;
	s->w[s->nw].conn_id = 0;
	s->w[s->nw].want = s->udp != NULL ? 0 : UPSTREAM_V4 | UPSTREAM_V6;
	s->w[s->nw].stock[0] = s->w[s->nw].stock[1] = -1;
	s->nw++;
	s->spawn_failing = 0;
	log_line(LOG_STATES, "spawn worker=%d workers=%zu", (int)pid, s->nw);
	return 0;
}

static void
worker_retire(struct worker_slot *w)
{
	size_t i;

	if (w->ctl != -1)
		close(w->ctl);
	if (w->sockch != -1)
		close(w->sockch);
	w->ctl = -1;
	w->sockch = -1;
	for (i = 0; i < 2; i++) {
		if (w->stock[i] != -1)
			close(w->stock[i]);
		w->stock[i] = -1;
	}
	w->state = W_GONE;
}

/* Keep -workers idle workers ready, within -max-conns processes. */
static void
pool_fill(struct supervisor *s)
{
	size_t idle = pool_idle(s);

	if (ms_until(s->backoff_until_ms) > 0)
		return;		/* a spawn failed a moment ago */
	while (idle < s->opt->workers && s->nw < s->opt->max_conns) {
		if (pool_spawn(s) == -1) {
			s->backoff_until_ms = now_ms() + BACKOFF_MS;
			return;
		}
		idle++;
	}
}

/*
 * Idle workers beyond twice -workers exit, so memory comes back after a
 * burst.  Only those idle for a whole TRIM_PERIOD_MS count as surplus, and
 * half of them go each period: under a steady load whose busy count swings,
 * retiring on every dip would fork and exit a worker per connection.
 */
static void
pool_trim(struct supervisor *s)
{
	size_t i, idle = pool_idle(s), keep = 2 * (size_t)s->opt->workers;
	size_t excess;

	if (idle < s->min_idle)
		s->min_idle = idle;
	if (ms_until(s->trim_at_ms) > 0)
		return;
	excess = s->min_idle > keep ? (s->min_idle - keep + 1) / 2 : 0;
	for (i = 0; i < s->nw && excess > 0; i++) {
		if (s->w[i].state == W_IDLE) {
			worker_retire(&s->w[i]);
			excess--;
		}
	}
	s->min_idle = pool_idle(s);
	s->trim_at_ms = now_ms() + TRIM_PERIOD_MS;
}

static void
log_worker_exit(const struct worker_slot *w, int status, int stopping)
{
	if (stopping)
		log_line(LOG_STATES, "worker_exit worker=%d status=%d",
		    (int)w->pid, status);
	else if (WIFSIGNALED(status))
		log_line(LOG_ERRORS, "worker_exit worker=%d signal=%d id=%u",
		    (int)w->pid, WTERMSIG(status), w->conn_id);
	else if (WEXITSTATUS(status) != 0)
		log_line(LOG_ERRORS, "worker_exit worker=%d status=%d id=%u",
		    (int)w->pid, WEXITSTATUS(status), w->conn_id);
	else
		log_line(LOG_STATES, "worker_exit worker=%d status=0",
		    (int)w->pid);
}

/*
 * A worker that ended with spawn.c's exec failure codes before its first
 * job never started: back off as for a failed fork, rather than start
 * another at once, and again, in a loop.
 */
static void
spawn_failed_check(struct supervisor *s, const struct worker_slot *w,
    int status)
{
	if (!WIFEXITED(status) || w->conn_id != 0 ||
	    (WEXITSTATUS(status) != 126 && WEXITSTATUS(status) != 127))
		return;
	s->backoff_until_ms = now_ms() + BACKOFF_MS;
	if (!s->spawn_failing)
		log_line(LOG_ERRORS, "spawn error=\"the worker could not be "
		    "executed\" status=%d workers=%zu", WEXITSTATUS(status),
		    s->nw);
	s->spawn_failing = 1;
}

static void
pool_reap(struct supervisor *s)
{
	int status;
	pid_t pid;
	size_t i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < s->nw && s->w[i].pid != pid; i++)
			;
		if (i == s->nw)
			continue;
		log_worker_exit(&s->w[i], status, s->stopping);
		spawn_failed_check(s, &s->w[i], status);
		worker_retire(&s->w[i]);
		if (s->udp != NULL)
			udp_worker_done(s->udp, pid);
		s->w[i] = s->w[--s->nw];
	}
}

/*
 * Whether a prepared socket could be made (fd, or -1 with errno): a
 * failure is logged once per episode, as it is retried every BACKOFF_MS.
 */
static void
prepare_result(struct supervisor *s, int family, int fd)
{
	if (fd != -1) {
		s->prepare_failing = 0;
		return;
	}
	if (!s->prepare_failing)
		log_line(LOG_ERRORS, "prepare family=%s error=\"%s\"",
		    family == AF_INET6 ? "ipv6" : "ipv4", strerror(errno));
	s->prepare_failing = 1;
}

/*
 * A UDP worker asks for an upstream socket (req: the family's bit, a
 * sequence number): it gets one on its socket channel, or an answer with
 * no fd, so that it never waits for nothing.
 */
static void
socket_answer(struct supervisor *s, struct worker_slot *w,
    const struct handoff *req)
{
	int family = req->upstream == UPSTREAM_V6 ? AF_INET6 : AF_INET;
	struct handoff h = { .tag = HANDOFF_TAG, .kind = HANDOFF_SOCKET,
	    .conn_id = req->conn_id, .upstream = req->upstream };
	int fd = dial_prepare(family, SOCK_DGRAM, s->opt->mark);

	prepare_result(s, family, fd);
	h.nfds = fd != -1;
	if (w->sockch != -1)
		(void)fdpass_send(w->sockch, &h, &fd, NULL);
	if (fd != -1)
		close(fd);
}

/*
 * Make the prepared upstream sockets worker w's stock lacks (its want
 * bits), to go with its next job.  Returns 0, or -1 (logged, rate-limited)
 * when one could not be made for want of fds or memory: the caller waits
 * rather than take a connection it could not serve.  A family the host
 * cannot make at all (IPv6 disabled) is logged once and left out: its
 * clients are dropped by the worker as socket_failed, the others served.
 */
static int
stock_prepare(struct supervisor *s, struct worker_slot *w)
{
	static const int family[2] = { AF_INET, AF_INET6 };
	size_t i;

	for (i = 0; i < 2; i++) {
		if (!(w->want & UPSTREAM_BIT(family[i])) || w->stock[i] != -1)
			continue;
		w->stock[i] = dial_prepare(family[i], SOCK_STREAM, s->opt->mark);
		if (w->stock[i] != -1) {
			prepare_result(s, family[i], w->stock[i]);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			prepare_result(s, family[i], -1);
			return -1;
		}
		if (!s->prepare_warned[i])
			log_line(LOG_ALWAYS, "prepare family=%s error=\"%s\": "
			    "its clients will be dropped", i ? "ipv6" : "ipv4",
			    strerror(errno));
		s->prepare_warned[i] = 1;
	}
	return 0;
}

/*
 * A TCP job's fds: the client, then the prepared upstream sockets made
 * for w (IPv4 first); h->nfds and h->upstream say which came.  A family
 * that could not be made is asked for again with the next idle byte.
 */
static void
tcp_job_prepare(struct supervisor *s, struct worker_slot *w,
    struct handoff *h, int *fds)
{
	size_t i;

	(void)stock_prepare(s, w);
	h->upstream = 0;
	for (i = 0; i < 2; i++) {
		if (w->stock[i] == -1)
			continue;
		fds[h->nfds++] = w->stock[i];
		h->upstream |= (uint8_t)(i == 0 ? UPSTREAM_V4 : UPSTREAM_V6);
	}
}

static void
close_prepared(const struct handoff *h, const int *fds)
{
	size_t i;

	for (i = 1; i < h->nfds; i++)
		close(fds[i]);
}

/*
 * One message from worker k.  A byte: it is idle again (a UDP worker: its
 * peer has ended).  A UDP datagram it could not serve: dispatched again.
 * Returns 1 if there may be more, 0 if not, -1 at EOF (it is going away).
 */
static int
worker_ctl_read(struct supervisor *s, size_t k)
{
	size_t cap = s->ctlbuf != NULL ? sizeof(struct handoff) +
	    HANDOFF_MAX_PAYLOAD : 1;
	uint8_t b, *p = s->ctlbuf != NULL ? s->ctlbuf : &b;
	struct handoff h;
	ssize_t n;

	do {
		n = recv(s->w[k].ctl, p, cap, MSG_DONTWAIT);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return errno == EAGAIN ? 0 : -1;
	if (n == 0)
		return -1;
	if (n == 1) {
		s->w[k].state = W_IDLE;
		s->w[k].want = b & (UPSTREAM_V4 | UPSTREAM_V6);
		if (s->udp != NULL)
			udp_worker_done(s->udp, s->w[k].pid);
		return s->udp != NULL;
	}
	if ((size_t)n < sizeof(h))
		return 1;
	memcpy(&h, p, sizeof(h));
	if (h.tag == HANDOFF_TAG && h.kind == HANDOFF_SOCKET_REQ &&
	    (size_t)n == sizeof(h)) {
		socket_answer(s, &s->w[k], &h);
		return 1;
	}
	/* Draining, a datagram of an ended peer finds no new worker. */
	if (s->udp != NULL && !s->stopping && h.tag == HANDOFF_TAG &&
	    h.kind == HANDOFF_UDP_DATA && h.nfds == 0 &&
	    (size_t)n == sizeof(h) + h.payload_len)
		udp_bounced(s->udp, &h, p + sizeof(h), h.payload_len);
	return 1;
}

/*
 * What worker k said: a bounced datagram must not wait behind the
 * listeners, but no worker may keep the supervisor to itself.
 */
static void
worker_ctl_event(struct supervisor *s, size_t k)
{
	int n = 0, r;

	while ((r = worker_ctl_read(s, k)) == 1 && ++n < CTL_READ_MAX)
		;
	if (r == -1) {
		if (s->udp != NULL)
			udp_worker_done(s->udp, s->w[k].pid);
		worker_retire(&s->w[k]);
	}
}

/*
 * Hand a job to an idle worker, forking one when none is idle and
 * -max-conns allows.  A worker that cannot take it is retired and the
 * next one tried.  peer_s and extra are for the log line.
 * Returns the worker's pid, or -1 (errno EAGAIN: no worker could take it).
 */
pid_t
pool_handoff(struct supervisor *s, const struct handoff *h, const int *fds,
    const void *payload, const char *peer_s, const char *extra)
{
	int jobfds[HANDOFF_MAX_FDS];
	struct handoff job;
	size_t i;

	for (i = 0; i < s->nw || (s->nw < s->opt->max_conns &&
	    ms_until(s->backoff_until_ms) == 0); i++) {
		if (i == s->nw && pool_spawn(s) == -1) {
			s->backoff_until_ms = now_ms() + BACKOFF_MS;
			break;
		}
		if (s->w[i].state != W_IDLE)
			continue;
		/* Logged first, so the worker's lines for this id come after. */
		log_line(LOG_STATES, "accept id=%u peer=%s%s worker=%d",
		    h->conn_id, peer_s, extra, (int)s->w[i].pid);
		job = *h;
		memcpy(jobfds, fds, h->nfds * sizeof(int));
		if (job.kind == HANDOFF_TCP)
			tcp_job_prepare(s, &s->w[i], &job, jobfds);
		if (fdpass_send(s->w[i].ctl, &job, jobfds, payload) == -1) {
			log_line(LOG_ERRORS, "handoff id=%u worker=%d error=\"%s\"",
			    h->conn_id, (int)s->w[i].pid, strerror(errno));
			kill(s->w[i].pid, SIGKILL);
			worker_retire(&s->w[i]);
			continue;
		}
		close_prepared(&job, jobfds);
		s->w[i].stock[0] = s->w[i].stock[1] = -1;
		s->w[i].want &= (uint8_t)~job.upstream;
		s->w[i].state = W_BUSY;
		s->w[i].conn_id = h->conn_id;
		return s->w[i].pid;
	}
	errno = EAGAIN;
	return -1;
}

/*
 * A message to the busy worker pid (a UDP peer's datagram, or SYNC).
 * Returns 0, or -1 with errno set (EAGAIN: its channel is full).
 */
int
pool_send(struct supervisor *s, pid_t pid, const struct handoff *h,
    const void *payload)
{
	size_t i;

	for (i = 0; i < s->nw; i++)
		if (s->w[i].pid == pid && s->w[i].ctl != -1)
			return fdpass_send(s->w[i].ctl, h, NULL, payload);
	errno = ESRCH;
	return -1;
}

static void
accepted(struct supervisor *s, int fd, struct sockaddr_storage *peer)
{
	char peer_s[ADDR_STRLEN];
	uint32_t id = ++s->next_id;
	struct handoff h = { .tag = HANDOFF_TAG, .kind = HANDOFF_TCP,
	    .nfds = 1, .conn_id = id, .accepted_ms = now_ms() };

	addr_unmap(peer);
	h.peer = *peer;
	/* Only for the log: -v 0 logs nothing per connection. */
	peer_s[0] = '\0';
	if (log_enabled(LOG_ERRORS))
		addr_format(peer, peer_s, sizeof(peer_s));
	/* Before any byte is read: a refused peer never reaches a worker. */
	if (s->opt->allowed_subnets_path != NULL &&
	    !subnet_match(&s->allowed, peer)) {
		if (log_limit_allow(&s->drop_limit))
			log_line(LOG_ERRORS, "drop id=%u peer=%s reason=%s", id,
			    peer_s, drop_str(DROP_NOT_ALLOWED));
	} else if (pool_handoff(s, &h, &fd, NULL, peer_s, "") == -1 &&
	    log_limit_allow(&s->drop_limit))
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
pool_ready(struct supervisor *s)
{
	size_t i;

	for (i = 0; i < s->nw; i++)
		if (s->w[i].state == W_IDLE)
			return stock_prepare(s, &s->w[i]) == 0;
	return 0;
}

/* Accept while a worker is idle.  Errors never stop the supervisor. */
static void
accept_some(struct supervisor *s, int lfd)
{
	while (pool_idle(s) > 0) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd;

		if (!pool_ready(s)) {
			s->backoff_until_ms = now_ms() + BACKOFF_MS;
			return;
		}
		fd = accept4(lfd, (struct sockaddr *)&peer, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			s->accept_failing = 0;
			accepted(s, fd, &peer);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* Once per episode: it is retried every BACKOFF_MS. */
			if (!s->accept_failing)
				log_line(LOG_ERRORS, "accept error=\"%s\" "
				    "backoff_ms=%d", strerror(errno), BACKOFF_MS);
			s->accept_failing = 1;
			s->backoff_until_ms = now_ms() + BACKOFF_MS;
			return;
		}
		/* ECONNABORTED, EPROTO, EPERM (a firewall): that peer only. */
		if (errno != EINTR)
			log_line(LOG_ERRORS, "accept error=\"%s\"", strerror(errno));
	}
}

static size_t
pool_busy(const struct supervisor *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->nw; i++)
		n += s->w[i].state == W_BUSY;
	return n;
}

/* Idle workers go at once: a closed channel ends them. */
static void
pool_retire_idle(struct supervisor *s)
{
	size_t i;

	for (i = 0; i < s->nw; i++)
		if (s->w[i].state == W_IDLE)
			worker_retire(&s->w[i]);
}

/*
 * Wait (timeout ms at most) for the busy workers to say they are done.
 * Returns 1 if SIGTERM or SIGINT came again: the operator will not wait.
 */
static int
drain_wait(struct supervisor *s, int timeout)
{
	struct signalfd_siginfo si;
	size_t k, nw = s->nw;
	int again = 0;

	s->pfd[0] = (struct pollfd){ .fd = s->sigfd, .events = POLLIN };
	for (k = 0; k < nw; k++)
		s->pfd[1 + k] = (struct pollfd){ .fd = s->w[k].ctl,
		    .events = POLLIN };
	if (poll(s->pfd, 1 + nw, timeout) == -1 && errno != EINTR)
		return 1;
	for (k = 0; k < nw; k++)
		if (s->pfd[1 + k].revents)
			worker_ctl_event(s, k);
	while (read(s->sigfd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			again = 1;
	pool_reap(s);
	return again;
}

/*
 * SIGTERM or SIGINT: close the listeners at once, so new connections (and
 * new UDP peers) are refused, and let the live ones finish, for
 * -drain-timeout seconds at most; then end the rest, logged, and exit 0.
 */
static void __attribute__((noreturn))
supervisor_stop(struct supervisor *s, int sig)
{
	int64_t deadline = now_ms() + (int64_t)s->opt->drain_timeout * 1000;
	size_t k, busy;
	unsigned i;

	notify_state("STOPPING=1");
	log_line(LOG_ALWAYS, "stop signal=%s workers=%zu",
	    sig == SIGINT ? "INT" : "TERM",
	    s->nw);
	s->stopping = 1;
	for (i = 0; i < s->nlisteners; i++)
		close(s->listeners[i]);
	if ((busy = pool_busy(s)) > 0)
		log_line(LOG_ALWAYS, "drain busy=%zu drain_timeout=%u", busy,
		    s->opt->drain_timeout);
	for (;;) {
		pool_retire_idle(s);
		if ((busy = pool_busy(s)) == 0 || ms_until(deadline) == 0 ||
		    drain_wait(s, ms_until(deadline)) != 0)
			break;
	}
	if ((busy = pool_busy(s)) > 0)
		log_line(LOG_ALWAYS, "drain_end closed=%zu reason=%s", busy,
		    ms_until(deadline) == 0 ? "drain_timeout" : "signal");
	else
		log_line(LOG_STATES, "drain_end closed=0 reason=done");
	/* What is left is idle (its channel closed) or out of time. */
	for (k = 0; k < s->nw; k++)
		kill(s->w[k].pid, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	exit(0);
}

/*
 * SIGHUP: read -allowed-subnets again.  A file that does not load leaves
 * the old list in force, and says why.
 */
static void
supervisor_reload(struct supervisor *s)
{
	const char *path = s->opt->allowed_subnets_path;
	struct subnet_list fresh;
	char err[512], state[64];

	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%lld",
	    (long long)now_ms() * 1000);
	notify_state(state);
	if (path == NULL)
		log_line(LOG_ALWAYS, "reload allowed_subnets=any");
	else if (subnet_load(path, &fresh, err, sizeof(err)) == -1)
		log_line(LOG_ALWAYS, "reload allowed_subnets=%s kept=%zu "
		    "error=\"%s\"", path, s->allowed.n, err);
	else {
		subnet_free(&s->allowed);
		s->allowed = fresh;
		log_line(LOG_ALWAYS, "reload allowed_subnets=%s subnets=%zu",
		    path, s->allowed.n);
	}
	notify_state("READY=1");
}

/* Returns a signal that asks us to stop, or 0.  SIGHUP reloads. */
static int
signals_read(struct supervisor *s)
{
	struct signalfd_siginfo si;
	int stop = 0;

	while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			pool_reap(s);
		else if (si.ssi_signo == SIGHUP)
			supervisor_reload(s);
		else
			stop = (int)si.ssi_signo;
	}
	pool_reap(s);
	return stop;
}

static int
signals_open(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask");
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	return fd;
}

/*
 * pfd: [0] signals, [1..L] listeners, then one per worker.  TCP listeners
 * are read while a worker is idle: a connection waits in the backlog.  UDP
 * listeners are always read: a datagram cannot wait, and a worker is
 * forked for a new peer when none is idle.
 */
static int
poll_build(struct supervisor *s)
{
	int accepting = (s->udp != NULL || pool_idle(s) > 0) &&
	    ms_until(s->backoff_until_ms) == 0, timeout;
	unsigned i, L = s->nlisteners;
	size_t k;

	if (s->udp == NULL && !accepting && s->nw >= s->opt->max_conns &&
	    !s->full_logged) {
		log_line(LOG_ERRORS, "pool_full max_conns=%u: new connections "
		    "wait in the backlog", s->opt->max_conns);
		s->full_logged = 1;
	} else if (accepting)
		s->full_logged = 0;
	s->pfd[0] = (struct pollfd){ .fd = s->sigfd, .events = POLLIN };
	for (i = 0; i < L; i++)
		s->pfd[1 + i] = (struct pollfd){
		    .fd = accepting ? s->listeners[i] : -1, .events = POLLIN };
	for (k = 0; k < s->nw; k++)
		s->pfd[1 + L + k] = (struct pollfd){ .fd = s->w[k].ctl,
		    .events = POLLIN };
	/* Backing off (accept or spawn failed): wake up to try again. */
	if (ms_until(s->backoff_until_ms) > 0)
		return ms_until(s->backoff_until_ms);
	/* A log summary or a UDP SYNC due; surplus idle workers to retire. */
	timeout = timeout_min(log_limit_due_ms(&s->drop_limit),
	    s->udp != NULL ? udp_side_timeout(s->udp) : -1);
	if (pool_idle(s) > 2 * (size_t)s->opt->workers)
		timeout = timeout_min(timeout, ms_until(s->trim_at_ms));
	return timeout;
}

/*
 * Run the pool and the accept loop on nlisteners listening sockets until
 * SIGTERM, SIGINT or SIGHUP.
 */
void
supervisor_run(const struct options *opt, const struct spawn_image *img,
    const int *listeners, unsigned nlisteners)
{
	struct supervisor s = { .opt = opt, .img = img, .listeners = listeners,
	    .nlisteners = nlisteners };
	unsigned i, L = nlisteners;

	/* The list is ours from here: SIGHUP replaces it. */
	s.allowed = opt->allowed;
	s.drop_limit.what = "drop";
	s.sigfd = signals_open();
	if (pool_grow(&s) == -1)
		fatal("supervisor");
	/* Accepted connections inherit it: one setsockopt fewer each. */
	for (i = 0; i < L && !opt->udp; i++)
		(void)sockopt_set_int(listeners[i], IPPROTO_TCP, TCP_NODELAY, 1);
	if (opt->udp) {
		s.udp = udp_side_new(opt, &s, &s.allowed, listeners,
		    nlisteners);
		if ((s.ctlbuf = malloc(sizeof(struct handoff) +
		    HANDOFF_MAX_PAYLOAD)) == NULL)
			fatal("supervisor");
	}
	pool_fill(&s);
	notify_ready();
	for (;;) {
		int timeout, stop, readable = 0;
		size_t k, nw;

		pool_fill(&s);
		timeout = poll_build(&s);
		nw = s.nw;
		if (poll(s.pfd, 1 + L + nw, timeout) == -1 && errno != EINTR)
			fatal("poll");
		/* Read before the handling below can fork (and move s.pfd). */
		for (i = 0; i < L; i++)
			readable |= (s.pfd[1 + i].revents & POLLIN) != 0;
		for (k = 0; k < nw; k++)
			if (s.pfd[1 + L + k].revents)
				worker_ctl_event(&s, k);
		if ((stop = signals_read(&s)) != 0)
			supervisor_stop(&s, stop);
		if (s.udp != NULL) {
			if (readable)
				udp_side_readable(s.udp);
			udp_side_tick(s.udp);
		} else {
			for (i = 0; i < L; i++)
				if (s.pfd[1 + i].revents & POLLIN)
					accept_some(&s, listeners[i]);
		}
		pool_trim(&s);
		log_limit_flush(&s.drop_limit);
	}
}
