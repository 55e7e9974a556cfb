/*
 * Logging.  Every event is one line, built in a local buffer and written
 * with one write(2) so lines from many workers sharing stderr never
 * interleave.  The level is set once before any fork and only read after.
 * It never blocks the caller on a reader and never changes errno.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "logfmt.h"

#define LOG_LINE_MAX	1024
#define LOG_JSON_MAX	(2 * LOG_LINE_MAX + 128)

static int log_verbose;
static int log_to_syslog;
static int log_json;		/* -log-format json */
static int log_time;		/* -log-time */

/*
 * Choose where lines go, before anything is printed.  Under xinetd, fds 0,
 * 1 and 2 are all the client's socket (HAZARDS 10): a line on stderr would
 * go to the peer.  When stderr is a network socket, log to syslog(3).
 * journald's stderr is a unix socket and s6-log's a pipe: those stay.
 */
void
log_open(void)
{
	int domain = -1;
	socklen_t len = sizeof(domain);

	if (getsockopt(STDERR_FILENO, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
	    (domain == AF_INET || domain == AF_INET6)) {
		openlog("mmproxy", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_to_syslog = 1;
	}
}

int
log_is_syslog(void)
{
	return log_to_syslog;
}

void
log_init(int verbose)
{
	log_verbose = verbose;
}

/* -log-format json, -log-time: set once, before any fork, like the level. */
void
log_format(int json, int timestamps)
{
	log_json = json;
	log_time = timestamps;
}

int
log_enabled(int level)
{
	return level <= log_verbose;
}

/* How much of an snprintf result landed in a buffer of room bytes. */
static size_t
written(int m, size_t room)
{
	if (m < 0 || room == 0)
		return 0;
	if ((size_t)m >= room)
		return room - 1;
	return (size_t)m;
}

/* The JSON level of a syslog priority (an event named warning: warn). */
static const char *
json_level(int prio, const char *line)
{
	if (prio == LOG_ERR)
		return "error";
	if (prio == LOG_WARNING || strncmp(line, "warning ", 8) == 0)
		return "warn";
	return prio == LOG_INFO ? "debug" : "info";
}

/*
 * The line as written to stderr: as built, with " ts=..." after its event
 * word (-log-time), or as JSON (-log-format json).  Returns its length in
 * out, without the newline (room is left for one).
 */
static size_t
log_render(int prio, char *line, size_t len, char *out, size_t cap)
{
	char ts[LOGFMT_TS_LEN];
	struct timespec now;
	size_t ev;

	if (!log_json && !log_time) {
		memcpy(out, line, len);
		return len;
	}
	if (clock_gettime(CLOCK_REALTIME, &now) == -1)
		memset(&now, 0, sizeof(now));
	logfmt_timestamp(ts, sizeof(ts), (int64_t)now.tv_sec * 1000 +
	    now.tv_nsec / 1000000);
	line[len] = '\0';
	if (log_json)
		return logfmt_to_json(line, len, ts, json_level(prio, line), out,
		    cap - 1);
	ev = strcspn(line, " ");
	return written(snprintf(out, cap - 1, "%.*s ts=%s%s", (int)ev, line, ts,
	    line + ev), cap - 1);
}

static void
log_vwrite(int prio, const char *prefix, const char *fmt, va_list ap,
    const char *suffix)
{
	char line[LOG_LINE_MAX + 1];	/* one more for the newline */
	char out[LOG_JSON_MAX + 1];
	size_t len = 0;
	ssize_t w;

	len += written(snprintf(line, LOG_LINE_MAX, "%s", prefix), LOG_LINE_MAX);
	len += written(vsnprintf(line + len, LOG_LINE_MAX - len, fmt, ap),
	    LOG_LINE_MAX - len);
	len += written(snprintf(line + len, LOG_LINE_MAX - len, "%s", suffix),
	    LOG_LINE_MAX - len);
	if (log_to_syslog) {
		line[len] = '\0';
		syslog(prio, "%s", line);
		return;
	}
	len = log_render(prio, line, len, out, sizeof(out));
	out[len++] = '\n';
	/* A log line must not be lost to a signal. */
	do {
		w = write(STDERR_FILENO, out, len);
	} while (w == -1 && errno == EINTR);
}

void
log_line(int level, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vwrite(level == LOG_ALWAYS ? LOG_NOTICE : level == LOG_ERRORS ?
	    LOG_WARNING : LOG_INFO, "", fmt, ap, "");
	va_end(ap);
	errno = saved;
}

/*
 * One warning for the operator, always logged: the event `warning` with
 * the text as its msg, quoted (logfmt), so that parsers read it whole.
 */
void
log_warning(const char *fmt, ...)
{
	char text[LOG_LINE_MAX], q[LOG_LINE_MAX];
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_line(LOG_ALWAYS, "warning msg=%s", logfmt_quote(q, sizeof(q),
	    text));
	errno = saved;
}

/* The summary of a finished second with suppressed lines, if any. */
void
log_limit_flush(struct log_limit *l)
{
	if (l->suppressed == 0 || now_ms() - l->window_ms < 1000)
		return;
	log_line(LOG_ERRORS, "suppressed what=%s count=%u seconds=1", l->what,
	    l->suppressed);
	l->suppressed = 0;
}

/*
 * A poll(2) timeout for the summary: ms until the second with suppressed
 * lines is over (0: now), or -1 when none is owed.
 */
int
log_limit_due_ms(const struct log_limit *l)
{
	if (l->suppressed == 0)
		return -1;
	return ms_until(l->window_ms + 1000);
}

/*
 * May one more line of this kind be logged now?  Returns 1 (and counts
 * it), or 0 (counted as suppressed).  Only at -v 1 and above.
 */
int
log_limit_allow(struct log_limit *l)
{
	int64_t now = now_ms();

	if (!log_enabled(LOG_ERRORS))
		return 0;
	if (now - l->window_ms >= 1000) {
		log_limit_flush(l);
		l->window_ms = now;
		l->lines = 0;
	}
	if (l->lines < LOG_LIMIT_LINES) {
		l->lines++;
		return 1;
	}
	l->suppressed++;
	return 0;
}

void
fatal(const char *fmt, ...)
{
	char suffix[128];
	va_list ap;

	snprintf(suffix, sizeof(suffix), ": %s", strerror(errno));
	va_start(ap, fmt);
	log_vwrite(LOG_ERR, "mmproxy: ", fmt, ap, suffix);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, "mmproxy: ", fmt, ap, "");
	va_end(ap);
	exit(1);
}

void
usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, "mmproxy: ", fmt, ap, " (see mmproxy -h)");
	va_end(ap);
	exit(2);
}
