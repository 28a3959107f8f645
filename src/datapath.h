/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The userspace datapath: TUN device <-> raw protocol-4 socket.
 *
 * Two directions, each owned by one thread once dp_start() has run:
 *   tx: TUN reads (super-packets split into MTU-sized segments when the device
 *       has offloads on) -> ipip_encap per segment -> sendmmsg on the raw socket;
 *   rx: recvmmsg on the raw socket -> ipip_decap -> GRO coalescing -> TUN writes,
 *       and the socket's ICMP error queue.
 * After a busy round a thread sleeps DP_LINGER_US and looks again before it
 * polls (wakeup coalescing: see linger() in datapath.c).
 * Each direction has its own buffers and counters; other threads read the
 * counters with dp_stats_read() (relaxed atomics, single writer each).
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

#include "offload.h"
#include "packet.h"

#define DP_BATCH 64			/* packets per recvmmsg/sendmmsg */
#define DP_SLOT (IPV4_HLEN + 0xffff)	/* one outer packet, at most */
#define DP_LINGER_US 50			/* sleep after a busy round before looking again */
#define DP_LINGER_ROUNDS 64		/* ... at most this often before poll() (stop_fd) */

/* A snapshot of the counters (what dp_stats_read() fills in). */
struct dp_stats {
	uint64_t rx_packets, rx_bytes;	/* decapsulated into the TUN device */
	uint64_t tx_packets, tx_bytes;	/* encapsulated onto the underlay */
	uint64_t tx_direct;		/* ... of them sent straight to the next hop */
	uint64_t drops[PKT_VERDICT_MAX];
	uint64_t ecn_unusual;		/* RFC 6040 (!!!) combinations passed or dropped */
	uint64_t icmp_errors;		/* ICMP errors about our outer packets */
	uint64_t last_icmp_type, last_icmp_code, last_icmp_info;
	uint64_t tun_reads, tun_writes;	/* system calls on the TUN device */
	uint64_t gso_packets;		/* super-packets read and split */
	uint64_t gro_writes;		/* coalesced super-packets written */
	uint64_t gro_csum_bad;		/* segments not merged: checksum wrong */
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
};

/* Counters of one direction: written by its thread only, read by anyone. */
struct dp_counters {
	_Atomic uint64_t packets, bytes;
	_Atomic uint64_t drops[PKT_VERDICT_MAX];
	_Atomic uint64_t syscalls;		/* TUN reads (tx) or writes (rx) */
	_Atomic uint64_t offload;		/* gso_packets (tx) or gro_writes (rx) */
	_Atomic uint64_t csum_bad;		/* rx only */
	_Atomic uint64_t ecn_unusual, icmp_errors; /* rx only */
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
	uint16_t ip_id;			/* outer ID of the last packet (tx_set_ids) */
	struct dp_counters c;
	_Atomic uint64_t direct;	/* outer packets sent straight to the next hop */
	_Atomic uint64_t soft_ttl_sent, soft_unreach_sent, soft_limited;
};

struct dp_rx {
	struct dp_ring ring;
	struct gro gro;
	struct iovec gro_iov[2 * GRO_MAX];
	uint64_t ecn_log_budget;	/* unusual ECN combinations still to log this minute */
	uint64_t ecn_log_minute;
	struct dp_counters c;
	_Atomic uint64_t icmp_relayed, icmp_relay_limited;
};

/*
 * ICMP errors ipipd sends itself (RFC 2003 4 relays from rx, soft state
 * errors from tx) share one rate limit: a token bucket kept as the time at
 * which it would be full again (GCRA), updated with compare-and-swap.
 */
#define DP_ICMP_RELAY_RATE 10		/* ICMP errors per second */
#define DP_ICMP_RELAY_BURST 20

/*
 * RFC 2003 5 soft state beyond the MTU.  Time exceeded about an outer packet
 * teaches the outer TTL the path needs (one more than that packet had);
 * destination unreachable about one marks the exit unreachable.  A packet
 * that violates the state is still sent, and its sender gets an ICMP error.
 */
#define DP_PATH_TTL_SECONDS 600		/* learned path TTL forgotten after (as the PMTU) */
#define DP_UNREACH_SECONDS 30		/* exit unreachable for, after the last error */
#define DP_SOFT_TTL 1u
#define DP_SOFT_UNREACH 2u

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
	_Atomic bool kick;		/* send the next packet through the kernel */
	_Atomic bool failed;		/* a send on the packet socket failed */
};

/* Path MTU soft state (RFC 2003 5.1, RFC 4459): lowered at once, raised again later. */
#define DP_PMTU_FLOOR 552u		/* outer: forged tiny "too big" are ignored below */
#define DP_PMTU_PROBE_SECONDS 600	/* as the kernel's PMTU exceptions expire */

struct datapath {
	const struct ipip_params *p;
	unsigned mtu;			/* the device MTU: the soft state's ceiling */
	_Atomic unsigned pmtu;		/* inner MTU that fits the path now */
	_Atomic uint64_t pmtu_lowered;	/* CLOCK_MONOTONIC seconds of the last decrease */
	_Atomic uint64_t frag_sent;
	_Atomic unsigned soft;		/* DP_SOFT_*: the one load per packet when clear */
	_Atomic unsigned path_ttl;	/* valid while DP_SOFT_TTL */
	_Atomic uint64_t path_ttl_at;	/* CLOCK_MONOTONIC seconds it was last learned */
	_Atomic uint64_t unreach_at;	/* ... of the last "exit unreachable" (0: never) */
	_Atomic uint64_t icmp_tat_ns;	/* shared ICMP rate limit (GCRA) */
	int pmtu_fd;			/* UDP socket connected to Remote: IP_MTU */
	int tun_fd, raw_fd;
	int tx_fd;			/* send-only raw socket (or raw_fd) */
	int pkt_fd;			/* send-only packet socket (-1: none) */
	struct dp_hop hop;
	bool vnet;			/* the TUN device has IFF_VNET_HDR */
	long linger_ns;			/* coalescing delay of the threads (0: off) */
	unsigned gro_flags;		/* GRO_TCP, GRO_UDP: what we may write */
	struct sockaddr_in remote;
	struct dp_tx tx;
	struct dp_rx rx;
	int stop_fd;			/* eventfd: the threads end when it is readable */
	pthread_t tx_thread, rx_thread;
	bool tx_started, rx_started;
	bool inited;			/* dp_free() on a zeroed struct does nothing */
	/* called (from a datapath thread) when the soft state changed */
	void (*state_changed)(struct datapath *dp, void *arg);
	void *state_arg;
};

/*
 * Set up buffers for the TUN device tun_fd and the raw socket raw_fd.  If the
 * device was opened with IFF_VNET_HDR, its offloads are switched on here.
 */
int dp_init(struct datapath *dp, const struct ipip_params *p, int tun_fd, int raw_fd);

/*
 * The next hop towards Remote for the packet socket: ifindex 0 sends through
 * the kernel's IP output.  From the control thread, every second or so (each
 * call sends one packet through the kernel).  dp_hop_failed() tells whether a
 * send on the packet socket failed since the last call.
 */
void dp_set_hop(struct datapath *dp, int ifindex, const uint8_t mac[6]);
bool dp_hop_failed(struct datapath *dp);

/* The device MTU: the path MTU soft state starts there and never exceeds it. */
void dp_set_mtu(struct datapath *dp, unsigned mtu);
/* Stops the threads if they run, then frees everything. */
void dp_free(struct datapath *dp);

/* Start one thread per direction; returns 0 or -errno. */
int dp_start(struct datapath *dp);
/* Stop and join the threads (idempotent). */
void dp_stop(struct datapath *dp);

/* A consistent-enough copy of the counters, from any thread. */
void dp_stats_read(const struct datapath *dp, struct dp_stats *out);

/*
 * The work of each direction, for a caller that drives the datapath itself
 * (single-threaded, from a poll loop) instead of dp_start().
 */
/* Move what the TUN device has (up to a few batches) to the underlay; returns packets read. */
int dp_tun_to_net(struct datapath *dp);
/* Move up to one batch from the underlay into the TUN device; returns packets read. */
int dp_net_to_tun(struct datapath *dp);
/* Drain ICMP errors about our outer packets (MSG_ERRQUEUE). */
void dp_read_errors(struct datapath *dp);

#endif
