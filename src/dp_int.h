/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the datapath's files share (datapath.c: buffers, setup, threads;
 * dp_tx.c: TUN device -> underlay; dp_rx.c: underlay -> TUN device): not
 * for the rest of ipipd, which has datapath.h.
 */
#ifndef IPIPD_DP_INT_H
#define IPIPD_DP_INT_H

#include "datapath.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tun.h"

#define ECN_LOG_BUDGET 16
#define TX_IN_SIZE (VNET_HLEN + 0x10000)	/* one TUN read, super-packets included */
#define GSO_FRAME (VNET_HLEN + ETH_HLEN + 0x10000)	/* one UDP GSO frame */
#define GSO_SEGS_MAX 64		/* datagrams in one UDP GSO frame (the kernel's UDP_MAX_SEGMENTS) */
#define DP_ROUNDS 8				/* batches per wakeup before polling again */

_Static_assert(DP_BATCH <= GRO_MAX, "one received batch must fit the GRO table");

/* ---- counters: one writer (the direction's thread), relaxed readers ------ */

static inline void ctr_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline void ctr_set(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

static inline uint64_t ctr_get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

static inline uint64_t now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* IPIPD_GRO, IPIPD_URING, ... = off|0|no switch a feature off (tests, measurements). */
bool dp_env_off(const char *name);

/* Wake the owner: the soft state moved (a datapath thread, rarely; dp_tx.c). */
void dp_event(struct datapath *dp);

/*
 * The rx thread's round of tx (reply_round() in datapath.c): read() what the
 * device has, unless the tx thread's ring holds packets read before it.
 */
int dp_tun_reply(struct datapath *dp);

/* The tx thread's ring: its read of the device cancelled, what it read sent. */
void dp_tun_quiesce(struct datapath *dp);

/* Hand a locally made packet (an ICMP error) to the host through the TUN device (dp_tx.c). */
void dp_tun_inject(struct datapath *dp, const uint8_t *pkt, size_t len);

/* The settings now, with RemotePort = learn the port learned (dp_tx.c). */
const struct ipip_params *dp_tx_params(struct datapath *dp, struct ipip_params *tmp);

#endif
