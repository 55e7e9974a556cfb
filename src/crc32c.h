/* CRC32c (Castagnoli, RFC 4960 appendix B), as the PROXY v2 CRC32C TLV uses. */
#ifndef MMPROXY_CRC32C_H
#define MMPROXY_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t	crc32c_update(uint32_t crc, const uint8_t *p, size_t len);

#endif
