/*
 * The relay.  Bytes go through a buffer with read(2) and write(2), or, with
 * -relay splice, socket -> pipe -> socket with splice(2) so that they never
 * enter this process (falling back to the buffer where no pipe can be had).
 * Measured on loopback, the backend mmproxy is made for, copying is faster:
 * see README.md, Performance.  Each direction moves
 * one batch at a time, so nothing is reordered and memory is bounded.  EOF
 * on one side becomes shutdown(SHUT_WR) on the other (half-close) and the
 * other direction carries on; an error on either side resets both.
 *
 * A worker serves many connections one after another: the pipes are made
 * once per process and kept (their pages are only taken while bytes are in
 * flight).  A connection that ends with bytes still in a pipe takes that
 * pipe with it.  Copy buffers are mapped when a direction's first bytes
 * arrive, so an idle connection of a fresh worker has none, and kept for
 * the next connection: mapping, faulting in and unmapping them on each one
 * took the connect rate at 50 connections from about 5,000 to 3,000 a
 * second, unpinned on two CPUs (an unmap's TLB flush interrupts every CPU
 * the process ran on).  When a connection ends, the first page is zeroed
 * and the pages past it given back (they read as zeros again), or, should
 * that fail, every byte written is zeroed: an idle worker keeps a page per
 * direction, and none of its last client's bytes for a later client's
 * exploit to find.
 * It never parses the bytes it moves and never opens a socket.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "relay.h"

#define RELAY_PIPE	(256 * 1024)	/* pipe size asked for */
#ifndef RELAY_BUF
#define RELAY_BUF	(64 * 1024)	/* copy buffer per direction */
#endif

/* Per worker process: see above. */
static struct {
	int	 pipe[2][2];		/* per direction; -1 when not made */
	size_t	 pipe_cap;
	uint8_t	*buf[2];		/* per direction; NULL when not mapped */
	size_t	 buf_kept;		/* of each, kept in between: a page */
} cache = { { { -1, -1 }, { -1, -1 } }, 0, { NULL, NULL }, 0 };

struct direction {
	int		 from, to;
	int		 k;		/* which cached pipe */
	int		*pipe;		/* NULL: copy through buf */
	uint8_t		*buf;		/* copy buffer, cache.buf[k] once used */
	size_t		 touched;	/* of buf: the longest read into it */
	const uint8_t	*pend;		/* copy mode, or early bytes */
	size_t		 pend_len;
	size_t		 in_pipe;	/* bytes spliced in, not yet out */
	int		 eof;		/* the source said EOF */
	int		 shut;		/* shutdown(to, SHUT_WR) done */
	uint64_t	 bytes;
	const char	*from_name, *to_name;
};

static int
would_block(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

static void
pipe_drop(int *p)
{
	if (p[0] != -1) {
		close(p[0]);
		close(p[1]);
	}
	p[0] = p[1] = -1;
}

/*
 * Choose how a direction moves bytes.  The copy buffer is only made when
 * the first bytes arrive: an idle connection costs no memory for it.
 */
static void
direction_setup(struct direction *d, int k, int use_splice)
{
	d->k = k;
	d->pipe = NULL;
	if (!use_splice)
		return;
	if (cache.pipe[k][0] == -1 &&
	    pipe2(cache.pipe[k], O_NONBLOCK | O_CLOEXEC) == 0) {
		/* A bigger pipe means fewer splices for bulk transfers; its
		 * pages are only taken while bytes are in flight. */
		int cap = fcntl(cache.pipe[k][0], F_SETPIPE_SZ, RELAY_PIPE);
		if (cap == -1)
			cap = fcntl(cache.pipe[k][0], F_GETPIPE_SZ);
		cache.pipe_cap = cap > 0 ? (size_t)cap : 65536;
	}
	if (cache.pipe[k][0] != -1)
		d->pipe = cache.pipe[k];
}

#ifdef MMPROXY_TEST_TRIGGER
/* The test build's hijacked worker (test_trigger.c): the copy buffer of
 * direction k kept between connections, and its size (0: none). */
size_t
relay_test_buffer(int k, const uint8_t **p)
{
	*p = cache.buf[k];
	return *p != NULL ? RELAY_BUF : 0;
}
#endif

/* Send pending bytes (early ones, or copy mode).  Returns 0, or -1. */
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

static int
flush_pipe(struct direction *d)
{
	while (d->in_pipe > 0) {
		ssize_t n = splice(d->pipe[0], NULL, d->to, NULL, d->in_pipe,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == -1)
			return would_block() ? 0 : -1;
		d->in_pipe -= (size_t)n;
		d->bytes += (uint64_t)n;
	}
	return 0;
}

/* Read one batch.  Returns the byte count, 0 at EOF, -1 (errno EAGAIN: none). */
static ssize_t
fill(struct direction *d)
{
	ssize_t n;

	if (d->pipe != NULL) {
		n = splice(d->from, NULL, d->pipe[1], NULL, cache.pipe_cap,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0)
			d->in_pipe = (size_t)n;
		return n;
	}
	if (cache.buf[d->k] == NULL) {
		/* Its own mapping, not malloc's: its pages can be given back
		 * while it stays (direction_release). */
		void *p = mmap(NULL, RELAY_BUF, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		long page = sysconf(_SC_PAGESIZE);	/* from auxv: no syscall */

		if (p == MAP_FAILED)
			return -1;
		cache.buf[d->k] = p;
		/* 4 KiB on x86, up to 64 KiB on arm64: the first page. */
		cache.buf_kept = page > 0 && (size_t)page < RELAY_BUF ?
		    (size_t)page : RELAY_BUF;
	}
	d->buf = cache.buf[d->k];
	n = read(d->from, d->buf, RELAY_BUF);
	if (n > 0) {
		d->pend = d->buf;
		d->pend_len = (size_t)n;
		if ((size_t)n > d->touched)
			d->touched = (size_t)n;
	}
	return n;
}

/* The connection is over: the buffer stays, wiped (see above). */
static void
direction_release(struct direction *d)
{
	size_t kept = cache.buf_kept;

	if (d->buf == NULL)
		return;
	if (d->touched > kept && madvise(d->buf + kept, RELAY_BUF - kept,
	    MADV_DONTNEED) == 0)
		memset(d->buf, 0, kept);
	else
		memset(d->buf, 0, d->touched);
	d->buf = NULL;
}

static int
busy(const struct direction *d)
{
	return d->pend_len > 0 || d->in_pipe > 0;
}

/*
 * Move what can be moved without blocking.  readable: poll said the source
 * has something (data, EOF or an error).  Returns 0, or -1 with errno set
 * and *side naming the socket that failed.
 */
static int
direction_step(struct direction *d, int readable, const char **side)
{
	ssize_t n;

	if (flush_pending(d) == -1 || (d->pipe && flush_pipe(d) == -1)) {
		*side = d->to_name;
		return -1;
	}
	if (!busy(d) && !d->eof && readable) {
		n = fill(d);
		if (n == 0)
			d->eof = 1;
		else if (n == -1 && !would_block()) {
			*side = d->from_name;
			return -1;
		}
		/* Most of the time the other side takes it at once. */
		if (n > 0 && (flush_pending(d) == -1 ||
		    (d->pipe && flush_pipe(d) == -1))) {
			*side = d->to_name;
			return -1;
		}
	}
	if (d->eof && !busy(d) && !d->shut) {
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

	if (!rd->eof && !busy(rd))
		ev |= POLLIN;
	if (busy(wr))
		ev |= POLLOUT;
	return ev;
}

/*
 * Waiting for the next event.  Waking a sleeping worker costs more than
 * the work it wakes for (two context switches and, across CPUs, an
 * interrupt), so a worker first polls without sleeping, up to -spin times,
 * giving the CPU to any other runnable worker between polls: under load
 * the workers take turns instead of waking each other, and a quick peer's
 * answer is found without a wake-up.  Polls are counted rather than timed
 * so that the CPU one worker spends is bounded however many take turns.
 * A connection whose peers keep answering after the window (a backend
 * across a network, an interactive client) stops spinning, for twice as
 * many events after each miss, so it burns next to nothing.
 *
 * Spinning only pays while it takes no CPU from anyone: when the proxy
 * shares its CPUs with its backend (production), a yield that hands the
 * CPU to another task means the CPUs are busy, and every further poll is
 * time the backend needed (HAZARDS 20).  So a yield that took longer than
 * SPIN_YIELD_BUSY_NS ends the window as a miss: under load the backoff
 * soon stops spinning, on an idle machine it spins as asked.  The clock
 * is normally read in the vDSO, with no system call (the filter allows
 * clock_gettime for clock sources that need one).
 *
 * A connection earns its spinning: its first SPIN_START_SKIP events are
 * waited for asleep.  A short one (a request and its answer, a health
 * check) is over before then, and a window spent on it waits for a peer
 * that is busy opening its next connection: spinning on those cost the
 * connect rate a quarter, with one connection as with 50.  A chatty one
 * starts spinning after them, and the backoff takes over.
 */
struct spin {
	unsigned	polls;		/* -spin; 0: never */
	unsigned	misses;		/* windows missed in a row */
	unsigned	skip;		/* events to wait for without spinning */
};

#define SPIN_BACKOFF_MAX	10	/* skip up to 1023 events */
#define SPIN_YIELD_BUSY_NS	20000	/* a yield this long ran someone else */
#define SPIN_START_SKIP		8	/* events a connection waits asleep first */

/* Returns what poll(2) does; 0 only when idle_ms (-1: never) passed. */
static int
wait_event(struct pollfd pfd[2], struct spin *s, int idle_ms)
{
	unsigned i;
	int64_t t;
	int n;

	if (s->polls == 0)
		return poll(pfd, 2, idle_ms);
	if (s->skip > 0) {
		s->skip--;
		return poll(pfd, 2, idle_ms);
	}
	for (i = 0; i < s->polls; i++) {
		if ((n = poll(pfd, 2, 0)) != 0) {
			s->misses = 0;
			return n;
		}
		t = now_ns();
		(void)sched_yield();
		if (now_ns() - t > SPIN_YIELD_BUSY_NS)
			break;
	}
	if (s->misses < SPIN_BACKOFF_MAX)
		s->misses++;
	s->skip = (1u << s->misses) - 1;
	return poll(pfd, 2, idle_ms);
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
 * came with the PROXY header.  use_splice: -relay splice.  spin_polls:
 * -spin (see wait_event).  idle_timeout_s: -idle-timeout (0: none): that
 * long with nothing to do either way ends the relay, res->idle set (both
 * sockets then close with a FIN, as at EOF).  The caller closes both fds.
 * Returns 0 when both directions ended cleanly, -1 on an error (errno and
 * res->side set; both sockets then reset on close) or the idle timeout.
 * res counts the bytes.
 */
int
relay_run(int client, int upstream, const uint8_t *early, size_t early_len,
    int use_splice, unsigned spin_polls, unsigned idle_timeout_s,
    struct relay_result *res)
{
	int idle_ms = idle_timeout_s > 0 ? (int)idle_timeout_s * 1000 : -1;
	struct spin spin = { spin_polls, 0, SPIN_START_SKIP };
	struct direction up = { .from = client, .to = upstream, .pend = early,
	    .pend_len = early_len, .from_name = "client", .to_name = "upstream" };
	struct direction down = { .from = upstream, .to = client,
	    .from_name = "upstream", .to_name = "client" };
	const short readable = POLLIN | POLLHUP | POLLERR;
	/* Early bytes go out before the first poll; nothing is read before
	 * poll says so (a read that would block costs a syscall, and its
	 * buffer pages). */
	int rc = 0, first = early_len > 0, n = 1;

	res->side = NULL;
	res->error = 0;
	res->idle = 0;
	res->up = res->down = 0;
	direction_setup(&up, 0, use_splice);
	direction_setup(&down, 1, use_splice);
	res->spliced = up.pipe != NULL && down.pipe != NULL;
	while (!(up.shut && down.shut)) {
		struct pollfd pfd[2];

		pfd[0].events = wants(&up, &down);
		pfd[1].events = wants(&down, &up);
		/* A socket we want nothing from would report POLLHUP forever. */
		pfd[0].fd = pfd[0].events ? client : -1;
		pfd[1].fd = pfd[1].events ? upstream : -1;
		pfd[0].revents = pfd[1].revents = 0;
		if (!first && (n = wait_event(pfd, &spin, idle_ms)) == -1 &&
		    errno != EINTR) {
			res->side = "relay";
			rc = -1;
			break;
		}
		if (!first && n == 0) {
			res->idle = 1;
			rc = -1;
			break;
		}
		if (direction_step(&up, pfd[0].revents & readable,
		    &res->side) == -1 ||
		    direction_step(&down, pfd[1].revents & readable,
		    &res->side) == -1) {
			rc = -1;
			break;
		}
		first = 0;
	}
	if (rc == -1 && !res->idle) {
		res->error = errno;
		set_reset_on_close(client);
		set_reset_on_close(upstream);
	}
	/* Bytes left in a pipe belong to this connection: do not pass them on. */
	if (up.in_pipe > 0)
		pipe_drop(cache.pipe[0]);
	if (down.in_pipe > 0)
		pipe_drop(cache.pipe[1]);
	direction_release(&up);
	direction_release(&down);
	res->up = up.bytes;
	res->down = down.bytes;
	return rc;
}
