/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the eBPF fast path (src/bpf/ipip.bpf.c) and the daemon (src/fastpath.c)
 * share: the read-only configuration, the runtime state and the counters.
 * Only fixed-size kernel types: the BPF side has no libc.
 */
#ifndef IPIPD_FASTPATH_ABI_H
#define IPIPD_FASTPATH_ABI_H

#include <linux/types.h>

#define FP_MAX_ALLOWED 16	/* = CONFIG_MAX_LIST */
#define FP_OWN_MAX 256		/* = OWN_ADDRS_MAX */

/* How the daemon attaches the programs: tcx links where the kernel has them, or clsact filters. */
enum fp_attach_mode { FPA_AUTO, FPA_TCX, FPA_CLSACT };

/* An address prefix: addr already masked; both in network order. */
struct fp_prefix {
	__u32 addr, mask;
};

/* Set in .rodata before the programs are loaded; addresses in network order. */
struct fp_config {
	__u32 local, remote;
	__u32 own[2];			/* Local and the tunnel address: never an inner source */
	__u32 underlay_ifindex;		/* outer packets leave and arrive here at start */
	__u32 tun_ifindex;		/* inner packets leave and arrive here */
	__u32 dev_mtu;			/* the tunnel device's MTU */
	__u32 tun_l2;			/* link-layer header length at the TUN device: 0 (14 in tests) */
	__u8 ttl;			/* 0: inherit the inner TTL */
	__u8 tos;			/* fixed DSCP when !tos_inherit */
	__u8 tos_inherit;
	__u8 pmtudisc;			/* outer DF always set, else copied from the inner */
	__u8 ecn_mode;			/* enum ecn_mode */
	__u8 dscp_uniform;
	__u8 n_allowed;			/* 0: any inner source */
	__u8 encap;			/* enum encap: protocol 4, FOU or GUE */
	struct fp_prefix allowed[FP_MAX_ALLOWED];
	/* UDP encapsulation (no UDP checksum sent; RemotePort = learn not here) */
	__u16 port, remote_port;	/* network order */
	__u16 sport;			/* network order; 0: from the inner flow's hash */
	__u16 sport_min;		/* ... in [sport_min, sport_min + sport_span) */
	__u32 sport_span;
	/*
	 * Remote = any (a hub): each packet's outer destination from the
	 * routes into the device (the map hub_routes), outer sources only from
	 * AllowedRemotes, and with peer_check each inner source only from the
	 * peer its route leads to.
	 */
	__u8 hub;
	__u8 peer_check;
	__u8 n_allowed_remotes;
	__u8 pad2;
	struct fp_prefix allowed_remotes[FP_MAX_ALLOWED];
};

/*
 * Remote = any: the routes into the hub's device, as the daemon has them
 * (hub.h), in an LPM trie written by the privileged process; the outer
 * destination is gw, or the inner destination itself where gw is 0.  peer
 * indexes the maps hub_hops (the device the peer's outer packets leave by,
 * 0: not known, the slow path sends them) and hub_peers (its counters).
 */
#define FP_HUB_ROUTES 65536	/* = HUB_ROUTES_MAX */
#define FP_HUB_PEERS 4096	/* = HUB_PEERS_MAX */
#define FP_NO_PEER 0xffffffffu

struct fp_hub_key {
	__u32 len;		/* prefix length (the LPM trie's prefixlen) */
	__u32 addr;		/* network order */
};

struct fp_hub_route {
	__u32 gw;		/* network order; 0: none */
	__u32 peer;		/* index of the gateway, FP_NO_PEER for none */
};

/*
 * A peer's fast-path counters (array map hub_peers, mapped by the datapath
 * process): added to by every CPU at once (atomic adds); last_*_ms is
 * CLOCK_MONOTONIC in ms, 0: never.
 */
struct fp_peer_ctr {
	__u64 rx_packets, rx_bytes, tx_packets, tx_bytes;
	__u64 last_rx_ms, last_tx_ms;
	__u64 pad[2];
};

/* The Ethernet header of outer packets to the route's next hop. */
struct fp_eth {
	__u8 dst[6];		/* the next hop's, as the kernel resolved it */
	__u8 src[6];		/* the underlay's own */
};

/*
 * What the daemon tells the programs while they run (in the tunnel's slot,
 * struct fp_slot, mapped into the daemon, which stores single fields, and
 * the next hop as egress says; the programs read them per packet).
 */
struct fp_state {
	/*
	 * Where outer packets go now, in one word so that the egress program
	 * never sees one device with another's next hop (FP_EGRESS_WORD): the
	 * device the route to Remote leaves by, and which of eth[] holds the
	 * next hop's Ethernet header there (1 or 2; 0: none known, the kernel
	 * looks the route and the neighbour up for each packet).  The daemon
	 * fills the entry not in use, then points the word at it.
	 */
	__u64 egress;
	struct fp_eth eth[2];
	/*
	 * When the egress program last sent a packet by the kernel's lookups
	 * with a next hop known (bpf_ktime_get_coarse_ns()): one a second goes
	 * so, which keeps the neighbour entry in use and verified by the
	 * kernel's probes, as the userspace datapath's first packet after each
	 * look does.
	 */
	__u64 lookup_ns;
	__u32 pmtu;		/* inner MTU that fits the path now: larger packets go slow */
	__u32 path_ttl;		/* packets sent with a lower outer TTL go slow (0: none) */
	__u32 unreach;		/* non-zero: every packet goes slow (RFC 2003 5 soft state) */
	__u32 rx_l2;		/* link-layer header length at the underlay's ingress: 14 or 0 */
	__u32 dev_down;		/* non-zero: the TUN device is down (set so by someone else) */
};

#define FP_LOOKUP_NS 1000000000ull
#define FP_EGRESS_WORD(ifindex, hop) ((__u64)(__u32)(hop) << 32 | (__u32)(ifindex))
#define FP_EGRESS_IFINDEX(e) ((__u32)(e))
#define FP_EGRESS_HOP(e) ((__u32)((e) >> 32))

/*
 * One tunnel's page of the array map "slots" (src/bpf/ipip.bpf.c): its
 * settings, its soft state, and the outer ID counter (RFC 6864) that the
 * programs and the daemon's userspace datapath take IDs from.  A page each,
 * so that a datapath process maps its own tunnel's and no other.
 */
#define FP_SLOT_SIZE 4096

struct fp_slot {
	struct fp_config cfg;
	struct fp_state state;
	__u32 ip_id;
	__u32 pad;
	__u8 rest[FP_SLOT_SIZE - sizeof(struct fp_config) - sizeof(struct fp_state) - 8];
};

/*
 * Counters, one entry of struct fp_counters per CPU (array map "counters"
 * indexed by the CPU's number, mapped into the daemon: one cache line each).
 */
enum fp_counter {
	FP_RX_PACKETS,		/* decapsulated and redirected into the TUN device */
	FP_RX_BYTES,		/* inner bytes */
	FP_TX_PACKETS,		/* encapsulated and redirected to the underlay (segments) */
	FP_TX_BYTES,		/* inner bytes */
	FP_RX_SLOW,		/* protocol-4 packets left to the stack and the daemon */
	FP_TX_SLOW,		/* packets left to the daemon (TUN queue) */
	FP_RX_ERROR,		/* decapsulation failed half-way: dropped */
	FP_TX_ERROR,		/* encapsulation failed half-way: dropped */
	FP_COUNTER_MAX
};

struct fp_counters {
	__u64 c[FP_COUNTER_MAX];
};

/*
 * One ingress program per underlay (src/bpf/dispatch.bpf.c) for the tunnels
 * of a network namespace, which share its maps (src/fpshare.c): the tunnel an
 * outer packet belongs to is found by one lookup of its outer addresses
 * (protocol 4) or its destination and port (UDP), or for a hub (Remote =
 * any) its destination alone (remote 0, looked up when no tunnel has the
 * source), and its own ingress program is tail-called from slot `slot` of the program array.  FPS_ABI
 * names the layout: daemons of another layout do not share with this one.
 */
#define FPS_ABI 4
#define FPS_TUNNELS 4096	/* tunnels per namespace: program array slots */
#define FPS_UNDERLAYS 1024
/*
 * The point-to-point tunnels of a namespace in the program array's first
 * FPS_SHARED slots share one copy of the programs (src/bpf/ipip.bpf.c with
 * "shared" set), loaded by the first of them: one slot of its maps each,
 * the slot the dispatcher passes in skb->cb[0].  Others, and hubs, load
 * their own.
 */
#define FPS_SHARED 256
/*
 * The slot a tunnel of the shared copy takes when it is free: its device's
 * egress program then finds it by the page's tun_ifindex, without a lookup
 * of egress_slots.  (A page that claims a device is its slot's, or stale:
 * src/fastpath.c, slot_ready(), clears the claim of the one guessed.)
 */
#define FP_GUESS_SLOT(ifindex) ((__u32)(ifindex) % FPS_SHARED)

struct fps_key {
	__u32 ifindex;		/* the underlay the packet arrived on */
	__u32 local;		/* outer destination, network order */
	__u32 remote;		/* outer source (protocol 4; 0 for UDP) */
	__u16 port;		/* UDP destination port, network order (0 for protocol 4) */
	__u8 proto;		/* 4 or 17 */
	__u8 pad;
};

struct fps_val {
	__u32 slot;		/* in the program array */
	__u32 tun_ifindex;	/* the tunnel's device: gone means its daemon is */
	char name[16];		/* the device's name (IFNAMSIZ) */
};

/* Value of the underlays map: where the dispatcher is attached, and who holds the link. */
struct fps_underlay {
	__u32 l2;		/* link-layer header length there: 14 or 0 */
	__u32 holder;		/* the device of the tunnel whose daemon holds the link; 0: none */
	char name[16];		/* ... its name */
};

/* The one entry of the map named "ipipd_fps_ns": whose maps these are. */
struct fps_ns {
	__u64 cookie;		/* the network namespace's (SO_NETNS_COOKIE) */
	__u32 abi;		/* FPS_ABI */
	__u32 tunnels_id, progs_id, underlays_id, own_id;
	/*
	 * The shared copy of the programs and its maps (0: none loaded yet, or
	 * all gone since), and a hash of the build that loaded it: a daemon of
	 * another build loads its own.
	 */
	__u32 egress_id, ingress_id, slots_id, counters_id, egress_slots_id, ctr_stride;
	__u64 build;
};

#endif
