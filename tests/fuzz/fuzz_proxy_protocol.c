/*
 * libFuzzer harness for the PROXY parser (make fuzz).  Beyond "no crash,
 * no sanitizer report", it checks the parser's contract on every input:
 * a header ends where it says and every shorter prefix of it needs more,
 * a NEED_MORE size is a real size, and a verdict never depends on bytes
 * after the header.  SPP (-udp-framing spp) has the same checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_one(const uint8_t *data, size_t size, enum pp_transport tr)
{
	struct pp_header h, h2;
	enum pp_reason why, why2;
	enum pp_status st = pp_parse(data, size, tr, &h, &why);

	if (st == PP_NEED_MORE) {
		if (h.need != 0 && (h.need <= size || h.need > PP_V2_MAX))
			abort();
		return;
	}
	if (st == PP_INVALID) {
		if (why == PP_R_NONE)
			abort();
		return;
	}
	if (h.len == 0 || h.len > size || h.len > PP_V2_MAX)
		abort();
	/* The same header alone: same verdict, same length. */
	if (pp_parse(data, h.len, tr, &h2, &why2) != PP_OK || h2.len != h.len ||
	    h2.real_endpoints != h.real_endpoints ||
	    memcmp(&h2.src, &h.src, sizeof(h.src)) != 0)
		abort();
	/* One byte short: never a verdict of OK. */
	if (pp_parse(data, h.len - 1, tr, &h2, &why2) != PP_NEED_MORE)
		abort();
}

/*
 * A datagram is the whole input: the verdict is OK or INVALID, never a wait,
 * and agrees with the stream-style parse of the same bytes.
 */
static void
check_datagram(const uint8_t *data, size_t size)
{
	struct pp_header h, h2;
	enum pp_reason why, why2;
	enum pp_status st = pp_parse_datagram(data, size, &h, &why);
	enum pp_status st2 = pp_parse(data, size, PP_DGRAM, &h2, &why2);

	if (st == PP_NEED_MORE)
		abort();
	if (st == PP_OK && (st2 != PP_OK || h.len != h2.len || h.len > size))
		abort();
	if (st == PP_INVALID && (why == PP_R_NONE ||
	    (st2 == PP_NEED_MORE) != (why == PP_R_TRUNCATED)))
		abort();
}

/*
 * SPP: OK exactly when the input is 38 bytes or more with the magic and a
 * usable client; the header is always 38 bytes, and the payload never
 * changes the verdict.
 */
static void
check_spp(const uint8_t *data, size_t size)
{
	struct pp_header h, h2;
	enum pp_reason why, why2;
	enum pp_status st = pp_parse_spp(data, size, &h, &why);

	if (st == PP_NEED_MORE || (st == PP_INVALID && why == PP_R_NONE))
		abort();
	if (size < PP_SPP_LEN || data[0] != 0x56 || data[1] != 0xec) {
		if (st == PP_OK)
			abort();
		return;
	}
	if (st == PP_OK && h.len != PP_SPP_LEN)
		abort();
	if (pp_parse_spp(data, PP_SPP_LEN, &h2, &why2) != st ||
	    (st == PP_OK && memcmp(&h.src, &h2.src, sizeof(h.src)) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_one(data, size, PP_STREAM);
	check_one(data, size, PP_DGRAM);
	check_datagram(data, size);
	check_spp(data, size);
	return 0;
}
