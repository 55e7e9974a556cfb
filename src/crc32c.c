/*
 * CRC32c (Castagnoli), for the PROXY v2 CRC32C TLV.  Pure: no I/O, no
 * state.
 */
#include "crc32c.h"

#define CRC32C_POLY_REFLECTED	0x82f63b78u

/*
 * Feed len bytes into a running CRC32c.  Start with crc = 0; the result
 * of the last call is the checksum.  Bitwise: headers are at most 64 KiB
 * and a table would be state to keep.
 */
uint32_t
crc32c_update(uint32_t crc, const uint8_t *p, size_t len)
{
	size_t i;
	int bit;

	crc = ~crc;
	for (i = 0; i < len; i++) {
		crc ^= p[i];
		for (bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (CRC32C_POLY_REFLECTED & (0u - (crc & 1)));
	}
	return ~crc;
}
