/*
 * The relay.  Each direction reads into its own buffer and writes it out
 * before reading again, so nothing is reordered and memory is bounded.
 * EOF on one side becomes shutdown(SHUT_WR) on the other (half-close) and
 * the other direction carries on; an error on either side resets both.
 */
#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "relay.h"

#define RELAY_BUFSZ	65536

struct direction {
	int		 from, to;
	uint8_t		*buf;
	const uint8_t	*pend;		/* bytes read, not yet written */
	size_t		 pend_len;
	int		 eof;		/* read returned 0 */
	int		 shut;		/* shutdown(to, SHUT_WR) done */
	uint64_t	 bytes;
	const char	*from_name, *to_name;
};

static int
would_block(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* Write what is pending.  Returns 0, or -1 with errno set. */
static int
flush_pending(struct direction *d)
{
	while (d->pend_len > 0) {
		ssize_t n = write(d->to, d->pend, d->pend_len);
		if (n == -1)
			return would_block() ? 0 : -1;
		d->pend += n;
		d->pend_len -= (size_t)n;
		d->bytes += (uint64_t)n;
	}
	return 0;
}

/*
 * Move what can be moved without blocking.  Returns 0, or -1 with errno
 * set and *side naming the socket that failed.
 */
static int
direction_step(struct direction *d, const char **side)
{
	ssize_t n;

	if (flush_pending(d) == -1) {
		*side = d->to_name;
		return -1;
	}
	if (d->pend_len == 0 && !d->eof) {
		n = read(d->from, d->buf, RELAY_BUFSZ);
		if (n == 0)
			d->eof = 1;
		else if (n == -1 && !would_block()) {
			*side = d->from_name;
			return -1;
		} else if (n > 0) {
			d->pend = d->buf;
			d->pend_len = (size_t)n;
			if (flush_pending(d) == -1) {
				*side = d->to_name;
				return -1;
			}
		}
	}
	if (d->eof && d->pend_len == 0 && !d->shut) {
		if (shutdown(d->to, SHUT_WR) == -1 && errno != ENOTCONN) {
			*side = d->to_name;
			return -1;
		}
		d->shut = 1;
	}
	return 0;
}

static short
wants(const struct direction *rd, const struct direction *wr)
{
	short ev = 0;

	if (!rd->eof && rd->pend_len == 0)
		ev |= POLLIN;
	if (wr->pend_len > 0)
		ev |= POLLOUT;
	return ev;
}

/* A reset, not a FIN: the peer must not take a broken stream as complete. */
static void
set_reset_on_close(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

/*
 * Relay between two connected non-blocking sockets until both directions
 * have ended.  early (may be empty) is sent upstream first: the bytes that
 * came with the PROXY header.  The caller closes both fds.
 * Returns 0 when both directions ended cleanly, -1 on an error (errno and
 * res->side set; both sockets then reset on close).  res counts the bytes.
 */
int
relay_run(int client, int upstream, const uint8_t *early, size_t early_len,
    struct relay_result *res)
{
	struct direction up = { client, upstream, NULL, early, early_len, 0, 0,
	    0, "client", "upstream" };
	struct direction down = { upstream, client, NULL, NULL, 0, 0, 0, 0,
	    "upstream", "client" };
	uint8_t *mem;
	int rc = 0;

	res->side = NULL;
	res->error = 0;
	if ((mem = malloc(2 * RELAY_BUFSZ)) == NULL) {
		res->side = "relay";
		res->error = errno;
		return -1;
	}
	up.buf = mem;
	down.buf = mem + RELAY_BUFSZ;
	while (!(up.shut && down.shut)) {
		struct pollfd pfd[2];

		if (direction_step(&up, &res->side) == -1 ||
		    direction_step(&down, &res->side) == -1) {
			rc = -1;
			break;
		}
		if (up.shut && down.shut)
			break;
		pfd[0].events = wants(&up, &down);
		pfd[1].events = wants(&down, &up);
		/* A socket we want nothing from would report POLLHUP forever. */
		pfd[0].fd = pfd[0].events ? client : -1;
		pfd[1].fd = pfd[1].events ? upstream : -1;
		if (poll(pfd, 2, -1) == -1 && errno != EINTR) {
			res->side = "relay";
			rc = -1;
			break;
		}
	}
	if (rc == -1) {
		res->error = errno;
		set_reset_on_close(client);
		set_reset_on_close(upstream);
	}
	res->up = up.bytes;
	res->down = down.bytes;
	free(mem);
	return rc;
}
