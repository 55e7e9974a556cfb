/*
 * One TCP connection in a worker, the twin of udp_flow.c: read the PROXY
 * header within the deadline (absolute, from accept), dial the backend
 * from the client's address with a socket the supervisor binds and
 * connects (dial_channel.c), relay, and log how it ended.  Whatever the
 * client does can only end this connection.  It never makes, binds or
 * connects a socket, and touches the worker's channel only through
 * dial_ask (but for the test-only trigger build, which plays a hijacked
 * worker).
 */
#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "dial.h"
#include "drop.h"
#include "io.h"
#include "log.h"
#include "proctitle.h"
#include "proxy_protocol.h"
#include "relay.h"
#include "tcp_conn.h"

#define HEADER_SMALL	256	/* any v1 header and most v2 ones */

struct conn {
	uint32_t		 id;
	int			 client;
	struct sockaddr_storage	 peer;		/* unmapped */
	char			 peer_s[ADDR_STRLEN];
	char			 src_s[ADDR_STRLEN];
	char			 target_s[ADDR_STRLEN];
	int			 check;		/* LOCAL, UNKNOWN: a health check */
	int64_t			 accepted_ms;	/* monotonic, for duration= */
};

/* The header as it arrives: on the stack, unless a large v2 one comes. */
struct header_buf {
	uint8_t		 small[HEADER_SMALL];
	uint8_t		*p;
	size_t		 cap;
	size_t		 len;
};

/* This process's lines that a client can cause at -v 1: a flood of bad
 * clients cannot flood the log. */
static struct log_limit drop_limit = { .what = "drop" };
static struct log_limit close_limit = { .what = "close" };
static struct log_limit connect_limit = { .what = "connect" };

/* When a summary of suppressed lines is due (ms), or -1. */
int
tcp_conn_summary_due_ms(void)
{
	return timeout_min(log_limit_due_ms(&drop_limit),
	    timeout_min(log_limit_due_ms(&close_limit),
	    log_limit_due_ms(&connect_limit)));
}

void
tcp_conn_summary_flush(void)
{
	log_limit_flush(&drop_limit);
	log_limit_flush(&close_limit);
	log_limit_flush(&connect_limit);
}

static void
conn_drop(const struct conn *c, const char *reason, int err)
{
	if (!log_limit_allow(&drop_limit))
		return;
	if (err != 0)
		log_line(LOG_ERRORS, "drop id=%u peer=%s src=%s target=%s "
		    "reason=%s error=\"%s\"", c->id, c->peer_s, c->src_s,
		    c->target_s, reason, strerror(err));
	else
		log_line(LOG_ERRORS, "drop id=%u peer=%s src=%s target=%s "
		    "reason=%s", c->id, c->peer_s, c->src_s, c->target_s, reason);
}

/*
 * Forget what b held, and free it if it was not the stack's: a header, its
 * TLVs and the payload read with it are the client's, and a worker serves
 * later clients, who must find nothing of it (relay.c wipes its copy
 * buffers likewise).
 */
static void
header_wipe(struct header_buf *b)
{
	explicit_bzero(b->p, b->len < b->cap ? b->len : b->cap);
	if (b->p != b->small)
		free(b->p);
	b->p = b->small;
	b->cap = sizeof(b->small);
	b->len = 0;
}

/* Make room for need bytes.  Returns 0, or -1. */
static int
header_grow(struct header_buf *b, size_t need)
{
	size_t len = b->len;
	uint8_t *p;

	if (need <= b->cap)
		return 0;
	if ((p = malloc(need)) == NULL)
		return -1;
	memcpy(p, b->p, len);
	header_wipe(b);
	b->p = p;
	b->cap = need;
	b->len = len;
	return 0;
}

/*
 * Read until a complete header has arrived, the deadline (absolute, from
 * accept) passes, or the bytes cannot become a header.  Bytes after the
 * header stay in b: they are payload.  Reads before it polls: the header
 * is usually there by the time the worker has the connection.
 * Returns 0, or -1 (dropped, logged).
 */
static int
header_read(struct conn *c, struct header_buf *b, int64_t deadline,
    struct pp_header *hdr)
{
	enum pp_reason why;
	ssize_t n;

	for (;;) {
		struct pollfd pfd = { .fd = c->client, .events = POLLIN };
		enum pp_status st = pp_parse(b->p, b->len, PP_STREAM, hdr, &why);

		if (st == PP_OK)
			return 0;
		if (st == PP_INVALID) {
			conn_drop(c, pp_reason_str(why), 0);
			return -1;
		}
		/* Checked here too: a trickle of bytes never makes poll wait. */
		if (ms_until(deadline) == 0) {
			conn_drop(c, drop_str(DROP_HEADER_TIMEOUT), 0);
			return -1;
		}
		if (header_grow(b, hdr->need) == -1) {
			conn_drop(c, drop_str(DROP_NO_MEMORY), 0);
			return -1;
		}
		n = read(c->client, b->p + b->len, b->cap - b->len);
		if (n > 0) {
			b->len += (size_t)n;
			continue;
		}
		if (n == 0) {
			conn_drop(c, drop_str(DROP_HEADER_EOF), 0);
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			conn_drop(c, drop_str(DROP_READ_ERROR), errno);
			return -1;
		}
		n = poll(&pfd, 1, ms_until(deadline));
		if (n == -1 && errno != EINTR) {
			conn_drop(c, drop_str(DROP_READ_ERROR), errno);
			return -1;
		}
	}
}

static void
log_header(const struct conn *c, const struct pp_header *hdr)
{
	char dst[ADDR_STRLEN];

	if (!log_enabled(LOG_STATES))
		return;
	if (hdr->real_endpoints) {
		log_line(LOG_STATES, "header id=%u peer=%s version=%u "
		    "addresses=none", c->id, c->peer_s, hdr->version);
		return;
	}
	addr_format(&hdr->dst, dst, sizeof(dst));
	log_line(LOG_STATES, "header id=%u peer=%s version=%u src=%s dst=%s",
	    c->id, c->peer_s, hdr->version, c->src_s, dst);
}

/*
 * The backend: -4 or -6 by the (unmapped) PROXY source's family; for the
 * real-endpoint cases (LOCAL, UNKNOWN, UNSPEC) by the accepted peer's.
 */
static const struct sockaddr_storage *
choose_target(const struct options *opt, const struct conn *c,
    const struct pp_header *hdr)
{
	int fam = hdr->real_endpoints ? c->peer.ss_family : hdr->src.ss_family;

	/* -dynamic-destination: the header's, which the supervisor checks. */
	if (opt->dynamic_destination && !hdr->real_endpoints)
		return &hdr->dst;
	return fam == AF_INET ? &opt->target4 : &opt->target6;
}

static void
log_close(const struct conn *c, int rc, const struct relay_result *res)
{
	const char *how = res->spliced ? "splice" : "copy";
	/* HAProxy ends a health check (a LOCAL header) with a reset: that
	 * is how checks end, not an error, and at -v 1 it would be a line
	 * every check interval per balancer. */
	int check_reset = rc != 0 && c->check && res->error == ECONNRESET &&
	    res->side != NULL && strcmp(res->side, "client") == 0;
	int64_t ms = now_ms() - c->accepted_ms;

	if (ms < 0)
		ms = 0;
	if (rc == 0 || res->idle || check_reset)
		log_line(LOG_STATES, "close id=%u peer=%s src=%s target=%s "
		    "duration=%lld.%03lld relay=%s up=%llu down=%llu end=%s",
		    c->id, c->peer_s, c->src_s, c->target_s,
		    (long long)(ms / 1000), (long long)(ms % 1000), how,
		    (unsigned long long)res->up, (unsigned long long)res->down,
		    rc == 0 ? "eof" : res->idle ? "idle" : "check_reset");
	else if (log_limit_allow(&close_limit))
		log_line(LOG_ERRORS, "close id=%u peer=%s src=%s target=%s "
		    "duration=%lld.%03lld relay=%s up=%llu down=%llu end=error "
		    "side=%s error=\"%s\"", c->id, c->peer_s, c->src_s,
		    c->target_s, (long long)(ms / 1000), (long long)(ms % 1000),
		    how, (unsigned long long)res->up,
		    (unsigned long long)res->down, res->side, strerror(res->error));
}

/* ps: this worker's client (or its balancer, for a health check) and target. */
static void
conn_title(const struct conn *c, const struct pp_header *hdr,
    const struct sockaddr_storage *target)
{
	char who[ADDR_STRLEN], to[ADDR_STRLEN];

	addr_format(hdr->real_endpoints ? &c->peer : &hdr->src, who,
	    sizeof(who));
	addr_format(target, to, sizeof(to));
	proctitle_set("mmproxy: %s%s -> %s", who, hdr->real_endpoints ?
	    " (local)" : "", to);
}

/* peer: the client's address if the caller has it, or NULL. */
static void
conn_init(struct conn *c, int client, uint32_t id,
    const struct sockaddr_storage *peer)
{
	socklen_t len = sizeof(c->peer);

	memset(c, 0, sizeof(*c));
	c->id = id;
	c->client = client;
	if (peer != NULL && (peer->ss_family == AF_INET ||
	    peer->ss_family == AF_INET6))
		c->peer = *peer;
	else if (getpeername(client, (struct sockaddr *)&c->peer, &len) == -1)
		c->peer.ss_family = AF_UNSPEC;
	addr_unmap(&c->peer);
	strcpy(c->peer_s, "-");
	strcpy(c->src_s, "-");
	strcpy(c->target_s, "-");
	/* The strings are only for the log: -v 0 logs nothing per connection. */
	if (log_enabled(LOG_ERRORS))
		addr_format(&c->peer, c->peer_s, sizeof(c->peer_s));
}

#ifdef MMPROXY_TEST_TRIGGER
#include "test_trigger.h"
#endif

static void
log_connect(const struct conn *c, const char *port_lost)
{
	if (port_lost != NULL) {
		if (log_limit_allow(&connect_limit))
			log_line(LOG_ERRORS, "connect id=%u peer=%s src=%s "
			    "target=%s source_port=ephemeral reason=%s", c->id,
			    c->peer_s, c->src_s, c->target_s, port_lost);
	} else
		log_line(LOG_STATES, "connect id=%u peer=%s src=%s target=%s",
		    c->id, c->peer_s, c->src_s, c->target_s);
}

/*
 * The upstream connection: a socket of target's family, bound to the
 * client's address and connecting, asked of the supervisor (da), then
 * waited for until -dial-timeout.
 * Returns it, or -1 (dropped and logged: the backend could not be had).
 */
static int
conn_dial(const struct options *opt, struct conn *c, struct dial_asker *da,
    const struct sockaddr_storage *target, const struct pp_header *hdr)
{
	int64_t deadline = now_ms() + (int64_t)opt->dial_timeout * 1000;
	uint8_t port_lost;
	int up, no_socket, dynamic = target == &hdr->dst;

	/* A destination of another family than the source's cannot be
	 * dialled from it. */
	if (dynamic && target->ss_family != hdr->src.ss_family) {
		conn_drop(c, drop_str(DROP_DEST_NOT_ALLOWED), 0);
		return -1;
	}
	up = dial_ask(da, target->ss_family,
	    hdr->real_endpoints ? NULL : &hdr->src, dynamic ? target : NULL,
	    &port_lost, &no_socket);
	if (up == -1 && no_socket) {
		conn_drop(c, drop_str(DROP_SOCKET_FAILED), errno);
		return -1;
	}
	if (up == -1 && dynamic && errno == EACCES) {
		conn_drop(c, drop_str(DROP_DEST_NOT_ALLOWED), 0);
		return -1;
	}
	if (up == -1 || dial_wait_connected(up, deadline) == -1) {
		conn_drop(c, drop_str(errno == ETIMEDOUT ? DROP_DIAL_TIMEOUT :
		    DROP_DIAL_FAILED), errno);
		if (up != -1)
			close(up);
		return -1;
	}
	log_connect(c, dial_port_lost_str(port_lost));
	return up;
}

/*
 * Serve one accepted connection (non-blocking): header, dial, relay.
 * Closes client.  peer: its address if known (NULL: ask the socket).
 * The upstream socket is asked of the supervisor, on da.
 * Every way it can end is logged; none of them is fatal to the process.
 * Returns how it ended.
 */
enum serve_result
tcp_conn_serve(const struct options *opt, int client, uint32_t id,
    const struct sockaddr_storage *peer, int64_t accepted_ms,
    struct dial_asker *da)
{
	enum serve_result result = SERVE_DROPPED;
	const struct sockaddr_storage *target;
	struct header_buf b = { .cap = HEADER_SMALL };
	struct relay_result res;
	struct pp_header hdr;
	struct conn c;
	int up, rc;

	b.p = b.small;
	conn_init(&c, client, id, peer);
	if (header_read(&c, &b,
	    accepted_ms + (int64_t)opt->header_timeout * 1000, &hdr) == -1)
		goto out;
#ifdef MMPROXY_TEST_TRIGGER
	test_trigger_tcp(b.p + hdr.len, b.len - hdr.len, client, da);
#endif
	c.check = hdr.real_endpoints;
	c.accepted_ms = accepted_ms;
	target = choose_target(opt, &c, &hdr);
	conn_title(&c, &hdr, target);
	if (log_enabled(LOG_ERRORS)) {
		if (!hdr.real_endpoints)
			addr_format(&hdr.src, c.src_s, sizeof(c.src_s));
		addr_format(target, c.target_s, sizeof(c.target_s));
	}
	log_header(&c, &hdr);
	if (!hdr.real_endpoints && addr_loopback_claimed(&hdr.src, &c.peer)) {
		conn_drop(&c, drop_str(DROP_LOOPBACK_SOURCE), 0);
		goto out;
	}
	if ((up = conn_dial(opt, &c, da, target, &hdr)) == -1) {
		result = SERVE_UPSTREAM_FAILED;
		goto out;
	}
	rc = relay_run(client, up, b.p + hdr.len, b.len - hdr.len,
	    opt->relay_splice, opt->spin, opt->idle_timeout, &res);
	log_close(&c, rc, &res);
	close(up);
	result = SERVE_RELAYED;
out:
	header_wipe(&b);
	close(client);
	return result;
}
