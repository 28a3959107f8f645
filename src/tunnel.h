/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One tunnel: struct tunnel is its state, and its owner (the privileged
 * parent) alone changes it, through the functions below; the datapath
 * process is told what changed (msg.h) and writes none of it (its events,
 * path MTU, soft state, keepalive, go to the owner as messages).
 *
 * tunnel.c, pure (no system call, unit-tested): what a reload changes (by
 * difference, never by removing and adding again what is the same), what
 * only a restart can change, the settings the datapath process is given.
 * tunnel_run.c: the running tunnel, set up, changed and followed (its
 * device, the fast path, the host setup by difference, Remote's name and
 * Local = auto, the route and next hop towards Remote).
 */
#ifndef IPIPD_TUNNEL_H
#define IPIPD_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "endpoint.h"
#include "fastpath.h"
#include "host.h"
#include "hub.h"
#include "msg.h"
#include "netlink.h"
#include "packet.h"

struct tunnel {
	struct config cfg;	/* as applied: cfg.ip holds what Remote's name and Local = auto stand for */
	char state_path[512];	/* its journal: every change made to the host (host.h) */
	/* the owner's handles, lent */
	struct nl *nl;		/* rtnetlink */
	int dp_fd;		/* the datapath process (-1: none yet) */
	/* how packets go */
	bool kernel;		/* the kernel's ipip device carries them */
	bool fast;		/* the eBPF fast path carries ordinary packets */
	bool direct;		/* outer packets may go straight to the next hop (packet socket) */
	char dp_reason[224];	/* why this datapath */
	bool config_error;	/* the start failed on the configuration (exit status 78) */
	struct fastpath fp;	/* owner: attachments, address map; datapath process: mapped state */
	int ifindex;		/* its device */
	unsigned mtu;		/* ... and the device's MTU */
	int tun_fd, raw_fd;	/* the TUN device, the raw socket until handed over */
	int udp_fd;		/* UDP encapsulation's socket on Port, until handed over */
	/* up, or waiting */
	bool up;
	char waiting[MSG_TEXT_MAX];	/* what for */
	uint64_t tried;		/* the last bring-up attempt while waiting (CLOCK_MONOTONIC ms) */
	/* towards Remote */
	int underlay_ifindex;	/* the route to Remote leaves here */
	unsigned route_mtu;	/* the route's MTU, as last told to the datapath process */
	struct nl_ether_hop hop;	/* where outer packets go direct (ifindex 0: none) */
	int hop_rc;		/* why not (-errno), as last looked up */
	bool peer_down;		/* Keepalive: the datapath process said Peer stopped answering */
	bool device_down;	/* the device was found down (set down by someone else) */
	char device_renamed[16];	/* the name someone else gave it, while it cannot be named
					   back ("": none) */
	struct host_displaced displaced;	/* its routes another holds the place of, said so */
	/* Remote = any: the routes into the device, as last sent to the datapath process */
	uint64_t hub_sum;	/* a hash of them */
	int hub_routes;		/* how many (-1: none sent yet) */
	uint32_t hub_gw[HUB_PEERS_MAX];	/* ... their gateways (the peers), each once */
	unsigned hub_ngw;
	struct hub_ids hub_ids;		/* the peers' numbers (datapath process, eBPF maps) */
	uint32_t hub_fast_hop[HUB_PEERS_MAX];	/* eBPF: each peer's device, as last set */
	uint64_t hops_sum;	/* the peers' next hops as last sent: a hash of them */
	int hub_hops;		/* how many (-1: none sent yet) */
	/* Remote as a name: its lookups */
	struct resolver res;
	uint64_t resolve_at;	/* the next lookup (CLOCK_MONOTONIC ms; 0: none due, or one runs) */
	uint64_t resolve_asked;	/* the last lookup asked for early (a failure to reach Remote) */
	uint64_t moved_ms;	/* RemotePort = learn: when Remote was last moved */
	char resolve_err[ENDPOINT_ERR_MAX];	/* the last lookup's failure ("": it worked) */
	/* the host's addresses, refused as inner sources */
	struct own_addrs own;	/* as the datapath's rx thread reads them */
	int n_own;		/* at the last dump (-1: failed) */
	uint32_t own_list[OWN_ADDRS_MAX];	/* ... the first OWN_ADDRS_MAX of them */
};

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
	/* followed by the owner, nothing to apply: the addresses they stand for are TC_LOCAL, TC_REMOTE */
	TC_REMOTE_NAME = 1u << 14,	/* Remote given as another name, or as a name or address instead */
	TC_LOCAL_AUTO = 1u << 15,	/* Local = auto, or no longer */
	TC_RESOLVE = 1u << 16,	/* ResolveInterval */
	TC_COUNT = 17
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

/* --- tunnel_run.c: the running tunnel, by its owner --- */

#define TUNNEL_RETRY_MS 5000	/* while waiting, or after a failure to reach Remote: look again */

/* Before the tunnel is set up (t->cfg loaded): the owner's rtnetlink socket, no descriptor yet. */
void tunnel_init(struct tunnel *t, struct nl *nl);

/*
 * Set the tunnel up, once Local is an address of the host and Remote has a
 * route (at boot, maybe not yet): the device, its address, the host setup,
 * the fast path, the datapath handed to the datapath process.  0: up (the
 * datapath process says MSG_READY when it runs); 1: waiting (t->waiting
 * says for what; nothing was changed); -1: failed (t->config_error if on
 * the configuration).
 */
int tunnel_bring_up(struct tunnel *t);

/*
 * Apply a reload's checked difference nc - t->cfg to the running tunnel:
 * the device, its address, the fast path's and the datapath process's
 * settings, the routes and the host setup by difference.  0 (errors of a
 * part said to err), or -errno if a check failed (nothing was changed).
 * t->cfg is still the old one: tunnel_adopt() makes nc the tunnel's.
 */
int tunnel_apply(struct tunnel *t, struct config *nc, const struct tunnel_diff *td, FILE *err);
void tunnel_adopt(struct tunnel *t, const struct config *nc);

/*
 * A new configuration's Remote name and Local = auto: the addresses they
 * stand for now (Remote's looked up again only if the name changed).  While
 * the tunnel is up, one that cannot be found refuses it (-1, said to err).
 */
int tunnel_fill_endpoints(struct tunnel *t, struct config *nc, FILE *err);

/*
 * Remote's name resolves to another address (remote; 0: Remote stays), or
 * Local = auto has another source address: applied as a reload's new Local
 * or Remote.  1 if the endpoints changed, else 0.
 */
int tunnel_follow_endpoints(struct tunnel *t, uint32_t remote);

/*
 * RemotePort = learn: the datapath process says Remote's packets come from
 * addr now (network order); Remote follows, at most once a second.
 */
void tunnel_remote_seen(struct tunnel *t, uint32_t addr);

/* Remote as a name: the first lookup, in line, before the first bring-up (logged if it fails). */
void tunnel_resolve_first(struct tunnel *t);

/* Remote as a name: a lookup now (off the loop), or early after a failure to reach Remote. */
void tunnel_lookup(struct tunnel *t);
void tunnel_lookup_early(struct tunnel *t);

/*
 * A lookup is over (t->res.fd readable): 0 nothing to do, 1 the endpoints
 * changed (tunnel_follow_endpoints()), 2 the waiting tunnel has an address
 * for Remote now (try to bring it up).
 */
int tunnel_lookup_done(struct tunnel *t);

/*
 * Remote = any: the routes into the device now, for the datapath process
 * (on the way up, and when routes changed).
 */
void tunnel_follow_routes(struct tunnel *t);

/* Where the underlay's route is looked at: Remote, or with Remote = any AllowedRemotes' first. */
uint32_t tunnel_towards(const struct config *c);

/*
 * The route to Remote (its MTU, the device it leaves through, the eBPF fast
 * path's next hop), every second and when asked.
 */
void tunnel_follow_underlay(struct tunnel *t, bool asked);

/*
 * The next hop towards Remote for outer packets sent direct (failed: a send
 * there failed); with Remote = any each peer's, sent when they changed.
 */
void tunnel_follow_hop(struct tunnel *t, bool failed);

/* The datapath process's soft state, into the fast path's settings (the only writer). */
void tunnel_soft_state(struct tunnel *t, const struct msg_soft *s);

/* The host's addresses (refused as inner sources), to the datapath process and the fast path. */
void tunnel_refresh_own(struct tunnel *t);

/* The owner's part of `ipipctl show`, to the datapath process. */
void tunnel_send_status(struct tunnel *t);

/* Close what the tunnel holds: the fast path, the device's descriptor, the lookups. */
void tunnel_close(struct tunnel *t);

/* "a.b.c.d" of an address in network order. */
const char *ip4(uint32_t a, char *buf);

#endif
