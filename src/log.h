/* One line per event on stderr, key=value, written with a single write(2). */
#ifndef MMPROXY_LOG_H
#define MMPROXY_LOG_H

#define LOG_ALWAYS	0	/* startup, shutdown, fatal errors */
#define LOG_ERRORS	1	/* per-connection errors and drops */
#define LOG_STATES	2	/* every state change of a connection */
/* (syslog.h's LOG_* priorities are different names: LOG_ERR, LOG_INFO...) */

void	log_open(void);
int	log_is_syslog(void);
void	log_init(int verbose);
int	log_enabled(int level);
void	log_line(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	usage_error(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
