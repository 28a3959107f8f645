/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tunnel configuration file: one INI file per tunnel. */
#ifndef IPIPD_CONFIG_H
#define IPIPD_CONFIG_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>

#include "endpoint.h"
#include "fastpath_abi.h"
#include "packet.h"

#define CONFIG_MTU_MIN 68u
#define CONFIG_MTU_MAX (0xffffu - IPV4_HLEN)

/* The kernel forwards in softirq context, ahead of every task; the userspace
 * datapath runs ahead of ordinary ones (see datapath.c, linger()). */
#define CONFIG_NICE_DEFAULT (-10)

#define CONFIG_KEEPALIVE_MAX 3600u
#define CONFIG_KEEPALIVE_MISSES 3u

/* Remote as a DNS name: looked up again this often (seconds) */
#define CONFIG_RESOLVE_DEFAULT 60u
#define CONFIG_RESOLVE_MAX 86400u

#define CONFIG_MAX_LIST 16
#define CONFIG_MAX_ROUTES 64

/* A [Route] section: a prefix routed into the tunnel. */
struct config_route {
	struct prefix dst;
	unsigned table;		/* RT_TABLE_MAIN (254) unless given */
	unsigned metric;	/* 0: none given (the kernel's default) */
	uint32_t gw;		/* Gateway (Remote = any: the peer; onlink), 0: none */
	unsigned line;		/* its [Route] header */
	bool has_dst;
};
#define CONFIG_TABLE_NAME_MAX 32

enum tristate { TRI_KEEP, TRI_YES, TRI_NO };
enum dp_mode { DPM_AUTO, DPM_USERSPACE, DPM_KERNEL, DPM_EBPF };
/* auto: outer packets straight to the next hop where the underlay is an Ethernet */
enum underlay_output { UO_AUTO, UO_KERNEL };
enum rp_filter { RPF_KEEP = -1, RPF_OFF = 0, RPF_STRICT = 1, RPF_LOOSE = 2 };

/* Lines of the keys that host setup steps and the checks (lint.c) name (0: not given). */
struct config_lines {
	unsigned address, table, default_route, rule_from, ip_forward, proxy_arp, rp_filter,
		forward, input, allowed_sources, allow_source_route, log_ecn, keepalive;
	unsigned tunnel;	/* the [Tunnel] header */
	unsigned name, local, remote, resolve_interval, tos, mtu;
	unsigned datapath, fp_attach, nice, underlay_output;
	unsigned encap;		/* Encapsulation */
	unsigned port, remote_port, source_port, udp_checksum;
	unsigned allowed_remotes, peer_check;
};

struct config {
	char path[4096];
	char name[IFNAMSIZ];
	struct ipip_params ip;	/* local, remote, TTL, TOS, DF, ECN, DSCP */
	/* Local = auto: ip.local is the route to Remote's source address, 0 until known */
	bool local_auto;
	/* Remote as a DNS name (else ""): ip.remote is its address, 0 until looked up */
	char remote_name[ENDPOINT_NAME_MAX];
	unsigned resolve_interval;	/* seconds between lookups of remote_name */
	uint8_t tos_given;	/* TOS as written (ip.tos keeps only its DSCP bits) */
	unsigned mtu;		/* 0: underlay route MTU - 20 */
	enum dp_mode datapath;	/* auto: kernel ipip device, else eBPF, else userspace */
	enum fp_attach_mode fp_attach;
	int nice;		/* scheduling priority of the daemon's threads */
	enum underlay_output underlay_output;
	unsigned keepalive;	/* seconds without a packet from Remote before an echo to Peer (0: off) */
	unsigned keepalive_misses;	/* unanswered echoes before the tunnel is declared down */
	struct prefix allowed[CONFIG_MAX_LIST];	/* AllowedSources (ip.allowed points here) */
	/* Remote = any: AllowedRemotes (ip.allowed_remotes points here) */
	struct prefix allowed_remotes[CONFIG_MAX_LIST];
	struct in_addr addr;
	unsigned prefixlen;
	bool has_peer;
	struct in_addr peer;

	/* [Routing]: policy routing for traffic from the tunnel address */
	unsigned table;		/* 0: none */
	char table_name[CONFIG_TABLE_NAME_MAX];	/* "" if given as a number only */
	bool default_route;	/* default via Peer (or dev) in that table */
	struct prefix rule_from[CONFIG_MAX_LIST];
	unsigned n_rule_from;
	unsigned rule_priority;	/* 0: let the kernel choose */

	/* [Host] */
	enum tristate ip_forward;
	char proxy_arp[CONFIG_MAX_LIST][IFNAMSIZ];
	unsigned n_proxy_arp;
	enum rp_filter rp_filter;

	/* [Firewall] */
	bool fw_forward;
	struct prefix forward_from[CONFIG_MAX_LIST];
	unsigned n_forward_from;
	bool fw_input;		/* accept protocol 4 from Remote to Local in the input chains */

	/* [Route] sections */
	struct config_route routes[CONFIG_MAX_ROUTES];
	unsigned n_routes;

	struct config_lines line;
};

/*
 * Parse the file at path into *c.  On error, print "FILE:LINE: message"
 * lines to err and return -1.  Touches nothing but *c.
 */
int config_load(const char *path, struct config *c, FILE *err);

/* Parse a configuration held in memory (for tests and fuzzing). */
int config_parse_string(const char *text, const char *path, struct config *c, FILE *err);

/*
 * The first key the Linux kernel's own ipip device cannot enforce (it checks
 * no inner source list, accepts source routes only as the host's
 * accept_source_route says, logs unusual ECN as its module parameter says;
 * and with it ipipd has no datapath to send keepalives through),
 * with its line in *line; NULL if there is none.
 */
const char *config_kernel_gap(const struct config *c, unsigned *line);

/* Point c's parameters (c->ip) at c's own lists again, after c was copied. */
void config_own_lists(struct config *c);

/*
 * The routes the tunnel puts in, by number: 0 the default route in Table
 * (false: there is none), 1 + i [Route] i (up to c->n_routes); *rt is it.
 */
bool config_route_at(const struct config *c, unsigned i, struct config_route *rt);

/* The same route for the kernel: destination, table and metric (two such cannot both be added). */
bool config_route_key_eq(const struct config_route *x, const struct config_route *y);

/* The same route: its key for the kernel, and its gateway. */
bool config_route_eq(const struct config_route *x, const struct config_route *y);

/* A route like rt among c's [Route] sections. */
bool config_has_route(const struct config *c, const struct config_route *rt);

/* A valid interface name: 1..15 bytes, no '/', ':' or white space, not "." or "..". */
bool config_valid_ifname(const char *s);

#endif
