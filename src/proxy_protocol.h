/*
 * The PROXY protocol parser, v1 and v2.  Pure: bytes in, a verdict out,
 * no I/O and no allocation.
 */
#ifndef MMPROXY_PROXY_PROTOCOL_H
#define MMPROXY_PROXY_PROTOCOL_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#define PP_V1_MAX	107		/* bytes, CRLF included */
#define PP_V2_MAX	(16 + 65535)
#define PP_SPP_LEN	38		/* Simple Proxy Protocol header */

enum pp_transport {
	PP_STREAM = 1,			/* a -p tcp listener */
	PP_DGRAM = 2,			/* a -p udp listener */
};

enum pp_status {
	PP_OK,
	PP_NEED_MORE,
	PP_INVALID,
};

#define PP_REASONS(X)						\
	X(PP_R_NONE,		"none")				\
	X(PP_R_BAD_SIGNATURE,	"bad_signature")		\
	X(PP_R_V1_TOO_LONG,	"v1_too_long")			\
	X(PP_R_V1_BAD_CHAR,	"v1_bad_char")			\
	X(PP_R_V1_BAD_CRLF,	"v1_bad_crlf")			\
	X(PP_R_V1_BAD_PROTO,	"v1_bad_proto")			\
	X(PP_R_V1_BAD_FIELDS,	"v1_bad_fields")		\
	X(PP_R_V1_BAD_ADDR,	"v1_bad_addr")			\
	X(PP_R_V1_BAD_PORT,	"v1_bad_port")			\
	X(PP_R_V1_ON_DGRAM,	"v1_on_udp")			\
	X(PP_R_V2_BAD_VERSION,	"v2_bad_version")		\
	X(PP_R_V2_BAD_COMMAND,	"v2_bad_command")		\
	X(PP_R_V2_BAD_FAMILY,	"v2_bad_family")		\
	X(PP_R_V2_BAD_TRANSPORT, "v2_bad_transport")		\
	X(PP_R_WRONG_TRANSPORT,	"wrong_transport")		\
	X(PP_R_SHORT_ADDR,	"short_addr")			\
	X(PP_R_TLV_TRUNCATED,	"tlv_truncated")		\
	X(PP_R_CRC_LENGTH,	"crc32c_bad_length")		\
	X(PP_R_CRC_MISMATCH,	"crc32c_mismatch")		\
	X(PP_R_UNIQUE_ID_LONG,	"unique_id_too_long")		\
	X(PP_R_SSL_SHORT,	"ssl_too_short")		\
	X(PP_R_SSL_TRUNCATED,	"ssl_sub_tlv_truncated")	\
	X(PP_R_BAD_SOURCE,	"bad_source")			\
	X(PP_R_TRUNCATED,	"truncated")			\
	X(PP_R_SPP_SHORT,	"spp_short")			\
	X(PP_R_SPP_BAD_MAGIC,	"spp_bad_magic")

#define PP_REASON_ENUM(name, str) name,
enum pp_reason {
	PP_REASONS(PP_REASON_ENUM)
};
#undef PP_REASON_ENUM

struct pp_header {
	unsigned		version;	/* 1 or 2 */
	int			real_endpoints;	/* LOCAL, UNKNOWN, UNSPEC, UNIX */
	struct sockaddr_storage	src;		/* unmapped; unset if real_endpoints */
	struct sockaddr_storage	dst;
	size_t			len;		/* header bytes; payload follows */
	size_t			need;		/* NEED_MORE: total needed, 0 if unknown */
};

enum pp_status	pp_parse(const uint8_t *buf, size_t len, enum pp_transport tr,
		    struct pp_header *hdr, enum pp_reason *why);
enum pp_status	pp_parse_datagram(const uint8_t *buf, size_t len,
		    struct pp_header *hdr, enum pp_reason *why);
enum pp_status	pp_parse_spp(const uint8_t *buf, size_t len,
		    struct pp_header *hdr, enum pp_reason *why);
int		pp_starts_v2(const uint8_t *buf, size_t len);
const char	*pp_reason_str(enum pp_reason why);

#endif
