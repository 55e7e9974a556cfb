/*
 * Readiness and state for service managers.  The supervisor alone calls
 * these; the state is set once at startup, before any worker is forked.
 * A notification that cannot be delivered is logged and never fatal: the
 * proxy serves either way.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "logfmt.h"
#include "notify.h"

static struct sockaddr_un notify_addr;
static socklen_t notify_addr_len;	/* 0: no $NOTIFY_SOCKET */
static int notify_fd = -1;		/* -notify-fd, until used */

/*
 * Read $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace) and
 * remove it, so no child sees it; check -notify-fd (fd, or -1).  Exits
 * with one line when the fd is not open.
 */
void
notify_init(int fd)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	if (fd != -1) {
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
			fatal("-notify-fd %d", fd);
		notify_fd = fd;
	}
	if (path == NULL)
		return;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len < 2 ||
	    len >= sizeof(notify_addr.sun_path)) {
		log_line(LOG_ALWAYS, "notify error=\"NOTIFY_SOCKET is not a "
		    "unix socket address\"");
		unsetenv("NOTIFY_SOCKET");
		return;
	}
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, len);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0';
	notify_addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	unsetenv("NOTIFY_SOCKET");
}

/* One datagram to the notification socket, if there is one. */
void
notify_state(const char *state)
{
	ssize_t n;
	int fd;

	if (notify_addr_len == 0)
		return;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_line(LOG_ALWAYS, "notify error=\"%s\"", strerror(errno));
		return;
	}
	do {
		n = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		    (struct sockaddr *)&notify_addr, notify_addr_len);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		char q[128];

		log_line(LOG_ALWAYS, "notify state=%s error=\"%s\"",
		    logfmt_quote(q, sizeof(q), state), strerror(errno));
	}
	close(fd);
}

/* We serve: READY=1 to systemd, and s6's newline (once: then closed). */
void
notify_ready(void)
{
	notify_state("READY=1");
	if (notify_fd == -1)
		return;
	if (write_all(notify_fd, "\n", 1) == -1)
		log_line(LOG_ALWAYS, "notify fd=%d error=\"%s\"", notify_fd,
		    strerror(errno));
	close(notify_fd);
	notify_fd = -1;
}
