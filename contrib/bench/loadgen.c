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
 *
 *   loadgen --target ADDR:PORT --mode MODE [--conns N] [--duration S]
 *           [--proxy v1|none] [--uid-base N]
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
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MSG		"PING\r\n"
#define MSG_LEN		6
#define CHUNK		(MSG_LEN * 10923)	/* ~64 KiB of whole messages */
#define HIST_US		200000			/* 1 us buckets up to 200 ms */
#define MAX_EVENTS	256

enum mode { STREAM, PINGPONG, CONNECT, IDLE };

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
static uint64_t up_bytes, down_bytes, done_ops, errors;
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

static void
parse_target(const char *s)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host)) {
		fprintf(stderr, "loadgen: bad --target %s\n", s);
		exit(2);
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	target.sin_family = AF_INET;
	target.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &target.sin_addr) != 1) {
		fprintf(stderr, "loadgen: bad --target %s\n", s);
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[MAX_EVENTS];
	const char *mode_s = "stream";
	unsigned conns = 50, i, uid_base;
	double duration = 5, secs;
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
		else if (strcmp(argv[i], "--proxy") == 0)
			use_proxy = strcmp(argv[i + 1], "none") != 0;
		else if (strcmp(argv[i], "--uid-base") == 0)
			next_uid = (unsigned)atoi(argv[i + 1]);
		else {
			fprintf(stderr, "loadgen: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (target.sin_family == 0 || conns == 0) {
		fprintf(stderr, "usage: loadgen --target IP:PORT --mode "
		    "stream|pingpong|connect|idle [--conns N] [--duration S] "
		    "[--proxy v1|none]\n");
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
	for (i = 0; i < conns; i++)
		conn_open(&cs[i]);
	end = mode == IDLE ? INT64_MAX : start + (int64_t)(duration * 1e9);
	while (!stop && now_ns() < end) {
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
	printf("mode=%s conns=%u seconds=%.2f up_mbps=%.1f down_mbps=%.1f "
	    "up_msgs=%.0f down_msgs=%.0f ops=%.0f p50_us=%.0f p99_us=%.0f "
	    "errors=%llu uids=%u\n", mode_s, conns, secs, (double)up_bytes * 8 / secs / 1e6,
	    (double)down_bytes * 8 / secs / 1e6, (double)up_bytes / MSG_LEN / secs,
	    (double)down_bytes / MSG_LEN / secs, (double)done_ops / secs,
	    percentile(0.50), percentile(0.99), (unsigned long long)errors,
	    next_uid - uid_base);
	for (i = 0; i < conns; i++)
		if (cs[i].fd != -1)
			close(cs[i].fd);
	free(cs);
	free(hist);
	close(epfd);
	return 0;
}
