/* Why a connection was dropped: one enum, one fixed word each, used by logs and tests. */
#ifndef MMPROXY_DROP_H
#define MMPROXY_DROP_H

#define DROP_REASONS(X)					\
	X(DROP_NOT_ALLOWED,	"not_allowed")		\
	X(DROP_HANDOFF_FAILED,	"handoff_failed")	\
	X(DROP_HEADER_TIMEOUT,	"header_timeout")	\
	X(DROP_HEADER_EOF,	"header_eof")		\
	X(DROP_READ_ERROR,	"read_error")		\
	X(DROP_NO_MEMORY,	"no_memory")		\
	X(DROP_DIAL_FAILED,	"dial_failed")		\
	X(DROP_DIAL_TIMEOUT,	"dial_timeout")		\
	X(DROP_POOL_FULL,	"pool_full")		\
	X(DROP_SOCKET_FAILED,	"socket_failed")	\
	X(DROP_TOO_MANY_FLOWS,	"too_many_flows")	\
	X(DROP_OVERSIZE,	"oversize")		\
	X(DROP_SEND_FAILED,	"send_failed")		\
	X(DROP_LOOPBACK_SOURCE,	"loopback_source")	\
	X(DROP_MISDELIVERED,	"misdelivered")		\
	X(DROP_NO_SESSION,	"no_session")		\
	X(DROP_DEST_NOT_ALLOWED, "destination_not_allowed")

#define DROP_ENUM(name, str) name,
enum drop_reason {
	DROP_REASONS(DROP_ENUM)
	DROP_REASON_COUNT
};
#undef DROP_ENUM

static inline const char *
drop_str(enum drop_reason why)
{
#define DROP_STR(name, str) case name: return str;
	switch (why) {
	DROP_REASONS(DROP_STR)
	case DROP_REASON_COUNT:
		break;
	}
#undef DROP_STR
	return "unknown";
}

#endif
