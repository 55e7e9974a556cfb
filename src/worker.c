/*
 * The worker process: a fresh image (spawn.c) that confines itself
 * (limits, no capability, the seccomp filter of sandbox.c), then takes
 * jobs from its channel one at a time, gives each to its protocol's code
 * (tcp_conn.c: one connection; udp_flow.c: one balancer socket) and
 * reports idle.  worker_confine is also one_conn.c's child's.  Confined,
 * it never makes, binds or connects a socket (the supervisor does, on
 * request: dial_channel.c) and never parses a client byte itself: that is
 * tcp_conn.c's and udp_flow.c's.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "dial.h"
#include "drop.h"
#include "fdpass.h"
#include "io.h"
#include "log.h"
#include "privilege.h"
#include "proctitle.h"
#include "sandbox.h"
#include "tcp_conn.h"
#include "udp_flow.h"
#include "worker.h"

#define WORKER_FDS	16	/* stdio, channels, client, upstreams, pipes... */

/* Lower soft and hard limit to at most v (never raise either). */
static int
limit_to(int resource, rlim_t v)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) == -1)
		return -1;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < v)
		v = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = v;
	return setrlimit(resource, &rl);
}

/* A log on stderr that is a regular file must stay writable. */
static int
stderr_is_file(void)
{
	struct stat sb;

	return fstat(STDERR_FILENO, &sb) == 0 && S_ISREG(sb.st_mode);
}

/*
 * What one worker may use, for good: no core dump (it would hold client
 * data) and no dumping at all, no child process, no file written (unless
 * the log on stderr is a file), and the fds it needs: a TCP worker's
 * client, upstream and relay pipes; a UDP worker's peer socket and
 * -max-flows upstream sockets.  Returns 0, or -1 with errno set.
 */
static int
worker_limits(const struct options *opt)
{
	rlim_t nofile = WORKER_FDS + (opt->udp ? opt->max_flows : 0);

	if (limit_to(RLIMIT_CORE, 0) == -1 || limit_to(RLIMIT_NPROC, 0) == -1 ||
	    limit_to(RLIMIT_NOFILE, nofile) == -1)
		return -1;
	if (!stderr_is_file() && limit_to(RLIMIT_FSIZE, 0) == -1)
		return -1;
	return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/*
 * From here on the process serves clients: limits, then every capability
 * and privilege given up, then the syscall filter (sandbox.c).  Fatal if
 * any step fails: a worker never serves less confined than documented.
 */
void
worker_confine(const struct options *opt)
{
	/* SCHED_BATCH: a worker woken by its client does not preempt the
	 * sender (often the backend, on the same CPUs), so it runs later and
	 * reads a batch.  Any process may choose it for itself.  By number:
	 * musl's wrapper always fails (ENOSYS); a worker is one thread. */
	if (opt->worker_batch && syscall(SYS_sched_setscheduler, 0,
	    SCHED_BATCH, &(struct sched_param){ .sched_priority = 0 }) == -1)
		fatal("worker: -worker-sched batch");
	if (worker_limits(opt) == -1)
		fatal("worker: resource limits");
	if (privilege_keep_only(0) == -1)
		fatal("worker: dropping capabilities");
	if (opt->seccomp && sandbox_enter() == -1)
		fatal("worker: installing the seccomp filter");
}

static void
worker_signals(void)
{
	sigset_t none;

	/* The supervisor decides when a worker ends (it drains, then kills):
	 * a SIGTERM that systemd sends the whole control group, or a ^C to
	 * the process group, must not cut live connections. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	/* The supervisor's status signal, sent to the process group. */
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * Serve one job; returns 1 if the supervisor is to hear that we are idle.
 * While idle, a UDP worker may still get datagrams (or a SYNC) of the peer
 * it served last, sent before the supervisor heard it had ended: the
 * datagrams go back to be dispatched again.
 */
static int
worker_job(const struct options *opt, const struct handoff *h,
    const int *fds, uint8_t *payload, size_t cap, struct dial_asker *da)
{
	if (h->kind == HANDOFF_TCP && h->nfds == 1 && !opt->udp) {
		tcp_conn_serve(opt, fds[0], h->conn_id, &h->peer, h->accepted_ms,
		    da);
		return 1;
	}
	if (h->kind == HANDOFF_UDP && h->nfds == 1 && opt->udp) {
		udp_serve_peer(opt, WORKER_CTL_FD, WORKER_SOCKCH_FD, h, fds[0],
		    payload, h->payload_len, payload, cap);
		return 1;
	}
	if (h->kind == HANDOFF_UDP_DATA && h->nfds == 0 && opt->udp) {
		(void)fdpass_send_plain(WORKER_CTL_FD, h, payload);
		return 0;
	}
	/* SYNC, or a drain's word, for the peer that has just ended. */
	if ((h->kind == HANDOFF_UDP_SYNC || h->kind == HANDOFF_UDP_DRAIN) &&
	    h->nfds == 0 && opt->udp)
		return 0;
	fatalx("worker %d: unexpected job kind %u with %u fds", (int)getpid(),
	    h->kind, h->nfds);
}

/* Idle with suppressed drop lines: their summary is due when the second
 * ends, unless a job comes first. */
static void
drop_summary_wait(int ctl)
{
	int ms;

	while ((ms = tcp_conn_summary_due_ms()) != -1) {
		struct pollfd p = { .fd = ctl, .events = POLLIN };
		int r = poll(&p, 1, ms);

		if (r == -1 && errno == EINTR)
			continue;
		if (r != 0)
			return;
		tcp_conn_summary_flush();
	}
}

/*
 * The worker process, a fresh image (spawn.c) with its channel on fd 3
 * (and, for UDP, its socket channel on fd 4): confine itself, then take a
 * job, serve it, report idle; exit when the supervisor closes the channel.
 */
void
worker_main(const struct options *opt)
{
	struct dial_asker da = { .ctl = WORKER_CTL_FD, .ans = WORKER_CTL_FD };
	size_t cap = opt->udp ? HANDOFF_MAX_PAYLOAD : 0;
	unsigned jobs = 0;
	uint8_t *payload = NULL;

	worker_signals();
	/* Only what spawn.c handed over stays open (HAZARDS 7). */
	if (close_fds(WORKER_SOCKCH_FD + 1, ~0U) == -1 ||
	    (!opt->udp && close(WORKER_SOCKCH_FD) == -1 && errno != EBADF))
		fatal("worker: closing inherited fds");
	if (cap > 0 && (payload = malloc(cap)) == NULL)
		fatal("worker");
	worker_confine(opt);
	for (;;) {
		int fds[HANDOFF_MAX_FDS];
		struct handoff h;
		uint8_t idle;
		int r;

		proctitle_set("mmproxy: idle");
		drop_summary_wait(WORKER_CTL_FD);
		r = fdpass_recv(WORKER_CTL_FD, &h, fds, payload, cap);
		if (r == 0)
			exit(0);
		if (r == -1)
			fatal("worker %d: receiving a job", (int)getpid());
		if (!worker_job(opt, &h, fds, payload, cap, &da))
			continue;
		/* -worker-jobs: a worker that served its last job goes, so that
		 * a hijacked one is not handed the clients after it. */
		if (opt->worker_jobs != 0 && ++jobs >= opt->worker_jobs)
			exit(0);
		idle = 0;
		if (send(WORKER_CTL_FD, &idle, 1, MSG_NOSIGNAL) == -1)
			exit(0);	/* the supervisor is gone */
	}
}
