/*
 * Finding our sockets.  systemd's protocol (sd_listen_fds(3)): LISTEN_PID
 * is our pid, LISTEN_FDS the number of fds from 3 on, LISTEN_FDNAMES their
 * names.  The variables are removed at once so no child sees them.  inetd
 * style (xinetd, tcpserver, s6-tcpserver): the connection is fd 0, and fd 1
 * (and under xinetd fd 2) are the same socket.  Every fd handed to us is
 * checked before use; a wrong one is a clear error at startup.
 * It only finds and checks fds: it opens none and serves nothing.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "activation.h"
#include "io.h"
#include "log.h"
#include "udp_listener.h"

#define SD_LISTEN_FDS_START	3

enum sock_kind { SOCK_NOT, SOCK_LISTENING, SOCK_CONNECTED, SOCK_OTHER };

static int
sockopt_int(int fd, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) == -1)
		return -1;
	return v;
}

/*
 * What fd is, as far as mmproxy cares with -p udp (udp != 0) or tcp; *what
 * says it in words.  A bound UDP socket counts as listening.
 */
static enum sock_kind
sock_kind(int fd, int udp, const char **what)
{
	struct stat st;
	int domain, type;

	if (fstat(fd, &st) == -1) {
		*what = "not open";
		return SOCK_NOT;
	}
	if (!S_ISSOCK(st.st_mode)) {
		*what = "not a socket";
		return SOCK_NOT;
	}
	domain = sockopt_int(fd, SO_DOMAIN);
	type = sockopt_int(fd, SO_TYPE);
	if (domain != AF_INET && domain != AF_INET6) {
		*what = "not an IPv4 or IPv6 socket";
		return SOCK_OTHER;
	}
	if (type == SOCK_DGRAM && !udp) {
		*what = "a UDP socket, but -p is tcp";
		return SOCK_OTHER;
	}
	if (type == SOCK_STREAM && udp) {
		*what = "a TCP socket, but -p is udp";
		return SOCK_OTHER;
	}
	if (type == SOCK_DGRAM) {
		*what = "a UDP socket";
		return SOCK_LISTENING;
	}
	if (type != SOCK_STREAM) {
		*what = "not a TCP socket";
		return SOCK_OTHER;
	}
	*what = "a TCP socket";
	return sockopt_int(fd, SO_ACCEPTCONN) == 1 ? SOCK_LISTENING :
	    SOCK_CONNECTED;
}

/* Our fds were inherited without O_CLOEXEC and may be blocking. */
static void
adopt_fd(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl == -1 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1 ||
	    fd_set_nonblock(fd) == -1)
		fatal("LISTEN_FDS: fd %d", fd);
}

/* The number of fds systemd passed us, or 0 if the variables are not ours. */
static unsigned
systemd_fds(struct launch *l)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	unsigned long n;
	char *end;

	if (names != NULL)
		snprintf(l->names, sizeof(l->names), "%s", names);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (pid == NULL || fds == NULL)
		return 0;
	errno = 0;
	if (strtol(pid, &end, 10) != (long)getpid() || *end != '\0')
		return 0;	/* meant for the process that started us */
	n = strtoul(fds, &end, 10);
	if (errno != 0 || *end != '\0' || fds[0] < '0' || fds[0] > '9')
		fatalx("LISTEN_FDS: invalid value \"%s\"", fds);
	if (n == 0 || n > LISTENERS_MAX)
		fatalx("LISTEN_FDS: %lu sockets; want 1 to %d", n, LISTENERS_MAX);
	return (unsigned)n;
}

static void
systemd_detect(const struct options *opt, struct launch *l, unsigned n)
{
	unsigned i, listening = 0;
	const char *what;

	for (i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + (int)i;
		enum sock_kind k = sock_kind(fd, opt->udp, &what);

		if (k == SOCK_NOT || k == SOCK_OTHER)
			fatalx("LISTEN_FDS: fd %d is %s", fd, what);
		adopt_fd(fd);
		if (opt->udp && udp_listener_prepare(fd,
		    opt->listen_transparent) == -1)
			fatal("LISTEN_FDS: fd %d: preparing the UDP socket", fd);
		listening += k == SOCK_LISTENING;
		l->fds[i] = fd;
	}
	if (listening == n) {
		l->mode = LAUNCH_SYSTEMD_LISTEN;
		l->nfds = n;
		return;
	}
	if (n != 1)
		fatalx("LISTEN_FDS: %u sockets, not all listening: with "
		    "Accept=yes systemd passes exactly one connection", n);
	l->mode = LAUNCH_SYSTEMD_ACCEPT;
	l->conn = SD_LISTEN_FDS_START;
}

/*
 * fd 1 and fd 2 may be the client's socket too (xinetd passes it on 0, 1
 * and 2).  Point them at /dev/null so that nothing, not even a libc or
 * sanitizer message, can reach the client except through the relay.
 */
static void
detach_stdio(int conn)
{
	struct stat cs, st;
	int fd, null;

	if (fstat(conn, &cs) == -1)
		fatal("-inetd: fd %d", conn);
	for (fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++) {
		if (fstat(fd, &st) == -1 || st.st_dev != cs.st_dev ||
		    st.st_ino != cs.st_ino)
			continue;
		if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1 ||
		    dup2(null, fd) == -1)
			fatal("-inetd: /dev/null");
		close(null);
	}
}

static void
inetd_mode(struct launch *l)
{
	l->mode = LAUNCH_INETD;
	l->conn = STDIN_FILENO;
	detach_stdio(STDIN_FILENO);
}

/*
 * Decide how we were started and check the fds we were given; exits with
 * one line if they are not what that mode needs.
 */
void
activation_detect(const struct options *opt, struct launch *l)
{
	const char *what;
	unsigned n;

	memset(l, 0, sizeof(*l));
	l->mode = LAUNCH_STANDALONE;
	l->conn = -1;
	if ((n = systemd_fds(l)) > 0) {
		systemd_detect(opt, l, n);
		return;
	}
	if (opt->inetd) {
		if (sock_kind(STDIN_FILENO, 0, &what) != SOCK_CONNECTED)
			fatalx("-inetd: standard input is %s, not a connected "
			    "TCP socket", what);
		inetd_mode(l);
		return;
	}
	/* Started by an inetd that does not say so: safe to guess only when
	 * no -l asks us to listen, and fd 0 is a connected TCP socket. */
	if (!opt->listen_set && !opt->udp &&
	    sock_kind(STDIN_FILENO, 0, &what) == SOCK_CONNECTED)
		inetd_mode(l);
}

const char *
activation_mode_str(enum launch_mode mode)
{
	switch (mode) {
	case LAUNCH_STANDALONE:
		return "standalone";
	case LAUNCH_SYSTEMD_LISTEN:
		return "systemd-listen";
	case LAUNCH_SYSTEMD_ACCEPT:
		return "systemd-accept";
	case LAUNCH_INETD:
		return "inetd";
	}
	return "unknown";
}
