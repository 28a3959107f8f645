/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The flow hash of SourcePort = auto, shared by the C packet code and the
 * eBPF programs (which have no libc: plain C types only), so that a flow's
 * packets get one UDP source port whichever datapath sends them.
 */
#ifndef IPIPD_FLOWHASH_H
#define IPIPD_FLOWHASH_H

#define FLOWHASH_SEED 0x9e3779b9u	/* the golden ratio's bits */

/* h mixed with the 32 bits at b (big-endian): the murmur3 finaliser. */
static inline __attribute__((always_inline)) unsigned int
flowhash_mix(unsigned int h, const unsigned char *b)
{
	h ^= (unsigned int)b[0] << 24 | (unsigned int)b[1] << 16 | (unsigned int)b[2] << 8 | b[3];
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

_Static_assert(sizeof(unsigned int) == 4, "flowhash_mix() takes 32-bit words");

#endif
