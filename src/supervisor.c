/*
 * The supervisor: the poll loop and the lifecycle.  It polls its signals,
 * its protocol side's listeners (side.h: tcp_listener.c or udp_listener.c)
 * and the pool's workers (pool.c), and gives each what became ready.  It
 * owns what spans them: signals (read from a signalfd inside the loop),
 * SIGHUP's reload of -allowed-subnets, SIGTERM's drain, and readiness
 * notification.  It never reads a byte from a client or a worker itself,
 * and never exits because of either.
 */
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "logfmt.h"
#include "notify.h"
#include "pool.h"
#include "resolve.h"
#include "side.h"
#include "supervisor.h"
#include "tcp_listener.h"
#include "udp_listener.h"

struct supervisor {
	struct options		*opt;	/* ours to change: SIGHUP's names */
	int			 sigfd;
	struct pool		*pool;
	struct side		 side;
	struct subnet_list	 allowed;	/* -allowed-subnets; SIGHUP */
	struct totals		 totals;	/* the side's refusals */
	struct pollfd		*pfd;	/* signals, the side's, the pool's */
	size_t			 cappfd;
};

static void	supervisor_status(const struct supervisor *);

/* Room in s->pfd for n pollfds.  Exits on failure: nothing can be polled. */
static void
pfd_reserve(struct supervisor *s, size_t n)
{
	struct pollfd *p;

	if (n <= s->cappfd)
		return;
	if ((p = realloc(s->pfd, n * 2 * sizeof(*p))) == NULL)
		fatal("supervisor");
	s->pfd = p;
	s->cappfd = n * 2;
}

/*
 * Wait (timeout ms at most) for the busy workers to say they are done.
 * Returns 1 if SIGTERM or SIGINT came again: the operator will not wait.
 */
static int
drain_wait(struct supervisor *s, int timeout)
{
	struct signalfd_siginfo si;
	size_t nw;
	int again = 0;

	pfd_reserve(s, 1 + pool_size(s->pool));
	s->pfd[0] = (struct pollfd){ .fd = s->sigfd, .events = POLLIN };
	nw = pool_fds(s->pool, s->pfd + 1);
	/* What the side has due goes on (a UDP peer's SYNC, without which
	 * its worker would never read its socket, and never end). */
	timeout = timeout_min(timeout, s->side.ops->timeout(s->side.ctx));
	if (poll(s->pfd, 1 + nw, timeout) == -1 && errno != EINTR)
		return 1;
	pool_events(s->pool, s->pfd + 1, nw);
	s->side.ops->tick(s->side.ctx);
	while (read(s->sigfd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			again = 1;
		else if (si.ssi_signo == SIGUSR1)
			supervisor_status(s);
	pool_reap(s->pool);
	return again;
}

/*
 * " accepted=N closed=N drop_WORD=N..." since start, as the supervisor
 * knows them: jobs handed to workers, those ended (handed less busy), and
 * what it refused itself (a worker's own drops are in its lines).
 */
static void
format_totals(const struct supervisor *s, char *buf, size_t len)
{
	unsigned long long handed = pool_handed(s->pool);
	size_t o, i;

	o = (size_t)snprintf(buf, len, " accepted=%llu closed=%llu", handed,
	    handed - pool_busy(s->pool));
	for (i = 0; i < DROP_REASON_COUNT && o < len; i++)
		if (s->totals.drops[i] != 0)
			o += (size_t)snprintf(buf + o, len - o, " drop_%s=%llu",
			    drop_str((enum drop_reason)i), s->totals.drops[i]);
}

/*
 * SIGUSR1: one status line.  What is live now (TCP: connections; UDP:
 * balancer sockets, each a busy worker), the workers, and the totals.
 */
static void
supervisor_status(const struct supervisor *s)
{
	char totals[1024];

	format_totals(s, totals, sizeof(totals));
	log_line(LOG_ALWAYS, "status proto=%s %s=%zu workers_busy=%zu "
	    "workers_idle=%zu%s", s->opt->udp ? "udp" : "tcp",
	    s->opt->udp ? "udp_peers" : "conns", pool_busy(s->pool),
	    pool_busy(s->pool), pool_idle(s->pool), totals);
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
	char totals[1024];
	size_t busy;

	notify_state("STOPPING=1");
	format_totals(s, totals, sizeof(totals));
	log_line(LOG_ALWAYS, "stop signal=%s workers=%zu%s",
	    sig == SIGINT ? "INT" : "TERM", pool_size(s->pool), totals);
	pool_drain_begin(s->pool);
	s->side.ops->stop(s->side.ctx);
	if ((busy = pool_busy(s->pool)) > 0)
		log_line(LOG_ALWAYS, "drain busy=%zu drain_timeout=%u", busy,
		    s->opt->drain_timeout);
	for (;;) {
		pool_retire_idle(s->pool);
		if ((busy = pool_busy(s->pool)) == 0 || ms_until(deadline) == 0 ||
		    drain_wait(s, ms_until(deadline)) != 0)
			break;
	}
	if ((busy = pool_busy(s->pool)) > 0)
		log_line(LOG_ALWAYS, "drain_end closed=%zu reason=%s", busy,
		    ms_until(deadline) == 0 ? "drain_timeout" : "signal");
	else
		log_line(LOG_STATES, "drain_end closed=0 reason=done");
	/* What is left is idle (its channel closed) or out of time. */
	pool_kill_all(s->pool);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	exit(0);
}

/*
 * One list read again from path (ports: with ":port" ranges) into *cur,
 * logged under key (allowed_subnets, allowed_destinations).  A file that
 * does not load leaves *cur in force.
 */
static void
list_reload(const char *key, const char *flag, const char *path, int ports,
    struct subnet_list *cur)
{
	struct subnet_list fresh;
	char err[512], qp[512], qe[1024];

	logfmt_quote(qp, sizeof(qp), path);
	if (subnet_load(path, &fresh, ports, err, sizeof(err)) == -1) {
		log_line(LOG_ALWAYS, "reload %s=%s kept=%zu error=%s", key, qp,
		    cur->n, logfmt_quote(qe, sizeof(qe), err));
		return;
	}
	if (fresh.warning[0] != '\0')
		log_warning("-%s: %s", flag, fresh.warning);
	subnet_free(cur);
	*cur = fresh;
	log_line(LOG_ALWAYS, "reload %s=%s subnets=%zu", key, qp, cur->n);
}

/*
 * SIGHUP: read -allowed-subnets and -allowed-destinations again, and the
 * names of -4 and -6.  A file that does not load leaves the old list in
 * force, and says why.
 */
static void
supervisor_reload(struct supervisor *s)
{
	char state[64];

	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%lld",
	    (long long)now_ms() * 1000);
	notify_state(state);
	if (s->opt->allowed_subnets_path == NULL)
		log_line(LOG_ALWAYS, "reload allowed_subnets=any");
	else
		list_reload("allowed_subnets", "allowed-subnets",
		    s->opt->allowed_subnets_path, 0, &s->allowed);
	/* The dial policy reads the options' list: the supervisor's own. */
	if (s->opt->allowed_destinations_path != NULL)
		list_reload("allowed_destinations", "allowed-destinations",
		    s->opt->allowed_destinations_path, 1, &s->opt->allowed_dest);
	/* A target given by name moved: the supervisor dials the new
	 * address at once; idle workers, which log the old one, make way
	 * for fresh ones that carry the new. */
	if (resolve_reload(s->opt) > 0)
		pool_retire_idle(s->pool);
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
			pool_reap(s->pool);
		else if (si.ssi_signo == SIGHUP)
			supervisor_reload(s);
		else if (si.ssi_signo == SIGUSR1)
			supervisor_status(s);
		else
			stop = (int)si.ssi_signo;
	}
	pool_reap(s->pool);
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
	sigaddset(&set, SIGUSR1);
	/* SIGUSR2 means nothing here: it must not kill us either. */
	signal(SIGUSR2, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask");
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	return fd;
}

/*
 * pfd: [0] signals, [1..L] the side's listeners, then one per worker.
 * Returns the poll(2) timeout; *nw: the workers' pollfds.
 */
static int
poll_build(struct supervisor *s, size_t *nw)
{
	unsigned L = s->side.nfds;

	pfd_reserve(s, 1 + L + pool_size(s->pool));
	s->pfd[0] = (struct pollfd){ .fd = s->sigfd, .events = POLLIN };
	s->side.ops->fds(s->side.ctx, s->pfd + 1);
	*nw = pool_fds(s->pool, s->pfd + 1 + L);
	return timeout_min(pool_timeout(s->pool),
	    s->side.ops->timeout(s->side.ctx));
}

/*
 * Run the pool and the protocol side on nlisteners listening sockets
 * until SIGTERM or SIGINT.
 */
void
supervisor_run(struct options *opt, const struct spawn_image *img,
    const int *listeners, unsigned nlisteners)
{
	struct supervisor s = { .opt = opt };
	struct side_args a = { .opt = opt, .allowed = &s.allowed,
	    .totals = &s.totals,
	    .listeners = listeners, .nlisteners = nlisteners };

	/* The list is ours from here: SIGHUP replaces it. */
	s.allowed = opt->allowed;
	s.sigfd = signals_open();
	s.pool = a.pool = pool_new(opt, img);
	if (opt->udp)
		udp_side_new(&a, &s.side);
	else
		tcp_side_new(&a, &s.side);
	pool_fill(s.pool);
	notify_ready();
	for (;;) {
		int timeout, stop;
		size_t nw;

		pool_fill(s.pool);
		timeout = poll_build(&s, &nw);
		if (poll(s.pfd, 1 + s.side.nfds + nw, timeout) == -1 &&
		    errno != EINTR)
			fatal("poll");
		/* A worker's message first: a bounced datagram must not wait
		 * behind the listeners.  The pollfds stay where they are. */
		pool_events(s.pool, s.pfd + 1 + s.side.nfds, nw);
		/* Only when one came: two syscalls saved on every wake-up. */
		if ((s.pfd[0].revents & POLLIN) &&
		    (stop = signals_read(&s)) != 0)
			supervisor_stop(&s, stop);
		s.side.ops->readable(s.side.ctx, s.pfd + 1);
		s.side.ops->tick(s.side.ctx);
		pool_trim(s.pool);
	}
}
