/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Messages between ipipd's privileged parent and its unprivileged datapath
 * process, over a SOCK_SEQPACKET socketpair: one message per datagram, a
 * fixed header and a fixed-size body per type (in the spirit of OpenBSD's
 * imsg, without its buffering).  Each side accepts only the types the other
 * may send, and msg_parse() checks every length and field before anything
 * is used: the datapath process handles packets from the network, so the
 * parent treats what it says as untrusted, and the other way round.
 *
 *   datapath -> parent: READY, DOWN, STATUS_REQ, HOP_FAILED, ROUTE_CHECK, RELOAD,
 *                       ALIVE, UNREACHABLE, SOFT_STATE
 *   parent -> datapath: STATUS, ADDRS, HOP, STOP, ROUTE_MTU, STATE, DATAPATH,
 *                       PARAMS, RELOADED, HUB_ROUTES, HUB_HOPS
 *
 * The datapath process is forked before the tunnel is up (it may wait for
 * a route or an address at boot): MSG_DATAPATH then hands it the datapath's
 * descriptors, made by the parent with its privileges.
 */
#ifndef IPIPD_MSG_H
#define IPIPD_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h"

#define CONFIG_LIST_MAX_ 16	/* = CONFIG_MAX_LIST (config.h) */

enum msg_type {
	MSG_READY = 1,		/* the datapath runs (its threads started) */
	MSG_DOWN,		/* `ipipctl down`: stop the tunnel */
	MSG_STATUS_REQ,		/* `ipipctl show`: the parent's part of the status, please */
	MSG_HOP_FAILED,		/* a send to the next hop failed: look it up again */
	MSG_ROUTE_CHECK,	/* a send was too big for the route: its MTU, please */
	MSG_STATUS,		/* the reply to MSG_STATUS_REQ */
	MSG_ADDRS,		/* the host's addresses (refused as inner sources) */
	MSG_HOP,		/* the next hop towards Remote (packet socket output) */
	MSG_STOP,		/* stop the datapath and exit */
	MSG_ROUTE_MTU,		/* the MTU of the route to Remote (on change, and when asked) */
	MSG_STATE,		/* up, or what the tunnel waits for (a route, an address) */
	MSG_DATAPATH,		/* the datapath to run, with its descriptors (SCM_RIGHTS) */
	MSG_PARAMS,		/* new settings of [Tunnel] (a reload), applied at once */
	MSG_RELOAD,		/* `ipipctl reload`: read the configuration again */
	MSG_RELOADED,		/* the reply to MSG_RELOAD */
	MSG_ALIVE,		/* Keepalive: Peer answers again, or stopped answering */
	MSG_UNREACHABLE,	/* an ICMP error says the tunnel's exit is unreachable */
	MSG_SOFT_STATE,		/* what the fast path must leave to the slow path, changed */
	MSG_REMOTE_SEEN,	/* RemotePort = learn: Remote's packets come from another address */
	MSG_HUB_ROUTES,		/* Remote = any: (a part of) the routes into the device now */
	MSG_HUB_HOPS,		/* Remote = any: (a part of) the peers' next hops now */
	MSG_TYPE_MAX
};

#define MSG_BIT(t) (1u << (t))
#define MSG_FROM_CHILD (MSG_BIT(MSG_READY) | MSG_BIT(MSG_DOWN) | MSG_BIT(MSG_STATUS_REQ) | \
			MSG_BIT(MSG_HOP_FAILED) | MSG_BIT(MSG_ROUTE_CHECK) | MSG_BIT(MSG_RELOAD) | \
			MSG_BIT(MSG_ALIVE) | MSG_BIT(MSG_UNREACHABLE) | MSG_BIT(MSG_SOFT_STATE) | \
			MSG_BIT(MSG_REMOTE_SEEN))
#define MSG_FROM_PARENT (MSG_BIT(MSG_STATUS) | MSG_BIT(MSG_ADDRS) | MSG_BIT(MSG_HOP) | \
			 MSG_BIT(MSG_STOP) | MSG_BIT(MSG_ROUTE_MTU) | MSG_BIT(MSG_STATE) | \
			 MSG_BIT(MSG_DATAPATH) | MSG_BIT(MSG_PARAMS) | MSG_BIT(MSG_RELOADED) | \
			 MSG_BIT(MSG_HUB_ROUTES) | MSG_BIT(MSG_HUB_HOPS))

/* The parent's part of `ipipctl show`. */
enum msg_kstat { MK_RX_PACKETS, MK_RX_BYTES, MK_TX_PACKETS, MK_TX_BYTES, MK_RX_ECN_DROPS,
		 MK_TX_ERRORS, MK_MAX };
struct msg_status {
	int32_t fw_rules;	/* ipipd's nft rules for the tunnel now (-1: cannot tell) */
	int32_t underlay;	/* ifindex of the route to Remote (0: none) */
	int32_t device_down;	/* the tunnel's device was set down by someone else */
	char device_renamed[16];	/* ... renamed by someone else, and not named back ("") */
	uint32_t displaced;	/* its routes another holds the place of, the first: */
	uint32_t displaced_dst, displaced_len, displaced_table;	/* (dst network order) */
	uint64_t kernel[MK_MAX];	/* Datapath = kernel: the device's counters */
};

struct msg_addrs {
	uint32_t total;		/* addresses the host has (-1 as ~0: the dump failed) */
	uint32_t n;		/* addresses in addr[] (at most OWN_ADDRS_MAX) */
	uint32_t addr[OWN_ADDRS_MAX];	/* network order */
};

struct msg_hop {
	int32_t rc;		/* 0, or -errno: why outer packets go through the kernel */
	int32_t ifindex;	/* > 0 when rc is 0 */
	uint32_t via;		/* the neighbour (network order) */
	uint8_t mac[6];
	uint8_t src_mac[6];	/* the interface's own */
	uint8_t failed;		/* a send there had failed before this lookup */
	uint8_t pad[3];
};

struct msg_route {
	uint32_t mtu;		/* the route's configured MTU, else its device's (68..65535) */
};

#define MSG_TEXT_MAX 160

struct msg_state {
	uint32_t up;		/* 1: the tunnel is up; 0: waiting */
	char waiting[MSG_TEXT_MAX];	/* what for (NUL-terminated) */
};

/* The descriptors MSG_DATAPATH carries, in this order, each if its bit is set. */
enum msg_fd { MF_TUN, MF_RAW, MF_TX, MF_PACKET, MF_BSS, MF_COUNTERS, MF_UDP, MF_GSO, MF_PEERS,
	      MF_MAX };

struct msg_datapath {
	uint8_t kernel;		/* the kernel's device carries the packets: no descriptor */
	uint8_t fast;		/* the eBPF fast path runs (MF_BSS, MF_COUNTERS) */
	uint8_t vnet;		/* the TUN device has a virtio_net_hdr */
	uint8_t direct;		/* MF_PACKET: outer packets may go straight to the next hop */
	uint8_t replace;	/* a reload's new sockets (a new Local): no MF_TUN, MF_BSS, MF_COUNTERS */
	uint8_t pad[3];
	uint32_t fds;		/* MSG_FD bits: the descriptors that follow */
	int32_t ifindex;	/* the tunnel's device */
	uint32_t mtu, route_mtu;	/* the device's, the route's to Remote */
	uint32_t gro_flags;	/* GRO_TCP, GRO_UDP */
	uint32_t floor, expire_s, ttl_max;	/* the soft state's limits */
	uint32_t bss_len, counters_len;	/* mapping sizes of MF_BSS (the slot), MF_COUNTERS */
	uint32_t bss_off, counters_off;	/* ... and where in those maps */
	int32_t ncpus;		/* counters entries */
	uint32_t peers_len;	/* mapping size of MF_PEERS (fast, Remote = any: the peers' counters) */
	uint32_t prog_id[2];	/* egress, ingress */
	char attach[8];		/* "tcx", "clsact" */
	char reason[224];	/* why this datapath (NUL-terminated) */
};

/* The settings of [Tunnel] a reload may change while the tunnel runs. */
struct msg_prefix {
	uint32_t addr, len;	/* network order; 0..32 */
};

struct msg_params {
	uint32_t local, remote;	/* network order */
	uint32_t address, peer;	/* [Address]: the keepalive's source and destination */
	uint8_t ttl, tos, tos_inherit, pmtudisc;
	uint8_t ecn, dscp_uniform, allow_source_route, ecn_log;
	uint32_t n_allowed;
	struct msg_prefix allowed[CONFIG_LIST_MAX_];
	uint32_t mtu;		/* the device's */
	uint32_t keepalive, keepalive_misses;
	uint8_t remote_any, peer_check;	/* Remote = any (remote 0), PeerSourceCheck */
	uint8_t pad[2];
	uint32_t n_allowed_remotes;
	struct msg_prefix allowed_remotes[CONFIG_LIST_MAX_];
};

/*
 * Remote = any: the routes into the device, MSG_HUB_CHUNK at a time; a part
 * with first 0 starts a new table, the part that ends at total completes it.
 */
#define MSG_HUB_CHUNK 64
#define MSG_HUB_MAX 65536u	/* = HUB_ROUTES_MAX (hub.h) */
struct msg_hub {
	uint32_t total;		/* routes in the table (<= MSG_HUB_MAX) */
	uint32_t first;		/* where this part's go */
	uint32_t n;		/* routes in this part */
	uint32_t pad;
	struct {
		uint32_t dst, gw;	/* network order; gw 0: none */
		uint32_t len;		/* 0..32 */
		uint32_t peer;		/* the gateway's number (hub_ids), HUB_NO_PEER: none */
	} r[MSG_HUB_CHUNK];
};

/*
 * Remote = any: the next hop of each peer (a gateway of the routes) whose
 * outer packets may go straight to it, MSG_HOPS_CHUNK at a time, as
 * MSG_HUB_ROUTES; a peer not in the table goes through the kernel's IP output.
 */
#define MSG_HOPS_CHUNK 48
#define MSG_HOPS_MAX 4096u	/* = HUB_PEERS_MAX (hub.h) */
struct msg_hub_hop {
	uint32_t addr;		/* the peer (network order; never 0) */
	int32_t ifindex;	/* > 0 */
	uint8_t mac[6];
	uint8_t pad[2];
};

struct msg_hub_hops {
	uint32_t total;		/* peers in the table (<= MSG_HOPS_MAX) */
	uint32_t first;		/* where this part's go */
	uint32_t n;		/* peers in this part */
	uint32_t pad;
	struct msg_hub_hop h[MSG_HOPS_CHUNK];
};

struct msg_alive {
	uint32_t alive;		/* 1: up (a packet from Remote), 0: down (KeepaliveMisses unanswered) */
};

/*
 * The soft state as the eBPF fast path must follow it (fp_set_state): the
 * parent, the tunnel's owner, writes it into the programs' settings.
 */
struct msg_soft {
	uint32_t pmtu;		/* the path MTU soft state (0: none; else 68..65535) */
	uint32_t path_ttl;	/* the learned path TTL while an error is owed (0: none) */
	uint32_t unreach;	/* 1: the exit is unreachable and an error is owed */
};

struct msg_remote {
	uint32_t addr;		/* network order; never 0 */
};

struct msg_reloaded {
	int32_t err;		/* 0, or the errno of a failed reload (the tunnel runs as before) */
	char text[MSG_TEXT_MAX];	/* what changed, or what is wrong (NUL-terminated) */
};

struct msg {
	enum msg_type type;
	union {
		struct msg_status status;
		struct msg_addrs addrs;
		struct msg_hop hop;
		struct msg_route route;
		struct msg_state state;
		struct msg_datapath dp;
		struct msg_params params;
		struct msg_reloaded reloaded;
		struct msg_alive alive;
		struct msg_soft soft;
		struct msg_remote remote;
		struct msg_hub hub;
		struct msg_hub_hops hops;
	} u;
	int fds[MF_MAX];	/* MSG_DATAPATH's descriptors, as received (-1: none) */
	unsigned nfds;
};

#define MSG_HDR_LEN 4u		/* uint16 type, uint16 body length (host order: same host) */
#define MSG_MAX_LEN (MSG_HDR_LEN + 1100u)	/* >= the largest body (msg_addrs) */
_Static_assert(sizeof(struct msg_addrs) <= 1100 && sizeof(struct msg_params) <= 1100 &&
	       sizeof(struct msg_datapath) <= 1100 && sizeof(struct msg_hub) <= 1100 &&
	       sizeof(struct msg_hub_hops) <= 1100,
	       "MSG_MAX_LEN holds every body");

/* How many descriptors m must come with (MSG_DATAPATH: one per bit of fds). */
unsigned msg_fds_wanted(const struct msg *m);

/*
 * Check the datagram buf[0..len) and decode it into *m: its type must be in
 * allowed (MSG_FROM_CHILD or MSG_FROM_PARENT) and every length and field
 * valid.  0, or -EBADMSG.
 */
int msg_parse(const uint8_t *buf, size_t len, unsigned allowed, struct msg *m);

/* Encode m into buf (MSG_MAX_LEN bytes): its length. */
size_t msg_build(uint8_t *buf, const struct msg *m);

/* Send one message: 0 or -errno. */
int msg_send(int fd, const struct msg *m);

/* Send one message with descriptors fds[0..n) (SCM_RIGHTS): 0 or -errno. */
int msg_send_fds(int fd, const struct msg *m, const int *fds, unsigned n);

/*
 * Receive one message, without waiting: 0, -EAGAIN (none now),
 * -EPIPE (the other side is gone), -EBADMSG (malformed or not allowed, or
 * not with exactly the descriptors its type says: the caller ends the
 * conversation; descriptors of a refused message are closed), or another
 * -errno.  MSG_DATAPATH's descriptors are in m->fds, the caller's to close.
 */
int msg_recv(int fd, unsigned allowed, struct msg *m);

#endif
