/*
 * loadgen: the load for `make bench`, in the spirit of tcpkali.  One
 * thread, epoll, N connections, each opening with a PROXY v1 header that
 * names its own source (as tcpkali's \{connection.uid}), then:
 *
 *   stream    send "PING\r\n" as fast as possible and read all echoes:
 *             up/down Mbps and messages/s
 *   pingpong  one message, wait for its echo, again: requests/s, p50/p99
 *   connect   header + one message + echo + close, again: connections/s,
 *             p50/p99 from connect() to the echo (time to first byte)
 *   idle      open the connections, send the header, hold them until
 *             SIGTERM (memory per idle connection)
 *   udp       N flows, each a UDP socket of its own: a datagram with a
 *             PROXY v2 DGRAM header and a numbered message, then wait for
 *             its echo (UDP_TIMEOUT_MS at most: then it counts as lost), again:
 *             datagrams/s, p50/p99, lost
 *
 *   loadgen --target ADDR:PORT --mode MODE [--conns N] [--duration S]
 *           [--proxy v1|spp|none] [--uid-base N]   (spp: udp only)
 *
 * Sources come from --uid-base on, one per connection; "uids=" in the
 * results says how many were used, so that the next run can start past
 * them (a reused source would meet its predecessor in TIME_WAIT).
 *
 * Prints one line of key=value results on stdout.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"

#define MSG		"PING\r\n"
#define MSG_LEN		6
#define CHUNK		(MSG_LEN * 10923)	/* ~64 KiB of whole messages */
#define HIST_US		200000			/* 1 us buckets up to 200 ms */
#define MAX_EVENTS	256

enum mode { STREAM, PINGPONG, CONNECT, IDLE, UDP };

#define UDP_TIMEOUT_MS	200

struct conn {
	int		fd;
	int		connected;
	unsigned	uid;		/* names the PROXY source */
	char		hdr[64];
	size_t		hdr_len, hdr_off;
	size_t		want;		/* echo bytes still expected */
	int64_t		t0;		/* request or connect start, ns */
};

static enum mode mode;
static struct sockaddr_in target;
static int use_proxy = 1;
static int epfd;
static unsigned next_uid;
static uint64_t up_bytes, down_bytes, done_ops, errors, udp_sent, udp_lost;
static uint32_t *hist;
static uint64_t hist_over;
static volatile sig_atomic_t stop;
static char chunk[CHUNK];

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
record(int64_t ns)
{
	int64_t us = ns / 1000;

	if (us < HIST_US)
		hist[us]++;
	else
		hist_over++;
}

static double
percentile(double p)
{
	uint64_t total = hist_over, seen = 0, want;
	int64_t i;

	for (i = 0; i < HIST_US; i++)
		total += hist[i];
	if (total == 0)
		return 0;
	want = (uint64_t)(p * (double)total);
	for (i = 0; i < HIST_US; i++) {
		seen += hist[i];
		if (seen > want)
			return (double)i;
	}
	return HIST_US;
}

/*
 * uid -> a source in 198.18.0.0/15 (benchmarking range) and a port below
 * the ephemeral range.  The proxy binds these ports explicitly, and the
 * kernel never picks an ephemeral port whose bind bucket came from an
 * explicit bind: overlapping ranges would starve connect() of ports while
 * the proxy's sockets sit in TIME_WAIT, and slow every later row.
 */
#define SRC_PORT_BASE	1024
#define SRC_PORTS	30000	/* 1024..31023; ephemeral ports start at 32768 */

static void
make_header(struct conn *c)
{
	unsigned ip = c->uid / SRC_PORTS, port = SRC_PORT_BASE + c->uid % SRC_PORTS;

	c->hdr_len = 0;
	if (use_proxy)
		c->hdr_len = (size_t)snprintf(c->hdr, sizeof(c->hdr),
		    "PROXY TCP4 198.%u.%u.%u 127.0.0.1 %u 8443\r\n",
		    18 + (ip >> 16 & 1), ip >> 8 & 0xff, ip & 0xff, port);
	c->hdr_off = 0;
}

/*
 * Each connection leaves from its own loopback address (127.1.0.0 on, by
 * uid).  From one address, connect-rate would run out of ports within
 * seconds (every closed connection holds one in TIME_WAIT for a minute),
 * and later rows would pay for earlier ones in the port search.
 */
static void
bind_source(int fd, unsigned uid)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	unsigned n = 1 + uid % 0xfeffff;	/* 127.1.0.0 .. 127.255.255.255 */
	int one = 1;

	a.sin_addr.s_addr = htonl(0x7f000000u | (0x10000u + n - 1));
	if (setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1)
		die("bind");
}

static void
conn_open(struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET };
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		die("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->connected = 0;
	c->uid = next_uid++;
	bind_source(c->fd, c->uid);
	c->want = 0;
	make_header(c);
	c->t0 = now_ns();
	if (connect(c->fd, (struct sockaddr *)&target, sizeof(target)) == -1 &&
	    errno != EINPROGRESS)
		die("connect");
	ev.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		die("epoll_ctl");
}

static void
conn_close(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
}

/* Send what is owed.  Returns -1 on a hard error. */
static int
send_some(struct conn *c)
{
	ssize_t n;

	while (c->hdr_off < c->hdr_len) {
		n = send(c->fd, c->hdr + c->hdr_off, c->hdr_len - c->hdr_off,
		    MSG_NOSIGNAL);
		if (n == -1)
			return errno == EAGAIN ? 0 : -1;
		c->hdr_off += (size_t)n;
	}
	if (mode == STREAM) {
		for (;;) {
			n = send(c->fd, chunk, sizeof(chunk), MSG_NOSIGNAL);
			if (n == -1)
				return errno == EAGAIN ? 0 : -1;
			up_bytes += (uint64_t)n;
		}
	}
	if ((mode == PINGPONG || mode == CONNECT) && c->want == 0) {
		n = send(c->fd, MSG, MSG_LEN, MSG_NOSIGNAL);
		if (n != MSG_LEN)
			return -1;	/* 6 bytes into an empty socket buffer */
		up_bytes += MSG_LEN;
		c->want = MSG_LEN + (use_proxy ? 0 : c->hdr_len);
		if (mode == PINGPONG)
			c->t0 = now_ns();
	}
	return 0;
}

static int
recv_some(struct conn *c)
{
	static char buf[65536];
	ssize_t n;

	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n == 0)
			return -1;
		if (n == -1)
			return errno == EAGAIN ? 0 : -1;
		down_bytes += (uint64_t)n;
		if (mode == STREAM || mode == IDLE)
			continue;
		c->want = (size_t)n >= c->want ? 0 : c->want - (size_t)n;
		if (c->want > 0)
			continue;
		record(now_ns() - c->t0);
		done_ops++;
		if (mode == CONNECT) {
			conn_close(c);
			conn_open(c);
			return 0;
		}
		if (send_some(c) == -1)
			return -1;
	}
}

static void
on_event(struct conn *c, uint32_t ev)
{
	if (!c->connected && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			errors++;
			conn_close(c);
			conn_open(c);
			return;
		}
		c->connected = 1;
		if (mode == IDLE)
			done_ops++;
	}
	if (c->connected && (ev & EPOLLOUT) && send_some(c) == -1)
		goto broken;
	if (c->connected && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
	    recv_some(c) == -1)
		goto broken;
	return;
broken:
	errors++;
	conn_close(c);
	conn_open(c);
}

/*
 * UDP: one datagram in flight per flow.  The header (v2, PROXY, UDP4)
 * names the flow's source; the proxy answers with the bare payload, to the
 * flow's own socket.
 */
struct flow {
	int		fd;
	uint32_t	seq;		/* of the datagram in flight */
	int64_t		t0;
	uint8_t		hdr[38];
	size_t		hdr_len;
};

/* --proxy spp: Cloudflare's Simple Proxy Protocol, both ways. */
static int use_spp;

/* The flow's SPP header: magic, client and proxy as ::ffff:a.b.c.d, ports. */
static void
udp_spp_header(struct flow *f, uint32_t src, uint32_t dst, uint16_t sport,
    uint16_t dport)
{
	memset(f->hdr, 0, sizeof(f->hdr));
	f->hdr[0] = 0x56;
	f->hdr[1] = 0xec;
	f->hdr[12] = f->hdr[13] = f->hdr[28] = f->hdr[29] = 0xff;
	memcpy(f->hdr + 14, &src, 4);
	memcpy(f->hdr + 30, &dst, 4);
	memcpy(f->hdr + 34, &sport, 2);
	memcpy(f->hdr + 36, &dport, 2);
	f->hdr_len = 38;
}

static void
udp_header(struct flow *f, unsigned uid)
{
	static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	    0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	unsigned ip = uid / SRC_PORTS, port = SRC_PORT_BASE + uid % SRC_PORTS;
	uint32_t src = htonl(0xc6120000u | (ip & 0x1ffff)), dst = htonl(0x7f000001);
	uint16_t sport = htons((uint16_t)port), dport = htons(8443), len = htons(12);

	f->hdr_len = 0;
	if (!use_proxy)
		return;
	if (use_spp) {
		udp_spp_header(f, src, dst, sport, dport);
		return;
	}
	memcpy(f->hdr, sig, 12);
	f->hdr[12] = 0x21;		/* version 2, PROXY */
	f->hdr[13] = 0x12;		/* AF_INET, DGRAM */
	memcpy(f->hdr + 14, &len, 2);
	memcpy(f->hdr + 16, &src, 4);
	memcpy(f->hdr + 20, &dst, 4);
	memcpy(f->hdr + 24, &sport, 2);
	memcpy(f->hdr + 26, &dport, 2);
	f->hdr_len = 28;
}

static void
udp_send(struct flow *f)
{
	uint8_t pkt[38 + 4 + MSG_LEN];
	size_t n = f->hdr_len;

	f->seq++;
	memcpy(pkt, f->hdr, n);
	memcpy(pkt + n, &f->seq, 4);
	memcpy(pkt + n + 4, MSG, MSG_LEN);
	f->t0 = now_ns();
	if (send(f->fd, pkt, n + 4 + MSG_LEN, 0) == -1)
		errors++;
	else {
		udp_sent++;
		up_bytes += 4 + MSG_LEN;
	}
}

static void
udp_recv(struct flow *f)
{
	uint8_t buf[2048];
	uint32_t seq;
	ssize_t n;

	/* SPP: every reply comes behind the flow's own header. */
	size_t skip = use_spp && use_proxy ? f->hdr_len : 0;

	while ((n = recv(f->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		if ((size_t)n != skip + 4 + MSG_LEN ||
		    memcmp(buf, f->hdr, skip) != 0)
			continue;
		n -= (ssize_t)skip;
		memcpy(&seq, buf + skip, 4);
		if (seq != f->seq)
			continue;	/* the echo of one already counted lost */
		down_bytes += (uint64_t)n;
		record(now_ns() - f->t0);
		done_ops++;
		udp_send(f);
	}
}

static void
run_udp(struct flow *fs, unsigned n, int64_t end)
{
	struct epoll_event evs[MAX_EVENTS];
	unsigned i;

	for (i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &fs[i] };
		unsigned uid = next_uid++;

		fs[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fs[i].fd == -1)
			die("socket");
		bind_source(fs[i].fd, uid);
		if (connect(fs[i].fd, (struct sockaddr *)&target, sizeof(target)) == -1)
			die("connect");
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fs[i].fd, &ev) == -1)
			die("epoll_ctl");
		udp_header(&fs[i], uid);
		udp_send(&fs[i]);
	}
	while (!stop && now_ns() < end) {
		int k, m = epoll_wait(epfd, evs, MAX_EVENTS, 20);
		int64_t late = now_ns() - (int64_t)UDP_TIMEOUT_MS * 1000000;

		for (k = 0; k < m; k++)
			udp_recv(evs[k].data.ptr);
		for (i = 0; i < n; i++) {
			if (fs[i].t0 < late) {
				udp_lost++;
				udp_send(&fs[i]);
			}
		}
	}
	for (i = 0; i < n; i++)
		close(fs[i].fd);
}

static void
parse_target(const char *s)
{
	struct sockaddr_storage ss;

	if (addr_parse_hostport(s, &ss) == -1 || ss.ss_family != AF_INET) {
		fprintf(stderr, "loadgen: bad --target %s (IPv4 ADDR:PORT)\n", s);
		exit(2);
	}
	memcpy(&target, &ss, sizeof(target));
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[MAX_EVENTS];
	const char *mode_s = "stream";
	unsigned conns = 50, i, uid_base;
	double duration = 5, secs, up_msgs, down_msgs;
	struct conn *cs;
	int64_t start, end;

	for (i = 1; i + 1 < (unsigned)argc; i += 2) {
		if (strcmp(argv[i], "--target") == 0)
			parse_target(argv[i + 1]);
		else if (strcmp(argv[i], "--mode") == 0)
			mode_s = argv[i + 1];
		else if (strcmp(argv[i], "--conns") == 0)
			conns = (unsigned)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--duration") == 0)
			duration = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--proxy") == 0) {
			use_proxy = strcmp(argv[i + 1], "none") != 0;
			use_spp = strcmp(argv[i + 1], "spp") == 0;
		}
		else if (strcmp(argv[i], "--uid-base") == 0)
			next_uid = (unsigned)atoi(argv[i + 1]);
		else {
			fprintf(stderr, "loadgen: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (target.sin_family == 0 || conns == 0) {
		fprintf(stderr, "usage: loadgen --target IP:PORT --mode "
		    "stream|pingpong|connect|idle|udp [--conns N] [--duration S] "
		    "[--proxy v1|spp|none]\n");
		return 2;
	}
	if (strcmp(mode_s, "stream") == 0)
		mode = STREAM;
	else if (strcmp(mode_s, "pingpong") == 0)
		mode = PINGPONG;
	else if (strcmp(mode_s, "connect") == 0)
		mode = CONNECT;
	else if (strcmp(mode_s, "idle") == 0)
		mode = IDLE;
	else if (strcmp(mode_s, "udp") == 0)
		mode = UDP;
	else {
		fprintf(stderr, "loadgen: unknown mode %s\n", mode_s);
		return 2;
	}
	uid_base = next_uid;
	for (i = 0; i < CHUNK; i += MSG_LEN)
		memcpy(chunk + i, MSG, MSG_LEN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if ((hist = calloc(HIST_US, sizeof(*hist))) == NULL ||
	    (cs = calloc(conns, sizeof(*cs))) == NULL)
		die("calloc");
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	start = now_ns();
	end = mode == IDLE ? INT64_MAX : start + (int64_t)(duration * 1e9);
	if (mode == UDP) {
		struct flow *fs = calloc(conns, sizeof(*fs));

		if (fs == NULL)
			die("calloc");
		run_udp(fs, conns, end);
		free(fs);
		for (i = 0; i < conns; i++)
			cs[i].fd = -1;
	} else {
		for (i = 0; i < conns; i++)
			conn_open(&cs[i]);
	}
	while (mode != UDP && !stop && now_ns() < end) {
		int n = epoll_wait(epfd, evs, MAX_EVENTS, 100);
		for (int k = 0; k < n; k++)
			on_event(evs[k].data.ptr, evs[k].events);
		if (mode == IDLE && done_ops == conns) {
			/* Headers sent: say so once, then just hold. */
			printf("ready conns=%u\n", conns);
			fflush(stdout);
			done_ops++;
		}
	}
	secs = (double)(now_ns() - start) / 1e9;
	/* Messages: PING\r\n lines on TCP, datagrams on UDP. */
	up_msgs = mode == UDP ? (double)udp_sent : (double)up_bytes / MSG_LEN;
	down_msgs = mode == UDP ? (double)done_ops : (double)down_bytes / MSG_LEN;
	printf("mode=%s conns=%u seconds=%.2f up_mbps=%.1f down_mbps=%.1f "
	    "up_msgs=%.0f down_msgs=%.0f ops=%.0f p50_us=%.0f p99_us=%.0f "
	    "errors=%llu lost=%llu uids=%u\n", mode_s, conns, secs,
	    (double)up_bytes * 8 / secs / 1e6, (double)down_bytes * 8 / secs / 1e6,
	    up_msgs / secs, down_msgs / secs, (double)done_ops / secs,
	    percentile(0.50), percentile(0.99), (unsigned long long)errors,
	    (unsigned long long)udp_lost, next_uid - uid_base);
	for (i = 0; i < conns; i++)
		if (cs[i].fd != -1)
			close(cs[i].fd);
	free(cs);
	free(hist);
	close(epfd);
	return 0;
}
