/*
 * backend: the unmodified server behind mmproxy in tests and the demo.
 * Prints one line per connection event on stdout, naming the peer it saw:
 *   accept peer=IP:PORT
 *   close peer=IP:PORT in=N out=N
 *
 *   backend --listen ADDR:PORT [--mode echo|drain|hello] [--udp]
 *     echo   echo everything; on EOF, finish and half-close (default)
 *     drain  read to EOF, then answer "received N bytes\n" and close
 *     hello  answer "hello IP:PORT\n" (the peer it sees), then echo
 * One process per connection, so many connections are served at once.
 *
 * --udp: a UDP socket instead; one line per datagram,
 *   dgram peer=IP:PORT len=N data=TEXT   (the first 64 bytes, escaped)
 * and a reply to its sender: the same bytes (echo), or "hello IP:PORT "
 * and the same bytes (hello), or the same DNS message marked as a response
 * (dns: the QR bit set, so a DNS proxy accepts it).  drain answers nothing.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "backend: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One line, one write: lines from many children do not interleave. */
static void
say(const char *fmt, const char *peer, unsigned long long in,
    unsigned long long out)
{
	char line[256];
	int n = snprintf(line, sizeof(line), fmt, peer, in, out);

	write_all(STDOUT_FILENO, line, (size_t)n);
}

static void
serve(int fd, const char *mode, const char *peer)
{
	unsigned long long in = 0, out = 0;
	static char buf[65536];
	ssize_t n;

	say("accept peer=%s\n", peer, 0, 0);
	if (strcmp(mode, "hello") == 0) {
		char hello[128];
		int hl = snprintf(hello, sizeof(hello), "hello %s\n", peer);
		if (write_all(fd, hello, (size_t)hl) == 0)
			out += (unsigned long long)hl;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		in += (unsigned long long)n;
		if (strcmp(mode, "drain") != 0) {
			if (write_all(fd, buf, (size_t)n) == -1)
				break;
			out += (unsigned long long)n;
		}
	}
	if (strcmp(mode, "drain") == 0) {
		char msg[64];
		int ml = snprintf(msg, sizeof(msg), "received %llu bytes\n", in);
		if (write_all(fd, msg, (size_t)ml) == 0)
			out += (unsigned long long)ml;
	}
	shutdown(fd, SHUT_WR);
	say("close peer=%s in=%llu out=%llu\n", peer, in, out);
	close(fd);
}

static void __attribute__((noreturn))
serve_udp(const struct sockaddr_storage *ss, const char *mode)
{
	static char buf[65536], out[65536 + 128];
	int fd, big = 4 << 20;

	if ((fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (bind(fd, (const struct sockaddr *)ss, addr_len(ss)) == -1)
		die("bind");
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		char ps[80], line[256], text[4 * 64 + 1];
		size_t i, t = 0, ol = 0;
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0,
		    (struct sockaddr *)&peer, &pl);

		if (n == -1) {
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			die("recvfrom");
		}
		addr_format(&peer, ps, sizeof(ps));
		for (i = 0; i < (size_t)n && i < 64; i++)
			t += (size_t)(buf[i] > 0x20 && buf[i] < 0x7f ?
			    snprintf(text + t, 2, "%c", buf[i]) :
			    snprintf(text + t, 5, "\\x%02x", (unsigned char)buf[i]));
		text[t] = '\0';
		write_all(STDOUT_FILENO, line, (size_t)snprintf(line, sizeof(line),
		    "dgram peer=%s len=%zd data=%s\n", ps, n, text));
		if (strcmp(mode, "drain") == 0)
			continue;
		if (strcmp(mode, "hello") == 0)
			ol = (size_t)snprintf(out, 128, "hello %s ", ps);
		memcpy(out + ol, buf, (size_t)n);
		if (strcmp(mode, "dns") == 0 && n > 2)
			out[2] |= (char)0x80;
		(void)sendto(fd, out, ol + (size_t)n, 0, (struct sockaddr *)&peer, pl);
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	const char *listen_at = NULL, *mode = "echo";
	int i, lfd, one = 1, udp = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--udp") == 0)
			udp = 1;
		else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen_at = argv[++i];
		else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc)
			mode = argv[++i];
	}
	if (listen_at == NULL) {
		fprintf(stderr, "usage: backend --listen ADDR:PORT [--mode echo|drain|hello]\n");
		return 2;
	}
	if (addr_parse_hostport(listen_at, &ss) == -1) {
		fprintf(stderr, "backend: bad address %s\n", listen_at);
		return 2;
	}
	if (udp)
		serve_udp(&ss, mode);
	signal(SIGCHLD, SIG_IGN);	/* children reap themselves */
	signal(SIGPIPE, SIG_IGN);
	if ((lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, addr_len(&ss)) == -1 || listen(lfd, 1024) == -1)
		die("listen");
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		char ps[80];
		int fd = accept4(lfd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		addr_format(&peer, ps, sizeof(ps));
		switch (fork()) {
		case -1:
			die("fork");
		case 0:
			close(lfd);
			serve(fd, mode, ps);
			_exit(0);
		default:
			close(fd);
		}
	}
}
