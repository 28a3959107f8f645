/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Internet checksum (RFC 1071), once for the C code: a sum in the
 * machine's byte order (the one's-complement sum does not care which),
 * folded and complemented at the end.
 */
#ifndef IPIPD_CSUM_H
#define IPIPD_CSUM_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * One's-complement sum of len bytes, added to sum, in the machine's byte
 * order; not folded.  An odd last byte is the first of a zero-padded word:
 * sum the pieces of one checksummed span in pieces of even length.
 */
static inline uint64_t csum_add(uint64_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t s0 = 0, s1 = 0;

	/* 32-bit words into 64-bit accumulators: no carries to track. */
	for (; len >= 16; p += 16, len -= 16) {
		uint32_t w[4];

		memcpy(w, p, 16);
		s0 += (uint64_t)w[0] + w[1];
		s1 += (uint64_t)w[2] + w[3];
	}
	for (; len >= 4; p += 4, len -= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		s0 += w;
	}
	if (len >= 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		s1 += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t w = 0;

		memcpy(&w, p, 1);
		s1 += w;
	}
	/* Fold each partial sum so that adding them cannot overflow. */
	s0 = (s0 & 0xffffffffu) + (s0 >> 32);
	s1 = (s1 & 0xffffffffu) + (s1 >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	return sum + s0 + s1;
}

/* Fold a csum_add() sum to 16 bits (not complemented), machine order. */
static inline uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Sum of the IPv4 pseudo-header of the packet at ip (addresses, proto, l4len). */
static inline uint64_t csum_pseudo4(const uint8_t *ip, uint8_t proto, size_t l4len)
{
	uint32_t a, b;

	memcpy(&a, ip + 12, 4);
	memcpy(&b, ip + 16, 4);
	return (uint64_t)a + b + htons(proto) + htons((uint16_t)l4len);
}

/* The checksum of a csum_add() sum as a number, for put16(): host order. */
static inline uint16_t csum_value(uint64_t sum)
{
	return ntohs((uint16_t)~csum_fold(sum));
}

#endif
