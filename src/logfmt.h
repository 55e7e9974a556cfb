/* Log line formats: logfmt quoting, the JSON form of a line, timestamps. */
#ifndef MMPROXY_LOGFMT_H
#define MMPROXY_LOGFMT_H

#include <stddef.h>
#include <stdint.h>

/* Room for "2026-12-05T04:37:06.123Z" and a NUL. */
#define LOGFMT_TS_LEN	25

const char	*logfmt_quote(char *buf, size_t len, const char *s);
void		 logfmt_timestamp(char *buf, size_t len, int64_t ms);
size_t		 logfmt_to_json(const char *line, size_t n, const char *ts,
		    const char *level, char *out, size_t cap);

#endif
