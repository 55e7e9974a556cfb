/*
 * The one connection of systemd Accept=yes and inetd, which come without
 * a supervisor: the process splits in two, as the pool does.  The child
 * confines itself (worker_confine) and serves the connection through
 * tcp_conn_serve() like any worker; the parent, which never reads a
 * client byte, stays outside the filter only to answer the child's one
 * dial request (dial_channel.c) with a socket it made before the split,
 * then waits for the child and exits with its status.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "dial.h"
#include "dial_channel.h"
#include "drop.h"
#include "io.h"
#include "log.h"
#include "one_conn.h"
#include "privilege.h"
#include "subnet.h"
#include "tcp_conn.h"
#include "worker.h"

/* The child, confined: serve, and exit 1 if the backend could not be had. */
static void __attribute__((noreturn))
child_serve(const struct options *opt, int client, int chan, uint32_t id,
    const struct sockaddr_storage *peer)
{
	struct dial_asker da = { .ctl = chan, .ans = chan };

	worker_confine(opt);
	exit(tcp_conn_serve(opt, client, id, peer, now_ms(), &da) ==
	    SERVE_UPSTREAM_FAILED ? 1 : 0);
}

/*
 * The parent: answer the child's dial request (one: a second is the
 * protocol broken), until the child closes its end.  Returns 0, or -1
 * when the child misbehaved (killed, logged).
 */
static int
monitor(const struct options *opt, int chan, pid_t child, uint32_t id,
    const struct sockaddr_storage *peer, int *spare)
{
	struct dial_policy pol = { .opt = opt, .type = SOCK_STREAM,
	    .client = *peer };
	int dialed = 0, failing = 0;
	struct handoff m;
	const char *bad;
	ssize_t n;

	pol.prepare_failing = &failing;
	for (;;) {
		memset(&m, 0, sizeof(m));
		do {
			n = recv(chan, &m, sizeof(m), MSG_TRUNC);
		} while (n == -1 && errno == EINTR);
		if (n <= 0)
			return 0;
		if ((size_t)n > sizeof(m))
			bad = "message_malformed";
		else
			bad = dialed ? "dial_twice" : dial_answer(&pol, chan,
			    (const uint8_t *)&m, (size_t)n,
			    &spare[m.upstream == UPSTREAM_V6]);
		dialed = 1;
		if (bad != NULL) {
			log_line(LOG_ERRORS, "worker_misbehaved worker=%d id=%u "
			    "reason=%s", (int)child, id, bad);
			kill(child, SIGKILL);
			return -1;
		}
	}
}

/* The child's end: its status, as the process's exit status. */
static int
child_status(pid_t child, uint32_t id)
{
	int status;

	while (waitpid(child, &status, 0) == -1)
		if (errno != EINTR)
			return 1;
	if (WIFSIGNALED(status)) {
		log_line(LOG_ERRORS, "worker_exit worker=%d signal=%d id=%u",
		    (int)child, WTERMSIG(status), id);
		return 1;
	}
	return WEXITSTATUS(status);
}

/*
 * Serve the one connection we were started with (systemd Accept=yes, or
 * inetd style on fd 0).  Its upstream sockets are made first, one per
 * family, so that both processes can become ra's user and hold no
 * capability before the first client byte is read.  mode names the launch
 * mode for the log.
 * Returns the exit status: 0 when it was relayed or dropped for the
 * client's fault (so scanners do not pile up failed units), 1 when the
 * backend could not be reached or the socket is unusable.
 */
int
one_conn_serve(const struct options *opt, const struct run_as *ra,
    int client, const char *mode)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	char peer_s[ADDR_STRLEN];
	uint32_t id = (uint32_t)getpid();	/* one connection per process */
	int spare[2], chan[2], rc;
	pid_t child;

	if (getpeername(client, (struct sockaddr *)&peer, &len) == -1) {
		log_line(LOG_ERRORS, "drop id=%u reason=%s error=\"%s\"", id,
		    drop_str(DROP_READ_ERROR), strerror(errno));
		return 1;
	}
	addr_unmap(&peer);
	addr_format(&peer, peer_s, sizeof(peer_s));
	if (opt->allowed_subnets_path != NULL &&
	    !subnet_match(&opt->allowed, &peer)) {
		log_line(LOG_ERRORS, "drop id=%u peer=%s reason=%s", id, peer_s,
		    drop_str(DROP_NOT_ALLOWED));
		close(client);
		return 0;
	}
	log_line(LOG_STATES, "accept id=%u peer=%s mode=%s", id, peer_s, mode);
	spare[0] = dial_prepare(AF_INET, SOCK_STREAM, opt->mark);
	spare[1] = dial_prepare(AF_INET6, SOCK_STREAM, opt->mark);
	(void)sockopt_set_int(client, IPPROTO_TCP, TCP_NODELAY, 1);
	(void)tcp_keepalive_set(client);
	if (fd_set_nonblock(client) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) == -1) {
		log_line(LOG_ERRORS, "drop id=%u peer=%s reason=%s error=\"%s\"",
		    id, peer_s, drop_str(DROP_READ_ERROR), strerror(errno));
		return 1;
	}
	privilege_become(ra);
	if ((child = fork()) == -1)
		fatal("fork");
	if (child == 0) {
		close(chan[0]);
		if (spare[0] != -1)
			close(spare[0]);
		if (spare[1] != -1)
			close(spare[1]);
		child_serve(opt, client, chan[1], id, &peer);
	}
	close(chan[1]);
	close(client);
	if (privilege_keep_only(0) == -1)
		fatal("dropping capabilities");
	rc = monitor(opt, chan[0], child, id, &peer, spare);
	close(chan[0]);
	return child_status(child, id) != 0 || rc == -1 ? 1 : 0;
}
