/*
 * udp_client: the load balancer's side of UDP tests.  One socket (the
 * balancer socket, the peer mmproxy sees) sends datagrams and prints the
 * replies, one line each (text, with \xNN for other bytes; "(empty)" for a
 * 0-byte datagram).
 *
 *   udp_client [options] ADDR:PORT
 *     --bind IP:PORT   the balancer socket's own address (default: any)
 *     --hex HEX        a datagram in hex (spaces ignored); repeatable
 *     --text TEXT      append TEXT (\r \n \xNN escapes) to the last --hex
 *     --expect N       wait for N replies (default: one per datagram)
 *     --from           print each reply's source address before it
 *     --timeout-ms N   give up waiting after N ms of silence (default
 *                      10000): exit 3
 *     --burst N        send N datagrams: the last --hex (a header) and a
 *                      sequence number 1..N as text, at most --window
 *                      unanswered; prints sent=N recv=M inorder=0|1
 *     --window W       (default 32; --burst N --window N: all at once)
 *     --peers N        N balancer sockets one after another (--window at
 *                      a time), each sending one datagram from PROXY
 *                      source 198.51.100.1-255 : 20000+i and waiting for
 *                      its echo; prints ok=N
 *     --rcvbuf BYTES   SO_RCVBUF (default 4 MiB)
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "bytes.h"

#define MAX_DGRAMS	64
#define DGRAM_MAX	65536

struct dgram {
	unsigned char	*b;
	size_t		 n;
};

static struct dgram dgrams[MAX_DGRAMS];
static size_t ndgrams;
static int timeout_ms = 10000, print_from, rcvbuf = 4 << 20;

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "udp_client: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void __attribute__((noreturn))
diex(const char *what)
{
	fprintf(stderr, "udp_client: %s\n", what);
	exit(1);
}

/* A new datagram from hex. */
static void
add_hex(const char *s)
{
	struct dgram *d;
	const char *why;

	if (ndgrams == MAX_DGRAMS)
		diex("too many datagrams");
	d = &dgrams[ndgrams++];
	if ((d->b = malloc(DGRAM_MAX)) == NULL)
		die("malloc");
	if ((why = bytes_hex(s, d->b, DGRAM_MAX, &d->n)) != NULL)
		diex(why);
}

/* More bytes, as text, for the last datagram. */
static void
add_text(const char *s)
{
	const char *why;

	if (ndgrams == 0)
		diex("--text needs a --hex before it");
	why = bytes_text(s, dgrams[ndgrams - 1].b, DGRAM_MAX,
	    &dgrams[ndgrams - 1].n);
	if (why != NULL)
		diex(why);
}

static void
print_reply(const unsigned char *b, size_t n, const struct sockaddr_storage *from)
{
	char fs[ADDR_STRLEN];
	size_t i;

	if (print_from) {
		addr_format(from, fs, sizeof(fs));
		printf("from=%s ", fs);
	}
	if (n == 0)
		printf("(empty)");
	for (i = 0; i < n; i++) {
		if (b[i] == '\n' && i + 1 == n)
			break;
		if (b[i] >= 0x20 && b[i] < 0x7f)
			putchar(b[i]);
		else
			printf("\\x%02x", b[i]);
	}
	putchar('\n');
	fflush(stdout);
}

static int
open_socket(const struct sockaddr_storage *target, const char *bind_to)
{
	struct sockaddr_storage b;
	int fd = socket(target->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		die("socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind_to != NULL) {
		if (addr_parse_hostport(bind_to, &b) == -1)
			diex("bad --bind address");
		if (bind(fd, (struct sockaddr *)&b, addr_len(&b)) == -1)
			die("bind");
	}
	return fd;
}

/* One reply into buf.  Returns its length, or -1 after timeout_ms. */
static ssize_t
recv_reply(int fd, unsigned char *buf, struct sockaddr_storage *from, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	socklen_t fl = sizeof(*from);
	ssize_t n;

	for (;;) {
		int r = poll(&p, 1, ms);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			die("poll");
		if (r == 0)
			return -1;
		fl = sizeof(*from);
		n = recvfrom(fd, buf, DGRAM_MAX, MSG_DONTWAIT,
		    (struct sockaddr *)from, &fl);
		if (n >= 0)
			return n;
		if (errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED)
			die("recv");
	}
}

static void
send_to(int fd, const struct sockaddr_storage *t, const void *b, size_t n)
{
	if (sendto(fd, b, n, 0, (const struct sockaddr *)t, addr_len(t)) == -1)
		die("send");
}

static int
run_plain(int fd, const struct sockaddr_storage *t, int expect)
{
	static unsigned char buf[DGRAM_MAX];
	struct sockaddr_storage from;
	size_t i;
	int got;

	for (i = 0; i < ndgrams; i++)
		send_to(fd, t, dgrams[i].b, dgrams[i].n);
	for (got = 0; got < expect; got++) {
		ssize_t n = recv_reply(fd, buf, &from, timeout_ms);

		if (n == -1)
			return 3;
		print_reply(buf, (size_t)n, &from);
	}
	return 0;
}

static int
run_burst(int fd, const struct sockaddr_storage *t, unsigned total,
    unsigned window)
{
	static unsigned char buf[DGRAM_MAX], pkt[DGRAM_MAX];
	struct sockaddr_storage from;
	unsigned sent = 0, recvd = 0, expect = 1;
	int inorder = 1;
	size_t hl = dgrams[ndgrams - 1].n;

	memcpy(pkt, dgrams[ndgrams - 1].b, hl);
	while (recvd < total) {
		while (sent < total && sent - recvd < window) {
			int m = snprintf((char *)pkt + hl, 16, "%u", ++sent);
			send_to(fd, t, pkt, hl + (size_t)m);
		}
		ssize_t n = recv_reply(fd, buf, &from, timeout_ms);
		if (n == -1)
			break;
		buf[n < 15 ? n : 15] = '\0';
		if (strtoul((char *)buf, NULL, 10) != expect)
			inorder = 0;
		expect = (unsigned)strtoul((char *)buf, NULL, 10) + 1;
		recvd++;
	}
	printf("sent=%u recv=%u inorder=%d\n", sent, recvd, inorder);
	return recvd == total ? 0 : 3;
}

/* Peer i's datagram: a v2 DGRAM header from 198.51.100.x, then "peer i". */
static size_t
peer_datagram(unsigned char *p, unsigned i)
{
	static const unsigned char head[16] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00,
	    0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x12, 0x00, 0x0c };
	unsigned port = 20000 + i;

	memcpy(p, head, 16);
	p[16] = 198, p[17] = 51, p[18] = 100, p[19] = (unsigned char)(1 + i % 255);
	p[20] = 127, p[21] = 0, p[22] = 0, p[23] = 1;
	p[24] = (unsigned char)(port >> 8), p[25] = (unsigned char)port;
	p[26] = 0x20, p[27] = 0xfb;
	return 28 + (size_t)sprintf((char *)p + 28, "peer %u", i);
}

static int
run_peers(const struct sockaddr_storage *t, unsigned total, unsigned window)
{
	static unsigned char buf[DGRAM_MAX], pkt[128];
	struct sockaddr_storage from;
	unsigned i, k, ok = 0;

	for (i = 0; i < total; i += window) {
		int fds[1024];
		unsigned n = total - i < window ? total - i : window;

		for (k = 0; k < n; k++) {
			fds[k] = open_socket(t, NULL);
			send_to(fds[k], t, pkt, peer_datagram(pkt, i + k));
		}
		for (k = 0; k < n; k++) {
			ssize_t m = recv_reply(fds[k], buf, &from, timeout_ms);
			size_t want = peer_datagram(pkt, i + k) - 28;

			if (m == (ssize_t)want && memcmp(buf, pkt + 28, want) == 0)
				ok++;
			else {
				struct sockaddr_storage me;
				socklen_t ml = sizeof(me);
				char ms[ADDR_STRLEN];

				getsockname(fds[k], (struct sockaddr *)&me, &ml);
				addr_format(&me, ms, sizeof(ms));
				fprintf(stderr, "udp_client: peer %u from %s: no echo\n",
				    i + k, ms);
			}
			close(fds[k]);
		}
	}
	printf("ok=%u\n", ok);
	return ok == total ? 0 : 3;
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage target;
	const char *bind_to = NULL;
	unsigned burst = 0, peers = 0, window = 32;
	int i, expect = -1, fd;

	for (i = 1; i < argc - 1; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--from") == 0)
			print_from = 1;
		else if (i + 1 >= argc - 1)
			diex("an option lacks its value");
		else if (strcmp(a, "--bind") == 0)
			bind_to = argv[++i];
		else if (strcmp(a, "--hex") == 0)
			add_hex(argv[++i]);
		else if (strcmp(a, "--text") == 0)
			add_text(argv[++i]);
		else if (strcmp(a, "--expect") == 0)
			expect = atoi(argv[++i]);
		else if (strcmp(a, "--timeout-ms") == 0)
			timeout_ms = atoi(argv[++i]);
		else if (strcmp(a, "--burst") == 0)
			burst = (unsigned)atoi(argv[++i]);
		else if (strcmp(a, "--window") == 0)
			window = (unsigned)atoi(argv[++i]);
		else if (strcmp(a, "--peers") == 0)
			peers = (unsigned)atoi(argv[++i]);
		else if (strcmp(a, "--rcvbuf") == 0)
			rcvbuf = atoi(argv[++i]);
		else
			diex("unknown option");
	}
	if (argc < 2 || addr_parse_hostport(argv[argc - 1], &target) == -1)
		diex("usage: udp_client [options] ADDR:PORT");
	if (window == 0 || window > 1024)
		diex("--window: 1 to 1024");
	if (peers > 0)
		return run_peers(&target, peers, window);
	fd = open_socket(&target, bind_to);
	if (burst > 0) {
		if (ndgrams == 0)
			diex("--burst needs a --hex header");
		return run_burst(fd, &target, burst, window);
	}
	return run_plain(fd, &target, expect >= 0 ? expect : (int)ndgrams);
}
