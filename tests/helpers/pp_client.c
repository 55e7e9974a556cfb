/*
 * pp_client: the load balancer's side in tests.  Connects to mmproxy and
 * sends pieces of bytes (hex or escaped text), each piece its own write,
 * then optionally a bulk stream, a half-close, and reads the answer.
 *
 *   pp_client [options] ADDR:PORT
 *     --hex HEX        a piece given in hex; spaces are ignored
 *     --text TEXT      a piece with \r \n \\ \xNN escapes
 *     --zeros N        a piece of N zero bytes (too long for an argument)
 *     --bytewise       write every byte of every piece on its own
 *     --pause-ms N     pause between writes (default 20 when splitting)
 *     --bulk BYTES     then stream BYTES of pseudo-random data while reading
 *                      the echo; prints sent/recv counts and checksums
 *     --shut           shutdown(SHUT_WR) after sending
 *     --reset          after sending (and holding), close with a reset
 *     --read           read until EOF and print what came back
 *     --hold-ms N      keep the connection open N ms before reading
 *     --timeout-ms N   give up reading after N ms (default 30000): exit 3
 *     --bind IP        connect from this source address
 *     --repeat N       send the pieces on N connections, one after another,
 *                      each read to EOF (a flood of bad headers); prints
 *                      closed=N.  With --reset: each read until its first
 *                      byte comes back, then reset; prints reset=N
 *     --parallel N     open N connections, each with a v1 header from
 *                      --src IP and source port --port-base + i, then
 *                      check every echo; prints ok=N
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "bytes.h"

#define MAX_PIECES	64
#define PIECE_MAX	70000

struct piece {
	unsigned char	*b;
	size_t		 n;
};

static struct piece pieces[MAX_PIECES];
static size_t npieces;

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "pp_client: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void __attribute__((noreturn))
diex(const char *what)
{
	fprintf(stderr, "pp_client: %s\n", what);
	exit(1);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static struct piece *
new_piece(void)
{
	if (npieces == MAX_PIECES)
		diex("too many pieces");
	pieces[npieces].b = malloc(PIECE_MAX);
	if (pieces[npieces].b == NULL)
		die("malloc");
	pieces[npieces].n = 0;
	return &pieces[npieces++];
}

static void
add_hex(const char *s)
{
	struct piece *p = new_piece();
	const char *why = bytes_hex(s, p->b, PIECE_MAX, &p->n);

	if (why != NULL)
		diex(why);
}

static void
add_text(const char *s)
{
	struct piece *p = new_piece();
	const char *why = bytes_text(s, p->b, PIECE_MAX, &p->n);

	if (why != NULL)
		diex(why);
}

static void
add_zeros(size_t n)
{
	struct piece *p = new_piece();

	if (n > PIECE_MAX)
		diex("piece too long");
	memset(p->b, 0, n);
	p->n = n;
}

static const char *bind_ip;

static int
dial(const struct sockaddr_storage *ss)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd == -1)
		die("socket");
	if (bind_ip != NULL) {
		struct sockaddr_storage b;

		if (addr_parse_ip(bind_ip, strlen(bind_ip), &b) == -1)
			diex("bad --bind address");
		if (bind(fd, (struct sockaddr *)&b, addr_len(&b)) == -1)
			die("bind");
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)ss, addr_len(ss)) == -1)
		die("connect");
	return fd;
}

static void
write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			die("write");
		p += w;
		n -= (size_t)w;
	}
}

static void
send_pieces(int fd, int bytewise, int pause)
{
	size_t i, j;

	for (i = 0; i < npieces; i++) {
		if (i > 0 && pause > 0)
			pause_ms(pause);
		if (!bytewise) {
			write_all(fd, pieces[i].b, pieces[i].n);
			continue;
		}
		for (j = 0; j < pieces[i].n; j++) {
			if (j > 0 && pause > 0)
				pause_ms(pause);
			write_all(fd, pieces[i].b + j, 1);
		}
	}
}

/* Read to EOF onto stdout.  Returns 0, 3 on timeout, 4 on a reset. */
static int
read_to_eof(int fd, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	unsigned char buf[65536];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			return 3;
		n = read(fd, buf, sizeof(buf));
		if (n == 0)
			return 0;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == ECONNRESET)
			return 4;
		if (n == -1)
			die("read");
		fwrite(buf, 1, (size_t)n, stdout);
		fflush(stdout);
	}
}

/* xorshift: the same stream every run, cheap to check on both ends. */
static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* FNV-1a over a stream, fed in pieces. */
static uint64_t
fnv(uint64_t h, const unsigned char *p, size_t n)
{
	while (n-- > 0)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

/* Stream total bytes out while reading the echo back; then half-close. */
static int
bulk(int fd, uint64_t total, int timeout_ms)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL, sent = 0, recvd = 0;
	uint64_t hs = 0xcbf29ce484222325ULL, hr = hs;
	unsigned char out[65536], in[65536];
	size_t out_len = 0, out_off = 0;
	int64_t deadline = now_ms() + timeout_ms;
	int shut = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (out_off == out_len && sent < total) {
			size_t i, want = total - sent < sizeof(out) ?
			    (size_t)(total - sent) : sizeof(out);
			for (i = 0; i < want; i++)
				out[i] = (unsigned char)next_rand(&seed);
			hs = fnv(hs, out, want);
			out_len = want;
			out_off = 0;
		}
		if (out_off < out_len)
			p.events |= POLLOUT;
		else if (!shut) {
			shutdown(fd, SHUT_WR);
			shut = 1;
		}
		if (now_ms() > deadline || poll(&p, 1, 1000) == -1)
			return 3;
		if (p.revents & POLLOUT) {
			n = send(fd, out + out_off, out_len - out_off, MSG_DONTWAIT);
			if (n > 0) {
				out_off += (size_t)n;
				sent += (uint64_t)n;
			}
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, in, sizeof(in), MSG_DONTWAIT);
			if (n == 0)
				break;
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				die("recv");
			if (n > 0) {
				hr = fnv(hr, in, (size_t)n);
				recvd += (uint64_t)n;
			}
		}
	}
	printf("sent=%llu sent_sum=%016llx recv=%llu recv_sum=%016llx\n",
	    (unsigned long long)sent, (unsigned long long)hs,
	    (unsigned long long)recvd, (unsigned long long)hr);
	return 0;
}

/* N connections at once, each with its own source port, each echoed. */
static int
parallel(const struct sockaddr_storage *ss, int n,
    const char *src, int port_base, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int *fds = calloc((size_t)n, sizeof(int)), i, ok = 0;
	size_t *got = calloc((size_t)n, sizeof(size_t));
	char (*want)[64] = calloc((size_t)n, 64);
	struct pollfd *p = calloc((size_t)n, sizeof(*p));

	if (fds == NULL || got == NULL || want == NULL || p == NULL)
		die("calloc");
	for (i = 0; i < n; i++)
		fds[i] = dial(ss);
	for (i = 0; i < n; i++) {
		char hdr[160];
		int hl = snprintf(hdr, sizeof(hdr), "PROXY TCP4 %s 127.0.0.1 %d "
		    "443\r\n", src, port_base + i);
		snprintf(want[i], 64, "hello from %d\n", i);
		write_all(fds[i], (unsigned char *)hdr, (size_t)hl);
		write_all(fds[i], (unsigned char *)want[i], strlen(want[i]));
	}
	while (ok < n && now_ms() < deadline) {
		for (i = 0; i < n; i++)
			p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		if (poll(p, (nfds_t)n, 1000) == -1)
			die("poll");
		for (i = 0; i < n; i++) {
			char buf[64];
			ssize_t r;
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(fds[i], buf, sizeof(buf));
			if (r <= 0 || got[i] + (size_t)r > strlen(want[i]) ||
			    memcmp(buf, want[i] + got[i], (size_t)r) != 0) {
				fprintf(stderr, "pp_client: connection %d: bad echo\n", i);
				exit(1);
			}
			got[i] += (size_t)r;
			if (got[i] == strlen(want[i])) {
				ok++;
				p[i].fd = -1;
				close(fds[i]);
				fds[i] = -1;
			}
		}
	}
	printf("ok=%d\n", ok);
	for (i = 0; i < n; i++)
		if (fds[i] != -1)
			close(fds[i]);
	free(fds);
	free(got);
	free(want);
	free(p);
	return ok == n ? 0 : 1;
}

/* Close fd with a reset, not a FIN. */
static void
close_reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* Wait (timeout ms at most) for a byte on fd.  Returns 1 if one came. */
static int
read_one(int fd, int timeout)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&p, 1, timeout) == 1 && read(fd, &c, 1) == 1;
}

/*
 * The pieces on n connections in turn, each read until mmproxy closes it;
 * reset: each read until the first byte of its echo, then reset.
 */
static int
repeat(const struct sockaddr_storage *ss, int n, int timeout, int reset)
{
	int i, closed = 0;

	for (i = 0; i < n; i++) {
		int fd = dial(ss);

		send_pieces(fd, 0, 0);
		if (reset) {
			closed += read_one(fd, timeout);
			close_reset(fd);
			continue;
		}
		shutdown(fd, SHUT_WR);
		/* EOF, or a reset: mmproxy closed it either way. */
		int r = read_to_eof(fd, timeout);
		if (r == 0 || r == 4)
			closed++;
		close(fd);
	}
	printf("%s=%d\n", reset ? "reset" : "closed", closed);
	return closed == n ? 0 : 3;
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	int i, fd, bytewise = 0, pause = -1, shut = 0, rd = 0, hold = 0;
	int timeout = 30000, npar = 0, port_base = 20000, rc = 0, reset = 0;
	int nrep = 0;
	unsigned long long bulk_bytes = 0;
	const char *src = "198.51.100.1";

	for (i = 1; i < argc - 1; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--hex") == 0)
			add_hex(argv[++i]);
		else if (strcmp(a, "--text") == 0)
			add_text(argv[++i]);
		else if (strcmp(a, "--zeros") == 0)
			add_zeros(strtoul(argv[++i], NULL, 10));
		else if (strcmp(a, "--bytewise") == 0)
			bytewise = 1;
		else if (strcmp(a, "--pause-ms") == 0)
			pause = atoi(argv[++i]);
		else if (strcmp(a, "--bulk") == 0)
			bulk_bytes = strtoull(argv[++i], NULL, 10);
		else if (strcmp(a, "--reset") == 0)
			reset = 1;
		else if (strcmp(a, "--shut") == 0)
			shut = 1;
		else if (strcmp(a, "--read") == 0)
			rd = 1;
		else if (strcmp(a, "--hold-ms") == 0)
			hold = atoi(argv[++i]);
		else if (strcmp(a, "--timeout-ms") == 0)
			timeout = atoi(argv[++i]);
		else if (strcmp(a, "--parallel") == 0)
			npar = atoi(argv[++i]);
		else if (strcmp(a, "--repeat") == 0)
			nrep = atoi(argv[++i]);
		else if (strcmp(a, "--bind") == 0)
			bind_ip = argv[++i];
		else if (strcmp(a, "--src") == 0)
			src = argv[++i];
		else if (strcmp(a, "--port-base") == 0)
			port_base = atoi(argv[++i]);
		else
			diex("unknown option");
	}
	if (argc < 2 || addr_parse_hostport(argv[argc - 1], &ss) == -1)
		diex("usage: pp_client [options] ADDR:PORT");
	if (npar > 0)
		return parallel(&ss, npar, src, port_base, timeout);
	if (nrep > 0)
		return repeat(&ss, nrep, timeout, reset);
	if (pause < 0)
		pause = bytewise || npieces > 1 ? 20 : 0;
	fd = dial(&ss);
	send_pieces(fd, bytewise, pause);
	if (hold > 0)
		pause_ms(hold);
	if (bulk_bytes > 0)
		return bulk(fd, bulk_bytes, timeout);
	if (reset) {
		close_reset(fd);
		return 0;
	}
	if (shut)
		shutdown(fd, SHUT_WR);
	if (rd)
		rc = read_to_eof(fd, timeout);
	close(fd);
	return rc;
}
