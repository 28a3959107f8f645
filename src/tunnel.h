/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A tunnel's settings as the running daemon applies them: what a reload
 * changes (by difference, never by removing and adding again what is the
 * same), what only a restart can change, and the settings the datapath
 * process is given (msg.h).  Pure: no system call, unit-tested.
 */
#ifndef IPIPD_TUNNEL_H
#define IPIPD_TUNNEL_H

#include <stddef.h>

#include "config.h"
#include "msg.h"

/* The live settings of [Tunnel] and [Address] a reload may change. */
enum tunnel_change {
	TC_LOCAL = 1u << 0,
	TC_REMOTE = 1u << 1,
	TC_TTL = 1u << 2,
	TC_TOS = 1u << 3,
	TC_PMTUDISC = 1u << 4,
	TC_ECN = 1u << 5,
	TC_DSCP = 1u << 6,
	TC_ALLOWED = 1u << 7,
	TC_SOURCE_ROUTE = 1u << 8,
	TC_LOG_ECN = 1u << 9,
	TC_MTU = 1u << 10,	/* MTU as configured (0: from the route) */
	TC_KEEPALIVE = 1u << 11,
	TC_ADDRESS = 1u << 12,	/* Address, its prefix length, Peer */
	TC_ROUTES = 1u << 13,	/* [Route] sections (host_routes_change()) */
	TC_COUNT = 14
};

/* The groups of host settings (enum host_group) whose settings differ between a and b. */
unsigned host_changes(const struct config *a, const struct config *b);

/* "routing, firewall": the names of groups, into buf. */
const char *host_group_names(unsigned groups, char *buf, size_t n);

struct tunnel_diff {
	const char *restart;	/* the first changed key only a restart applies (NULL: none) */
	unsigned restart_line;	/* its line in the new file (0: unknown) */
	unsigned live;		/* enum tunnel_change bits */
	unsigned host;		/* enum host_group bits (host_changes()) */
};

/*
 * What differs from the running settings a to the file's b.  kernel: the
 * kernel's own device carries the packets (then a key it cannot enforce,
 * config_kernel_gap(), needs a restart too).
 */
void tunnel_diff(const struct config *a, const struct config *b, bool kernel,
		 struct tunnel_diff *d);

/* "Remote, TTL, MTU; host: routing": what changed, into buf (n > 0); "nothing" if so. */
const char *tunnel_diff_text(const struct tunnel_diff *d, char *buf, size_t n);

/* The device MTU for c: MTU as configured, else the route's less the outer header. */
unsigned tunnel_mtu(const struct config *c, unsigned route_mtu);

/* The settings of c the datapath process is told of at a reload (device MTU mtu). */
void tunnel_params(const struct config *c, unsigned mtu, struct msg_params *mp);

#endif
