/* One line per event on stderr, key=value, written with a single write(2). */
#ifndef MMPROXY_LOG_H
#define MMPROXY_LOG_H

#define LOG_ALWAYS	0	/* startup, shutdown, fatal errors */
#define LOG_ERRORS	1	/* per-connection errors and drops */
#define LOG_STATES	2	/* every state change of a connection */
/* (syslog.h's LOG_* priorities are different names: LOG_ERR, LOG_INFO...) */

#include <stdint.h>

/*
 * A bound on lines of one kind that a source can cause: LOG_LIMIT_LINES a
 * second, then one "suppressed" line with the count when the second is over.
 */
#define LOG_LIMIT_LINES	10

struct log_limit {
	const char	*what;		/* names the kind in the summary */
	int64_t		 window_ms;	/* start of the current second */
	unsigned	 lines;		/* logged in it */
	unsigned	 suppressed;	/* not logged in it */
};

int	log_limit_allow(struct log_limit *l);
void	log_limit_flush(struct log_limit *l);
int	log_limit_due_ms(const struct log_limit *l);

void	log_open(void);
int	log_is_syslog(void);
void	log_init(int verbose);
void	log_format(int json, int timestamps);
int	log_enabled(int level);
void	log_line(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_warning(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	usage_error(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
