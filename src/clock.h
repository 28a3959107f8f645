/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Milliseconds on CLOCK_MONOTONIC: the time every timeout here is counted in. */
#ifndef IPIPD_CLOCK_H
#define IPIPD_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
