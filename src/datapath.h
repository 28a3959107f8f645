/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The userspace datapath: TUN device <-> raw protocol-4 socket.
 *
 * Two directions, each owned by one thread once dp_start() has run:
 *   tx: TUN reads (super-packets split into MTU-sized segments when the device
 *       has offloads on) -> ipip_encap per segment -> sendmmsg on the raw socket;
 *   rx: recvmmsg on the raw socket (with UDP encapsulation: on the UDP socket)
 *       -> ipip_decap (udp_decap) -> GRO coalescing -> TUN writes, and the raw
 *       socket's ICMP error queue.
 * After a busy round a thread sleeps DP_LINGER_US and looks again before it
 * polls (wakeup coalescing: see linger() in datapath.c).  After a lone
 * packet the rx thread also sends what the TUN device has by then (the
 * local answer to it: see reply_round()), under the lock of the tx round.
 * Each direction has its own buffers and counters; other threads read the
 * counters with dp_stats_read() (relaxed atomics, one writer at a time each:
 * tx's are written under tx_lock).
 * The soft state (softstate.h) is learned by the threads and moved on by
 * the owner (dp_tick), whom they wake through event_fd.
 */
#ifndef IPIPD_DATAPATH_H
#define IPIPD_DATAPATH_H

#include <linux/if_packet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "dp_uring.h"
#include "hub.h"
#include "offload.h"
#include "packet.h"
#include "softstate.h"

#define DP_BATCH 64			/* packets per recvmmsg/sendmmsg */
#define DP_HEAD OUTER_MAX		/* a tx slot's inner packet starts here, its outer header before */
#define DP_SLOT (DP_HEAD + 0xffff)	/* one outer packet, at most */
#define DP_LINGER_US 50			/* sleep after a busy round before looking again */
#define DP_LINGER_ROUNDS 64		/* ... at most this often before poll() (stop_fd) */

/* A snapshot of the counters (what dp_stats_read() fills in). */
struct dp_stats {
	uint64_t rx_packets, rx_bytes;	/* decapsulated into the TUN device */
	uint64_t tx_packets, tx_bytes;	/* encapsulated onto the underlay */
	uint64_t tx_direct;		/* ... of them sent straight to the next hop */
	uint64_t tx_direct_failed;	/* sends there that failed (then through the kernel) */
	uint64_t drops[PKT_VERDICT_MAX];
	uint64_t ecn_unusual;		/* RFC 6040 (!!!) combinations passed or dropped */
	uint64_t icmp_errors;		/* ICMP errors about our outer packets */
	uint64_t last_icmp_type, last_icmp_code, last_icmp_info;
	uint64_t tun_reads, tun_writes;	/* system calls on the TUN device */
	uint64_t gso_packets;		/* super-packets read and split */
	uint64_t gro_writes;		/* coalesced super-packets written */
	uint64_t gro_csum_bad;		/* segments not merged: checksum wrong */
	uint64_t udp_coalesced;		/* datagrams the kernel coalesced with an earlier one (UDP_GRO) */
	uint64_t udp_gso;		/* datagrams sent in UDP GSO frames */
	uint64_t path_mtu;		/* tunnel MTU now (soft state, RFC 2003 5.1) */
	uint64_t frag_sent;		/* inner packets fragmented to fit it */
	uint64_t icmp_relayed;		/* ICMP errors relayed to inner senders (RFC 2003 4) */
	uint64_t icmp_relay_limited;	/* ... suppressed by the rate limit */
	/* RFC 2003 5 soft state beyond the MTU */
	uint64_t path_ttl;		/* outer TTL the path needs (0: unknown) */
	uint64_t reachable;		/* 0: the exit was reported unreachable lately */
	int64_t unreachable_age;	/* seconds since the last such report, -1: none */
	uint64_t soft_ttl_sent;		/* time exceeded sent: outer TTL below path_ttl */
	uint64_t soft_unreach_sent;	/* host unreachable sent: exit unreachable */
	uint64_t soft_limited;		/* ... suppressed by the rate limit */
	uint64_t frag_needed_limited;	/* frag needed to inner senders suppressed by it */
	int64_t errors_owed;		/* ICMP errors received and not yet answered */
};

/* Counters of one direction: written by its thread only, read by anyone. */
struct dp_counters {
	_Atomic uint64_t packets, bytes;
	_Atomic uint64_t drops[PKT_VERDICT_MAX];
	_Atomic uint64_t syscalls;		/* TUN reads (tx) or writes (rx) */
	_Atomic uint64_t offload;		/* gso_packets (tx) or gro_writes (rx) */
	_Atomic uint64_t csum_bad;		/* rx only */
	_Atomic uint64_t ecn_unusual, icmp_errors; /* rx only */
	_Atomic uint64_t udp_coalesced;		/* rx only: datagrams after the first of a UDP_GRO read */
	_Atomic uint64_t last_icmp_type, last_icmp_code, last_icmp_info;
};

struct dp_ring {
	struct mmsghdr msg[DP_BATCH];
	struct iovec iov[DP_BATCH];
	uint8_t *buf;			/* DP_BATCH slots of DP_SLOT bytes */
};

struct dp_tx {
	struct dp_ring ring;
	uint8_t *in;			/* one TUN read: up to 64 KiB */
	unsigned n;			/* slots filled, not yet sent */
	struct sockaddr_ll ll;		/* the next hop (sll_ifindex 0: none) ... */
	uint32_t ll_seq;		/* ... as of this dp_hop.seq */
	uint16_t ids[DP_BATCH];		/* outer IDs of a flush (ss_take_ids) */
	bool on_pkt[DP_BATCH];		/* each slot goes on the packet socket */
	struct sockaddr_in to[DP_BATCH];	/* Remote = any: each slot's peer ... */
	uint32_t to_peer[DP_BATCH];		/* ... and its counters (hub_peers) */
	struct hub_memo memo;			/* the last lookup of an inner destination */
	uint8_t eth[14];		/* the next hop's Ethernet header (UDP GSO frames) */
	uint8_t *gso;			/* one UDP GSO frame: virtio_net_hdr, Ethernet, IPv4, UDP, datagrams */
	_Atomic uint64_t udp_gso;	/* datagrams sent in UDP GSO frames */
	struct dp_counters c;
	_Atomic uint64_t direct;	/* outer packets sent straight to the next hop */
	_Atomic uint64_t direct_failed;	/* sends on the packet socket that failed */
	_Atomic uint64_t soft_ttl_sent, soft_unreach_sent, soft_limited;
	_Atomic uint64_t frag_needed_limited;	/* frag needed not sent: rate limit */
};

struct dp_rx {
	struct dp_ring ring;
	/* UDP encapsulation: each datagram's source and outer TOS (IP_RECVTOS) */
	struct sockaddr_in from[DP_BATCH];
	union {
		char buf[2 * CMSG_SPACE(sizeof(int))];	/* IP_TOS and UDP_GRO */
		struct cmsghdr align;
	} ctl[DP_BATCH];
	struct gro gro;
	struct iovec gro_iov[2 * GRO_MAX];
	struct hub_memo memo;		/* Remote = any: the last lookup of an inner source */
	uint64_t ecn_log_budget;	/* unusual ECN combinations still to log this minute */
	uint64_t ecn_log_minute;
	struct dp_counters c;
	_Atomic uint64_t icmp_relayed, icmp_relay_limited;
};

/*
 * A round of fewer packets than this goes through the kernel's IP output even
 * then: a lone packet gains nothing from the shorter path, and measured over
 * ping (idle CPUs, 10 ms apart) it came back 20-30 us later when sent on the
 * packet socket.  Batches, where the shorter path pays, go direct.
 */
#define DP_DIRECT_MIN 2

/*
 * Outer packets go straight to the underlay's next hop through a packet
 * socket (no route lookup, no route entry and no netfilter hooks per packet)
 * while dp_set_hop() has named one; otherwise, for a round of fewer than
 * DP_DIRECT_MIN packets, and for the first packet after each dp_set_hop() (so
 * that the kernel's neighbour entry stays in use and is verified again as the
 * kernel does it), through the raw socket and the kernel's IP output.
 * Published by the control thread (seqlock).
 */
struct dp_hop {
	_Atomic uint32_t seq;		/* odd while being written */
	_Atomic int ifindex;		/* 0: none, the kernel's IP output */
	_Atomic uint8_t mac[6];
	_Atomic uint8_t src_mac[6];	/* the interface's own (UDP GSO frames carry it) */
	_Atomic bool kick;		/* send the next packet through the kernel */
	_Atomic bool failed;		/* a send on the packet socket failed */
};

/*
 * Remote = any: a peer's next hop (dp_set_peer_hops), by its index in
 * hub_peers.  The tx thread sends a peer's outer packets through the packet
 * socket while ll names a next hop and no send there failed; as for one
 * Remote, rounds of fewer than DP_DIRECT_MIN packets and a peer's first
 * packet after each dp_kick_peers() go through the kernel's IP output.
 */
struct dp_peer_hop {
	struct sockaddr_ll ll;		/* sll_ifindex 0: through the kernel */
	uint32_t kicked;		/* tx: the dp->peer_kick it honoured */
	_Atomic bool failed;		/* tx: a send there failed (until the next table) */
};

struct datapath {
	/* the settings, swapped whole by a reload (dp_set_params): read once a batch */
	const struct ipip_params *_Atomic p;
	unsigned mtu;			/* the device MTU: the soft state's ceiling */
	struct softstate ss;		/* RFC 2003 5: path MTU, TTL, reachability, recent IDs */
	_Atomic uint32_t own_ids;	/* the outer ID counter, unless the fast path's is used */
	_Atomic uint64_t frag_sent;
	/* liveness: CLOCK_MONOTONIC ms of the last packet from and to Remote (0: never) */
	_Atomic uint64_t last_rx_ms, last_tx_ms;
	_Atomic bool route_check;	/* tx: the route's MTU went down (EMSGSIZE) */
	/* RemotePort = learn: the far end's source port and address, as last seen (0: none yet) */
	_Atomic uint32_t learned_port, learned_addr;
	_Atomic uint64_t port_changes;	/* ... how often it changed */
	uint64_t port_log_s;		/* rx: when a change was last logged */
	unsigned route_mtu;		/* the owner's: the route's MTU as last told (0: not yet) */
	int event_fd;			/* eventfd: the soft state moved, for the owner */
	int tun_fd, raw_fd;
	int gso_fd;			/* UDP GSO frames: packet socket with virtio_net_hdr (-1: none) */
	int udp_fd;			/* UDP encapsulation: the socket on Port (-1: none) */
	int tx_fd;			/* send-only raw socket (or raw_fd) */
	int pkt_fd;			/* send-only packet socket (-1: none) */
	struct dp_hop hop;
	bool vnet;			/* the TUN device has IFF_VNET_HDR */
	long linger_ns;			/* coalescing delay of the threads (0: off) */
	unsigned gro_flags;		/* GRO_TCP, GRO_UDP: what we may write */
	struct sockaddr_in remote;
	struct dp_tx tx;
	pthread_mutex_t tx_lock;	/* held for a round of tx (see reply_round()) */
	bool tx_lock_made;
	/* Remote = any: the routes into the device (hub.h), replaced whole by
	 * dp_set_hub() under tx_lock and rx_lock (held for a round of rx) */
	struct hub_table *hub;
	uint64_t hub_gen;		/* ... counted from 1: which table a memo is of */
	struct hub_peers *peers;	/* ... and the peers' counters (the owner adds peers) */
	/* ... and their next hops (HUB_PEERS_MAX, by peers' index; NULL: none), replaced
	 * whole by dp_set_peer_hops() under tx_lock */
	struct dp_peer_hop *peer_hops;
	_Atomic uint32_t peer_kick;	/* bumped by dp_kick_peers() */
	pthread_mutex_t rx_lock;
	bool rx_lock_made;
	struct dp_rx rx;
	int stop_fd;			/* eventfd: the threads stop when it is readable ... */
	pthread_t tx_thread, rx_thread;
	bool tx_started, rx_started;
	/* ... and then end (quit), or wait until resumed (pause: dp_replace_fds),
	 * counted in parked; all under park_lock */
	pthread_mutex_t park_lock;
	pthread_cond_t park_cond;
	bool park_made;
	bool quit, pause;
	unsigned parked;
	/* TUN reads through io_uring (dp_uring.h), by the tx thread while uring_on;
	 * else read(), for the reason in uring_why */
	struct dp_uring *uring;
	_Atomic bool uring_on;
	const char *uring_why;
	bool inited;			/* dp_free() on a zeroed struct does nothing */
};

/* The datapath's descriptors, made by the privileged parent (dp_prepare). */
struct dp_fds {
	int tun, raw;		/* the TUN device; the raw socket (bound to Local, connected to Remote) */
	int udp;		/* UDP encapsulation: the UDP socket bound to Local and Port (else -1);
				 * the raw socket (of protocol UDP) then takes the ICMP errors only */
	int tx;			/* send-only raw socket (-1: the raw socket sends) */
	int pkt;		/* send-only packet socket (-1: none) */
	int gso;		/* ... for UDP GSO frames (-1: none) */
	bool vnet;		/* the TUN device has IFF_VNET_HDR (offloads switched on) */
	unsigned gro_flags;	/* what may be written coalesced */
	/* dp_init only: the ring for TUN reads, made before the sandbox (NULL: read(),
	 * for the reason uring_why) */
	struct dp_uring *uring;
	const char *uring_why;
};

/*
 * The parent, with its privileges: the send sockets for the TUN device
 * tun_fd and raw socket raw_fd (a packet socket too where direct), and the
 * device's offloads.  0 or -errno.
 */
int dp_prepare(struct dp_fds *f, int tun_fd, int raw_fd, bool direct, bool gso);

/*
 * The datapath process, before its sandbox: the ring for TUN reads (into
 * dp_fds.uring), or NULL and why not (IPIPD_URING=off among the reasons).
 */
struct dp_uring *dp_ring_new(const char **why);

/*
 * The datapath process: buffers for the descriptors f (now the datapath's,
 * closed by dp_free).  lim: the soft state's limits (lim->mtu is the device
 * MTU); ids: the outer ID counter to share (the fast path's), or NULL for
 * one of the datapath's own.
 */
int dp_init(struct datapath *dp, const struct ipip_params *p, const struct dp_fds *f,
	    const struct ss_limits *lim, _Atomic uint32_t *ids);

/* The settings now (one acquire load: a batch reads them once). */
static inline const struct ipip_params *dp_params(struct datapath *dp)
{
	return atomic_load_explicit(&dp->p, memory_order_acquire);
}

/*
 * A reload: new settings p (kept by the caller until dp_free, as the threads
 * may still read the old ones for a batch), a new Remote (the raw socket is
 * connected to it again) and device MTU.  From the owner thread.
 */
int dp_set_params(struct datapath *dp, const struct ipip_params *p, unsigned mtu);

/*
 * New descriptors (a new Local needs a new raw socket): the threads pause
 * (the tx thread's io_uring read of the TUN device cancelled), the old
 * descriptors are closed (the TUN device's if f->tun is another), the
 * threads go on with the new ones; counters and soft state stay.  The same
 * threads: the ring's submitter is the tx thread.  0 or -errno.
 */
int dp_replace_fds(struct datapath *dp, const struct dp_fds *f);

/*
 * The next hop towards Remote for the packet socket: ifindex 0 sends through
 * the kernel's IP output.  From the control thread, every second or so (each
 * call sends one packet through the kernel).  dp_hop_failed() tells whether a
 * send on the packet socket failed since the last call.
 */
void dp_set_hop(struct datapath *dp, int ifindex, const uint8_t mac[6], const uint8_t src_mac[6]);
bool dp_hop_failed(struct datapath *dp);

/*
 * The owner of the soft state (the thread that also publishes it to the fast
 * path), every SS_TICK_MS and whenever dp->event_fd is readable: reads the
 * event, moves the soft state on (ss_tick: expiry, recent IDs; a raised
 * path MTU is lowered to the route's again).  Returns the SS_* flags of what
 * moved; SS_ROUTE: a send was too big for the route, the caller should ask
 * for its MTU (dp_route_mtu).
 */
unsigned dp_tick(struct datapath *dp, bool timer);

/*
 * The owner: the MTU of the route to Remote (configured or its device's,
 * never learned from ICMP) is outer: the path MTU never exceeds it.  True
 * if that lowered it.
 */
bool dp_route_mtu(struct datapath *dp, unsigned outer);
/*
 * Encapsulate the inner packet inner[0..len) (at most ICMP_ECHO_MAX bytes:
 * a keepalive) and send it to Remote, from any thread.  0 or -errno.
 */
int dp_send_inner(struct datapath *dp, const uint8_t *inner, size_t len);

/*
 * Remote = any: the routes into the device now (the datapath's, freed by the
 * next call or dp_free), from the owner.  Packets of routes it does not hold
 * go to their inner destination, as the kernel's remote any device sends
 * those of a route without a gateway.
 */
void dp_set_hub(struct datapath *dp, struct hub_table *t);

/*
 * Remote = any: the peers' next hops now, hops[HUB_PEERS_MAX] by index in
 * dp->peers (the datapath's, freed by the next call or dp_free; NULL: all
 * through the kernel), from the owner.  dp_kick_peers(), every half second
 * or so: each peer's next packet goes through the kernel (its neighbour entry
 * stays in use).  dp_peer_hop(): the interface index peer idx goes direct
 * to now, 0 through the kernel (the owner's view).
 */
void dp_set_peer_hops(struct datapath *dp, struct dp_peer_hop *hops);
void dp_kick_peers(struct datapath *dp);
int dp_peer_hop(struct datapath *dp, uint32_t idx);

/* Stops the threads if they run, then frees everything. */
void dp_free(struct datapath *dp);

/* Start one thread per direction; returns 0 or -errno. */
int dp_start(struct datapath *dp);
/* Stop and join the threads (idempotent). */
void dp_stop(struct datapath *dp);

/*
 * RemotePort = learn: the address the far end's packets come from now, when
 * it is not Remote (the owner tells the parent, which moves Remote there);
 * else 0.
 */
uint32_t dp_remote_moved(struct datapath *dp);

/* Where UDP packets go now: RemotePort, or the port learned (RemotePort = learn). */
uint16_t dp_remote_port(const struct datapath *dp);

/* A consistent-enough copy of the counters, from any thread. */
void dp_stats_read(const struct datapath *dp, struct dp_stats *out);

/*
 * The work of each direction, for a caller that drives the datapath itself
 * (single-threaded, from a poll loop) instead of dp_start().
 */
/*
 * Move what the TUN device has (up to a few batches) to the underlay; returns
 * packets read.  Through io_uring once the tx thread has enabled its ring:
 * from that thread only.
 */
int dp_tun_to_net(struct datapath *dp, bool eager);
/* Move up to one batch from the underlay into the TUN device; returns packets read. */
int dp_net_to_tun(struct datapath *dp);
/* Drain ICMP errors about our outer packets (MSG_ERRQUEUE). */
void dp_read_errors(struct datapath *dp);

#endif
