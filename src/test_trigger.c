/*
 * Only in the test build (build/tests/mmproxy-trigger), never in the
 * normal binary: a client whose first payload bytes are "mmproxy-test: "
 * and an act makes its worker do what an exploited one would, so that a
 * test can see what stops it (tests/security.bats).  The filter kills a
 * worker that execs a shell, signals another process, binds, connects, or
 * sends to an address of its own; the supervisor kills one that breaks
 * the channel's protocol (idle twice, a second or malformed dial request,
 * requests it did not wait for, a forged bounce).  Their names are the
 * test's; each act says what it tries.
 */
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dial.h"
#include "io.h"
#include "relay.h"
#include "test_trigger.h"

#define TEST_PREFIX	"mmproxy-test: "

static int
act_is(const uint8_t *p, size_t len, const char *act)
{
	size_t n = strlen(TEST_PREFIX), m = strlen(act);

	return len >= n + m && memcmp(p, TEST_PREFIX, n) == 0 &&
	    memcmp(p + n, act, m) == 0;
}

/* 127.0.0.1:port, where no socket of a worker is meant to go. */
static struct sockaddr_in
elsewhere(unsigned port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sin;
}

static void
send_raw_request(int ctl, uint8_t upstream, uint32_t seq)
{
	struct handoff req = { .tag = HANDOFF_TAG, .kind = HANDOFF_DIAL_REQ,
	    .conn_id = seq, .upstream = upstream };

	req.peer.ss_family = AF_UNSPEC;
	(void)fdpass_send_plain(ctl, &req, NULL);
}

/* Give the supervisor time to act on what was sent (it kills us). */
static void
linger(void)
{
	(void)poll(NULL, 0, 5000);
}

/* The acts of any worker, on one of its sockets fd. */
static void
trigger_any(const uint8_t *p, size_t len, int fd)
{
	struct sockaddr_in to = elsewhere(9);
	char *argv[] = { (char *)"sh", NULL };

	if (act_is(p, len, "forbidden syscall"))
		execve("/bin/sh", argv, NULL);
	if (act_is(p, len, "connect unspec")) {
		struct sockaddr sa = { .sa_family = AF_UNSPEC };

		(void)connect(fd, &sa, sizeof(sa));
	}
	if (act_is(p, len, "connect elsewhere"))
		(void)connect(fd, (struct sockaddr *)&to, sizeof(to));
	if (act_is(p, len, "bind")) {
		struct sockaddr_in any = elsewhere(0);

		(void)bind(fd, (struct sockaddr *)&any, sizeof(any));
	}
	if (act_is(p, len, "sendto elsewhere"))
		(void)sendto(fd, "x", 1, MSG_DONTWAIT, (struct sockaddr *)&to,
		    sizeof(to));
	if (act_is(p, len, "sendmsg")) {
		struct iovec iov = { (void *)"x", 1 };
		struct msghdr m = { .msg_name = &to, .msg_namelen = sizeof(to),
		    .msg_iov = &iov, .msg_iovlen = 1 };

		(void)sendmsg(fd, &m, MSG_DONTWAIT);
	}
	if (act_is(p, len, "sendmmsg")) {
		struct iovec iov = { (void *)"x", 1 };
		struct mmsghdr m = { .msg_hdr = { .msg_name = &to,
		    .msg_namelen = sizeof(to), .msg_iov = &iov, .msg_iovlen = 1 } };

		(void)sendmmsg(fd, &m, 1, MSG_DONTWAIT);
	}
	if (act_is(p, len, "sigreturn"))
		(void)syscall(SYS_rt_sigreturn);
	if (act_is(p, len, "kill"))
		(void)kill(1, 0);
	if (act_is(p, len, "fork"))
		(void)fork();
	if (act_is(p, len, "open"))
		(void)open("/etc/passwd", O_RDONLY);
	/* socket() fails, and the client hears how. */
	if (act_is(p, len, "socket")) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		const char *say = s == -1 && errno == EACCES ?
		    "socket: EACCES\n" : "socket: made\n";

		(void)write(fd, say, strlen(say));
	}
	if (act_is(p, len, "abort ")) {
		char num[16] = "";
		size_t skip = strlen(TEST_PREFIX) + strlen("abort "), n = len - skip;
		long pid;

		memcpy(num, p + skip, n < 15 ? n : 15);
		pid = strncmp(num, "self", 4) == 0 ? (long)getpid() :
		    strtol(num, NULL, 10);
		(void)syscall(SYS_tgkill, pid, pid, SIGABRT);
	}
}

/* The acts on the dial channel (da); fd: the worker's client socket. */
static void
trigger_dial(const uint8_t *p, size_t len, struct dial_asker *da, int fd_c)
{
	uint8_t lost;
	int fd, no_socket;

	if (act_is(p, len, "dial twice")) {
		fd = dial_ask(da, AF_INET, NULL, NULL, &lost, &no_socket);
		if (fd != -1)
			close(fd);
		(void)dial_ask(da, AF_INET, NULL, NULL, &lost, &no_socket);
		linger();
	}
	/* A loopback source, which only a balancer on this host may name. */
	if (act_is(p, len, "dial loopback")) {
		struct sockaddr_storage src;
		struct sockaddr_in lo = elsewhere(40000);

		memset(&src, 0, sizeof(src));
		memcpy(&src, &lo, sizeof(lo));
		fd = dial_ask(da, AF_INET, &src, NULL, &lost, &no_socket);
		if (fd != -1)
			close(fd);
		linger();
	}
	/* Sources the parser never gives: unspecified, or of the other
	 * family than the one asked for. */
	if (act_is(p, len, "dial unusable")) {
		struct sockaddr_storage src;
		struct sockaddr_in any = elsewhere(40000);

		any.sin_addr.s_addr = 0;
		memset(&src, 0, sizeof(src));
		memcpy(&src, &any, sizeof(any));
		(void)dial_ask(da, AF_INET, &src, NULL, &lost, &no_socket);
		linger();
	}
	if (act_is(p, len, "dial family")) {
		struct sockaddr_storage src;
		struct sockaddr_in v4 = elsewhere(40000);

		v4.sin_addr.s_addr = htonl(0xc6336404);
		memset(&src, 0, sizeof(src));
		memcpy(&src, &v4, sizeof(v4));
		(void)dial_ask(da, AF_INET6, &src, NULL, &lost, &no_socket);
		linger();
	}
	/* A destination of its own choosing (-dynamic-destination): the
	 * client hears whether a socket came; without the flag, asking at
	 * all is malformed. */
	if (act_is(p, len, "dial destination")) {
		struct sockaddr_storage dst;
		struct sockaddr_in there = elsewhere(9);
		const char *say;

		there.sin_addr.s_addr = htonl(0xc0000201);	/* 192.0.2.1 */
		memset(&dst, 0, sizeof(dst));
		memcpy(&dst, &there, sizeof(there));
		fd = dial_ask(da, AF_INET, NULL, &dst, &lost, &no_socket);
		say = fd != -1 ? "dial: made\n" : errno == EACCES ?
		    "dial: refused\n" : "dial: failed\n";
		if (fd != -1)
			close(fd);
		(void)write(fd_c, say, strlen(say));
		linger();
	}
	if (act_is(p, len, "dial malformed")) {
		send_raw_request(da->ctl, UPSTREAM_V4 | UPSTREAM_V6, ++da->seq);
		linger();
	}
	if (act_is(p, len, "dial flood")) {
		send_raw_request(da->ctl, UPSTREAM_V4, ++da->seq);
		send_raw_request(da->ctl, UPSTREAM_V4, ++da->seq);
		linger();
	}
}

/*
 * What an exploit finds of an earlier client's bytes in the copy buffers
 * the relay keeps between connections: it says how many bytes it looked
 * at, how many were not zero, and the first of those, then ends.
 */
static void
scrape(int client)
{
	char out[160], sample[64];
	size_t seen = 0, nonzero = 0, ns = 0, i, n;
	const uint8_t *b;
	int k, m;

	for (k = 0; k < 2; k++) {
		seen += n = relay_test_buffer(k, &b);
		for (i = 0; i < n; i++) {
			if (b[i] == 0)
				continue;
			nonzero++;
			if (ns < sizeof(sample))
				sample[ns++] = (char)b[i];
		}
	}
	m = snprintf(out, sizeof(out), "scraped=%zu nonzero=%zu sample=%.*s\n",
	    seen, nonzero, (int)ns, sample);
	if (m > 0)
		(void)write_all(client, out, (size_t)m < sizeof(out) ?
		    (size_t)m : sizeof(out) - 1);
	exit(0);
}

void
test_trigger_tcp(const uint8_t *p, size_t len, int client,
    struct dial_asker *da)
{
	uint8_t idle = 0;

	if (act_is(p, len, "scrape"))
		scrape(client);
	trigger_any(p, len, client);
	trigger_dial(p, len, da, client);
	if (act_is(p, len, "idle twice")) {
		(void)send(da->ctl, &idle, 1, MSG_NOSIGNAL);
		(void)send(da->ctl, &idle, 1, MSG_NOSIGNAL);
	}
}

void
test_trigger_udp(const uint8_t *p, size_t len, int down, struct dial_asker *da,
    uint32_t id, const struct sockaddr_storage *peer,
    const struct sockaddr_storage *local)
{
	/* This worker's jobs so far: a datagram of the one before may still
	 * come back to the supervisor, legitimately. */
	static uint32_t last_id, prev_id;
	static struct sockaddr_storage last_local, prev_local, last_peer,
	    prev_peer;
	struct handoff h = { .tag = HANDOFF_TAG, .kind = HANDOFF_UDP_DATA,
	    .conn_id = id, .payload_len = 1, .local = *local };
	struct sockaddr_in from = elsewhere(2);

	if (id != last_id) {
		prev_id = last_id;
		prev_local = last_local;
		prev_peer = last_peer;
		last_id = id;
		last_local = *local;
		last_peer = *peer;
	}
	trigger_any(p, len, down);
	trigger_dial(p, len, da, down);
	memcpy(&h.peer, &from, sizeof(from));
	/* A bounce for a local address this worker was never given (a
	 * privileged port), or from a peer that is no IP address. */
	if (act_is(p, len, "bounce local")) {
		struct sockaddr_in l = elsewhere(80);

		memset(&h.local, 0, sizeof(h.local));
		memcpy(&h.local, &l, sizeof(l));
		(void)fdpass_send_plain(da->ctl, &h, "x");
		linger();
	}
	/* What a worker does when a datagram of its last peer comes after
	 * the next job: allowed.  The same for a job it never had: not. */
	if (act_is(p, len, "bounce previous")) {
		h.conn_id = prev_id;
		h.local = prev_local;
		h.peer = prev_peer;
		(void)fdpass_send_plain(da->ctl, &h, "x");
	}
	/* Its own job's local address, a peer of its choosing: the
	 * supervisor would connect a socket there. */
	if (act_is(p, len, "bounce elsewhere")) {
		(void)fdpass_send_plain(da->ctl, &h, "x");
		linger();
	}
	/* Its own job's peer, spelt another way (v4-mapped, a flow label):
	 * the same address to connect(), a new peer to the table. */
	if (act_is(p, len, "bounce respelled")) {
		struct sockaddr_in6 *six = (struct sockaddr_in6 *)&h.peer;
		const struct sockaddr_in *four = (const struct sockaddr_in *)peer;

		h.peer = *peer;
		if (peer->ss_family == AF_INET) {
			memset(&h.peer, 0, sizeof(h.peer));
			six->sin6_family = AF_INET6;
			six->sin6_port = four->sin_port;
			six->sin6_addr.s6_addr[10] = 0xff;
			six->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&six->sin6_addr.s6_addr[12], &four->sin_addr, 4);
		} else
			six->sin6_flowinfo = htonl(1);
		(void)fdpass_send_plain(da->ctl, &h, "x");
		linger();
	}
	if (act_is(p, len, "bounce stranger")) {
		h.conn_id = id + 1000;
		h.peer = *peer;
		(void)fdpass_send_plain(da->ctl, &h, "x");
		linger();
	}
	if (act_is(p, len, "bounce unix")) {
		memset(&h.peer, 0, sizeof(h.peer));
		h.peer.ss_family = AF_UNIX;
		(void)fdpass_send_plain(da->ctl, &h, "x");
		linger();
	}
}
