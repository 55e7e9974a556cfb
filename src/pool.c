/*
 * The worker pool.  It owns the workers (spawned as fresh images by
 * spawn.c), their channels, their states (idle, busy, gone), the pool's
 * size (-workers idle kept ready, -max-conns at most, surplus retired)
 * and the hand-off of a job to an idle worker.  It reads what workers say
 * only to tell an idle report from a longer message, and gives both to
 * its user, the protocol side (pool.h).  It must not know TCP or UDP,
 * never reads a client's byte, and never exits because of a worker.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "io.h"
#include "log.h"
#include "pool.h"

#define TRIM_PERIOD_MS		1000	/* see pool_trim() */
#define CTL_READ_MAX		64	/* messages from one worker per wake-up */

enum worker_state { W_IDLE, W_BUSY, W_GONE };

struct pool_worker {
	pid_t			pid;
	int			ctl;	/* -1 once closed */
	int			sockch;	/* socket channel, or -1 */
	enum worker_state	state;
	uint32_t		conn_id;	/* its job's, job.conn_id */
	/* Its job, and the one before (a message about that one may still
	 * be on its way). */
	struct pool_job		job, prev;
	void			*side;	/* the user's, for this worker */
};

struct pool {
	const struct options	*opt;
	const struct spawn_image *img;
	struct pool_user	 user;
	uint8_t			*msg;		/* a worker's message */
	struct pool_worker	*w;
	size_t			 nw, capw;
	int64_t			 backoff_until_ms;	/* no accept or spawn before */
	int			 spawn_failing;	/* logged once until a spawn works */
	int			 draining;	/* after SIGTERM */
	size_t			 min_idle;	/* fewest idle since trim_at_ms */
	int64_t			 trim_at_ms;	/* next pool_trim() retirement */
	unsigned long long	 handed;	/* jobs handed off since start */
};

/* A pool for opt's workers, made from img.  Exits on failure: it is startup. */
struct pool *
pool_new(const struct options *opt, const struct spawn_image *img)
{
	struct pool *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("pool");
	p->opt = opt;
	p->img = img;
	return p;
}

/* The protocol side the pool serves; before the first spawn. */
void
pool_attach(struct pool *p, const struct pool_user *u)
{
	p->user = *u;
	if ((p->msg = malloc(u->msg_max)) == NULL)
		fatal("pool");
}

pid_t
pool_worker_pid(const struct pool_worker *w)
{
	return w->pid;
}

int
pool_worker_ctl(const struct pool_worker *w)
{
	return w->ctl;
}

int
pool_worker_sockch(const struct pool_worker *w)
{
	return w->sockch;
}

/* Serving a job: messages about it may come. */
int
pool_worker_busy(const struct pool_worker *w)
{
	return w->state == W_BUSY;
}

/* w's job conn_id, if that is its current job or the one before; else NULL. */
const struct pool_job *
pool_worker_job(const struct pool_worker *w, uint32_t conn_id)
{
	if (conn_id != 0 && conn_id == w->job.conn_id)
		return &w->job;
	if (conn_id != 0 && conn_id == w->prev.conn_id)
		return &w->prev;
	return NULL;
}

/* The client of w's job (its hand-off's peer), unmapped. */
const struct sockaddr_storage *
pool_worker_client(const struct pool_worker *w)
{
	return &w->job.client;
}

/* Where the user keeps its state for w (NULL until it puts some). */
void **
pool_worker_side(struct pool_worker *w)
{
	return &w->side;
}

static size_t
pool_count(const struct pool *p, enum worker_state state)
{
	size_t i, n = 0;

	for (i = 0; i < p->nw; i++)
		n += p->w[i].state == state;
	return n;
}

size_t
pool_idle(const struct pool *p)
{
	return pool_count(p, W_IDLE);
}

size_t
pool_busy(const struct pool *p)
{
	return pool_count(p, W_BUSY);
}

/* Workers not yet reaped: one pollfd each in pool_fds(). */
size_t
pool_size(const struct pool *p)
{
	return p->nw;
}

/* As many processes as -max-conns allows. */
int
pool_at_max(const struct pool *p)
{
	return p->nw >= p->opt->max_conns;
}

/* No accept and no spawn for a while: fds or memory ran out. */
void
pool_back_off(struct pool *p)
{
	p->backoff_until_ms = now_ms() + POOL_BACKOFF_MS;
}

/* Milliseconds left of a back-off, 0 if none. */
int
pool_backing_off(const struct pool *p)
{
	return ms_until(p->backoff_until_ms);
}

static int
pool_grow(struct pool *p)
{
	struct pool_worker *w;
	size_t cap = p->capw ? p->capw * 2 : 16;

	if ((w = realloc(p->w, cap * sizeof(*w))) == NULL)
		return -1;
	p->w = w;
	p->capw = cap;
	return 0;
}

static void
log_spawn_error(struct pool *p)
{
	if (!p->spawn_failing)
		log_line(LOG_ERRORS, "spawn error=\"%s\" workers=%zu", strerror(errno),
		    p->nw);
	p->spawn_failing = 1;
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
 * Start one idle worker (spawn.c: a fresh image).  Its channel, and when
 * the user wants one its socket channel, are made here.
 * Returns 0, or -1 (logged once per episode).
 */
static int
pool_spawn(struct pool *p)
{
	int sv[2] = { -1, -1 }, sk[2] = { -1, -1 };
	struct pool_worker *w;
	pid_t pid;

	if ((p->nw == p->capw && pool_grow(p) == -1) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1 ||
	    (p->user.socket_channel && socketpair(AF_UNIX, SOCK_SEQPACKET |
	    SOCK_CLOEXEC, 0, sk) == -1) ||
	    (pid = spawn_worker(p->img, p->opt, sv[0], sv[1], sk[1])) == -1) {
		log_spawn_error(p);
		close_pair(sv);
		close_pair(sk);
		return -1;
	}
	close(sv[1]);
	if (sk[1] != -1)
		close(sk[1]);
	/* Without CAP_NET_ADMIN the default room stays. */
	if (p->user.ctl_sndbuf > 0)
		(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE,
		    &p->user.ctl_sndbuf, sizeof(int));
	w = &p->w[p->nw++];
	*w = (struct pool_worker){ .pid = pid, .ctl = sv[0], .sockch = sk[0],
	    .state = W_IDLE };
	p->spawn_failing = 0;
	log_line(LOG_STATES, "spawn worker=%d workers=%zu", (int)pid, p->nw);
	return 0;
}

/* Close w's channels, so that it exits; once, however often called. */
static void
worker_retire(struct pool *p, struct pool_worker *w)
{
	if (w->state == W_GONE)
		return;
	if (w->ctl != -1)
		close(w->ctl);
	if (w->sockch != -1)
		close(w->sockch);
	w->ctl = -1;
	w->sockch = -1;
	w->state = W_GONE;
	p->user.gone(p->user.ctx, w);
}

/* Keep -workers idle workers ready, within -max-conns processes. */
void
pool_fill(struct pool *p)
{
	size_t idle = pool_idle(p);

	if (pool_backing_off(p) > 0)
		return;		/* a spawn failed a moment ago */
	while (idle < p->opt->workers && p->nw < p->opt->max_conns) {
		if (pool_spawn(p) == -1) {
			pool_back_off(p);
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
void
pool_trim(struct pool *p)
{
	size_t i, idle = pool_idle(p), keep = 2 * (size_t)p->opt->workers;
	size_t excess;

	if (idle < p->min_idle)
		p->min_idle = idle;
	if (ms_until(p->trim_at_ms) > 0)
		return;
	excess = p->min_idle > keep ? (p->min_idle - keep + 1) / 2 : 0;
	for (i = 0; i < p->nw && excess > 0; i++) {
		if (p->w[i].state == W_IDLE) {
			worker_retire(p, &p->w[i]);
			excess--;
		}
	}
	p->min_idle = pool_idle(p);
	p->trim_at_ms = now_ms() + TRIM_PERIOD_MS;
}

static void
log_worker_exit(const struct pool_worker *w, int status, int draining)
{
	if (draining)
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
spawn_failed_check(struct pool *p, const struct pool_worker *w, int status)
{
	if (!WIFEXITED(status) || w->conn_id != 0 ||
	    (WEXITSTATUS(status) != 126 && WEXITSTATUS(status) != 127))
		return;
	pool_back_off(p);
	if (!p->spawn_failing)
		log_line(LOG_ERRORS, "spawn error=\"the worker could not be "
		    "executed\" status=%d workers=%zu", WEXITSTATUS(status),
		    p->nw);
	p->spawn_failing = 1;
}

/* Collect the workers that have exited, and forget them. */
void
pool_reap(struct pool *p)
{
	int status;
	pid_t pid;
	size_t i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < p->nw && p->w[i].pid != pid; i++)
			;
		if (i == p->nw)
			continue;
		log_worker_exit(&p->w[i], status, p->draining);
		spawn_failed_check(p, &p->w[i], status);
		worker_retire(p, &p->w[i]);
		p->w[i] = p->w[--p->nw];
	}
}

/*
 * Worker k broke the channel's protocol: it is not trusted to serve
 * anyone any more.  Killed, and logged once (it is retired by the caller).
 */
static void
worker_misbehaved(struct pool *p, size_t k, const char *why)
{
	log_line(LOG_ERRORS, "worker_misbehaved worker=%d id=%u reason=%s",
	    (int)p->w[k].pid, p->w[k].conn_id, why);
	kill(p->w[k].pid, SIGKILL);
}

/*
 * One message from worker k, given to the user.  An idle report counts
 * only from a busy worker, once per job.  Returns 1 if there may be more,
 * 0 if not, -1 at EOF or when the worker broke the protocol (it is going
 * away).
 */
static int
worker_read(struct pool *p, size_t k)
{
	const char *why;
	ssize_t n;

	/* MSG_TRUNC: the record's own length, so a longer one is seen. */
	do {
		n = recv(p->w[k].ctl, p->msg, p->user.msg_max,
		    MSG_DONTWAIT | MSG_TRUNC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return errno == EAGAIN ? 0 : -1;
	if (n == 0)
		return -1;
	if ((size_t)n > p->user.msg_max) {
		worker_misbehaved(p, k, "message_malformed");
		return -1;
	}
	if (n == 1) {
		if (p->w[k].state != W_BUSY) {
			worker_misbehaved(p, k, "idle_while_idle");
			return -1;
		}
		p->w[k].state = W_IDLE;
		return p->user.idle(p->user.ctx, &p->w[k], p->msg[0]);
	}
	if (p->user.message != NULL && (why = p->user.message(p->user.ctx,
	    &p->w[k], p->msg, (size_t)n)) != NULL) {
		worker_misbehaved(p, k, why);
		return -1;
	}
	return 1;
}

/*
 * What worker k said: a message must not wait behind the listeners, but
 * no worker may keep the supervisor to itself.
 */
static void
worker_event(struct pool *p, size_t k)
{
	int n = 0, r;

	while ((r = worker_read(p, k)) == 1 && ++n < CTL_READ_MAX)
		;
	if (r == -1)
		worker_retire(p, &p->w[k]);
}

/* One pollfd per worker (pool_size() of them), its channel or -1. */
size_t
pool_fds(const struct pool *p, struct pollfd *pfd)
{
	size_t k;

	for (k = 0; k < p->nw; k++)
		pfd[k] = (struct pollfd){ .fd = p->w[k].ctl, .events = POLLIN };
	return p->nw;
}

/*
 * The n pollfds pool_fds() gave, after poll(2).  Workers spawned while
 * they are handled come after them: the first n keep their places.
 */
void
pool_events(struct pool *p, const struct pollfd *pfd, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (pfd[k].revents)
			worker_event(p, k);
}

/* A poll(2) timeout: the end of a back-off, or surplus workers to retire. */
int
pool_timeout(const struct pool *p)
{
	if (pool_backing_off(p) > 0)
		return pool_backing_off(p);
	if (pool_idle(p) > 2 * (size_t)p->opt->workers)
		return ms_until(p->trim_at_ms);
	return -1;
}

/* The worker the next hand-off goes to, if one is idle; else NULL. */
struct pool_worker *
pool_next_idle(struct pool *p)
{
	size_t i;

	for (i = 0; i < p->nw; i++)
		if (p->w[i].state == W_IDLE)
			return &p->w[i];
	return NULL;
}

/*
 * Hand a job to an idle worker, forking one when none is idle and
 * -max-conns allows.  A worker that cannot take it is retired and the
 * next one tried.  peer_s and extra are for the log line.
 * Returns the worker's pid, or -1 (errno EAGAIN: no worker could take it).
 */
pid_t
pool_handoff(struct pool *p, const struct handoff *h, const int *fds,
    const void *payload, const char *peer_s, const char *extra)
{
	int jobfds[HANDOFF_MAX_FDS];
	struct handoff job;
	struct pool_worker *w;
	size_t i;

	for (i = 0; i < p->nw || (p->nw < p->opt->max_conns &&
	    pool_backing_off(p) == 0); i++) {
		if (i == p->nw && pool_spawn(p) == -1) {
			pool_back_off(p);
			break;
		}
		w = &p->w[i];
		if (w->state != W_IDLE)
			continue;
		/* Logged first, so the worker's lines for this id come after. */
		log_line(LOG_STATES, "accept id=%u peer=%s%s worker=%d",
		    h->conn_id, peer_s, extra, (int)w->pid);
		job = *h;
		memcpy(jobfds, fds, h->nfds * sizeof(int));
		if (p->user.job_prepare != NULL)
			p->user.job_prepare(p->user.ctx, w, &job, jobfds);
		if (fdpass_send(w->ctl, &job, jobfds, payload) == -1) {
			log_line(LOG_ERRORS, "handoff id=%u worker=%d error=\"%s\"",
			    h->conn_id, (int)w->pid, strerror(errno));
			kill(w->pid, SIGKILL);
			worker_retire(p, w);
			continue;
		}
		if (p->user.job_sent != NULL)
			p->user.job_sent(p->user.ctx, w, &job);
		w->state = W_BUSY;
		w->conn_id = h->conn_id;
		p->handed++;
		w->prev = w->job;
		w->job = (struct pool_job){ .conn_id = h->conn_id,
		    .peer = h->peer, .client = h->peer, .local = h->local };
		addr_unmap(&w->job.client);
		return w->pid;
	}
	errno = EAGAIN;
	return -1;
}

/*
 * A message to the busy worker pid (a UDP peer's datagram, or SYNC).
 * Returns 0, or -1 with errno set (EAGAIN: its channel is full).
 */
int
pool_send(struct pool *p, pid_t pid, const struct handoff *h,
    const void *payload)
{
	size_t i;

	for (i = 0; i < p->nw; i++)
		if (p->w[i].pid == pid && p->w[i].ctl != -1)
			return fdpass_send(p->w[i].ctl, h, NULL, payload);
	errno = ESRCH;
	return -1;
}

/* Jobs (connections, UDP balancer sockets) handed to workers since start. */
unsigned long long
pool_handed(const struct pool *p)
{
	return p->handed;
}

/* SIGTERM: from here, workers' exits are the drain's, logged as states. */
void
pool_drain_begin(struct pool *p)
{
	p->draining = 1;
}

/* Idle workers go at once: a closed channel ends them. */
void
pool_retire_idle(struct pool *p)
{
	size_t i;

	for (i = 0; i < p->nw; i++)
		if (p->w[i].state == W_IDLE)
			worker_retire(p, &p->w[i]);
}

/* The end of a drain: what is left is idle or out of time. */
void
pool_kill_all(struct pool *p)
{
	size_t k;

	for (k = 0; k < p->nw; k++)
		kill(p->w[k].pid, SIGKILL);
}
