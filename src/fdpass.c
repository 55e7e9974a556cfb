/*
 * Passing fds with SCM_RIGHTS.  The receiver trusts nothing: the tag, the
 * cmsg level, type and length, and the fd count must all agree, and a
 * truncated message (MSG_CTRUNC: the kernel dropped fds, for example at
 * RLIMIT_NOFILE) is an error, with whatever did arrive closed.
 * It knows the message's shape, not what a job means.
 */
#include <sys/socket.h>
#include <sys/uio.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fdpass.h"

/* n, what a send of h returned: 0 if the whole record went, else -1
 * with errno set (EPROTO for a short one). */
static int
sent_whole(const struct handoff *h, ssize_t n)
{
	if (n == -1)
		return -1;
	if ((size_t)n != sizeof(*h) + h->payload_len) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/*
 * Send one job.  MSG_NOSIGNAL: a worker that just died must not kill the
 * supervisor with SIGPIPE.  Returns 0, or -1 with errno set.
 */
int
fdpass_send(int sock, const struct handoff *h, const int *fds,
    const void *payload)
{
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(int) * HANDOFF_MAX_FDS)];
	} cm;
	struct iovec iov[2];
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t n;

	if (h->nfds > HANDOFF_MAX_FDS || h->payload_len > HANDOFF_MAX_PAYLOAD) {
		errno = EINVAL;
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov[0].iov_base = (void *)h;
	iov[0].iov_len = sizeof(*h);
	iov[1].iov_base = (void *)payload;
	iov[1].iov_len = h->payload_len;
	msg.msg_iov = iov;
	msg.msg_iovlen = h->payload_len > 0 ? 2 : 1;
	if (h->nfds > 0) {
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * h->nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * h->nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * h->nfds);
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n == -1 && errno == EINTR);
	return sent_whole(h, n);
}

/*
 * Send a message that carries no fd, as a worker does: writev(2), so that
 * the worker's filter can deny sendmsg(2), whose address it cannot see.
 * On a SOCK_SEQPACKET channel it is one record all the same.  The caller
 * ignores SIGPIPE (a closed channel is EPIPE).  Blocks while the channel
 * is full: the supervisor reads it without ever blocking on a worker.
 * Returns 0, or -1 with errno set.
 */
int
fdpass_send_plain(int sock, const struct handoff *h, const void *payload)
{
	struct iovec iov[2] = { { (void *)h, sizeof(*h) },
	    { (void *)payload, h->payload_len } };
	ssize_t n;

	if (h->nfds != 0 || h->payload_len > HANDOFF_MAX_PAYLOAD) {
		errno = EINVAL;
		return -1;
	}
	do {
		n = writev(sock, iov, h->payload_len > 0 ? 2 : 1);
	} while (n == -1 && errno == EINTR);
	return sent_whole(h, n);
}

static void
close_cmsg_fds(struct msghdr *msg)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		size_t i, n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			close(fd);
		}
	}
}

/*
 * Receive one job into *h, fds (room for HANDOFF_MAX_FDS) and payload (cap
 * bytes).  Every fd arrives close-on-exec.
 * Returns 1 with h->nfds fds, 0 at EOF (the supervisor is gone), or -1 with
 * errno set (EPROTO for a malformed message; no fd is leaked).
 */
int
fdpass_recv(int sock, struct handoff *h, int *fds, void *payload, size_t cap)
{
	union {
		struct cmsghdr	align;
		/* Room for one more fd than allowed, to see a peer that sends too many. */
		char		buf[CMSG_SPACE(sizeof(int) * (HANDOFF_MAX_FDS + 1))];
	} cm;
	struct iovec iov[2];
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t n;
	size_t nfds = 0;

	memset(&msg, 0, sizeof(msg));
	iov[0].iov_base = h;
	iov[0].iov_len = sizeof(*h);
	iov[1].iov_base = payload;
	iov[1].iov_len = cap;
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))
		goto bad;
	c = CMSG_FIRSTHDR(&msg);
	if (c != NULL) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0) || CMSG_NXTHDR(&msg, c) != NULL)
			goto bad;
		nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (c->cmsg_len != CMSG_LEN(nfds * sizeof(int)) ||
		    nfds > HANDOFF_MAX_FDS)
			goto bad;
	}
	if ((size_t)n < sizeof(*h) || h->tag != HANDOFF_TAG ||
	    h->nfds != nfds || (size_t)n != sizeof(*h) + h->payload_len)
		goto bad;
	if (nfds > 0)
		memcpy(fds, CMSG_DATA(c), nfds * sizeof(int));
	return 1;
bad:
	close_cmsg_fds(&msg);
	errno = EPROTO;
	return -1;
}
